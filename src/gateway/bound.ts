import type { AgentMessage } from '../agent/agent-messages.js';
import type { ClusterMessage } from '../cluster/messages.js';
import type { RunMessage } from '../protocol/run-messages.js';

/**
 * What a node serving the Gateway API hands to it (the agent routes by this list; handle() takes
 * exactly these, so a type added to one and not the other does not compile).
 */
export const GATEWAY_BOUND_TYPES = ['least_loaded_assigner_reply', 'table_reply', 'run_queued', 'run_started', 'run_output', 'run_exit', 'run_refused', 'run_restart', 'run_attached', 'run_takeover'] as const;
const GATEWAY_BOUND = new Set<string>(GATEWAY_BOUND_TYPES);
export type GatewayBoundMessage = Extract<RunMessage | AgentMessage | ClusterMessage, { type: (typeof GATEWAY_BOUND_TYPES)[number] }>;

/** Messages for a Gateway: its API's, wherever this node serves it. */
export function isGatewayBound(msg: { type: string }): msg is GatewayBoundMessage {
  return GATEWAY_BOUND.has(msg.type);
}
