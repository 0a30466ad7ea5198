// What a real-network driver needs: the node state machine, its events and outputs, the wire
// schemas with their bounds, and the timing defaults. The cores behind ClusterNode (table,
// detector, gossip, election) are exported from their own modules for tests and tools.
export { ClusterNode, bootState, type ClusterEvent, type ClusterNodeConfig, type ClusterNodeInit } from './node.js';
export type { Note, Outbound, PersistentState, StepOutput, TimerId, TimerRequest } from './output.js';
export { DEFAULT_TIMING, resolveTiming, deadBoundMs, type ClusterTiming } from './timing.js';
export type { Random } from './random.js';
export * from './messages.js';
export {
  ASSIGNERS_MAX,
  GOSSIP_DIGESTS_PER_MESSAGE_MAX,
  GOSSIP_ENTRIES_PER_MESSAGE_MAX,
  GOSSIP_NEWS_PER_MESSAGE_MAX,
  LANGUAGE_NAME_LENGTH_MAX,
  LANGUAGES_PER_NODE_MAX,
  MONITOR_HEARTBEAT_WORKERS_MAX,
  MONITORS_MAX,
  REQUEST_ID_LENGTH_MAX,
} from '../protocol/bounds.js';
