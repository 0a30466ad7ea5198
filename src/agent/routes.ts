import type { ClusterMessage } from '../cluster/messages.js';
import type { GatewayDataMessage, GatewayFailoverMessage } from '../cluster/gateway-messages.js';
import type { JudgeSyncMessage } from '../judge/sync-messages.js';
import type { AgentMessage } from './agent-messages.js';
import type { WireMessage } from './wire-messages.js';

/**
 * Where a message a node receives goes, by its type: one row per wire message type, checked by the
 * compiler (a new message type does not build until it has a route). The agent switches on the
 * route (agent.ts: dispatch); a newcomer adding a message adds its row here.
 */
export type Route =
  /** The node's cluster core (membership, gossip, elections, placement queries). */
  | 'cluster'
  /** The Gateway standby protocol, which every agent runs whatever its role. */
  | 'gateway_standby'
  /** The serving Gateway's data for its standby (a Jobe file). */
  | 'gateway_data'
  /** The standby's copy of the judge's problems and of its journal (submissions, batches, results). */
  | 'judge_sync'
  /** For a Gateway: its API where this node serves it or holds it warm, else the role's service
   * (an Assigner gets run_output from its Workers, the Gateway's API gets it from Assigners). */
  | 'gateway_else_role'
  /** The Gateway asking this node (a Monitor) for its table: the agent answers. */
  | 'table_request'
  /** The role's service (Assigner, Worker host), or the one draining while the role changes. */
  | 'role';

export const MESSAGE_ROUTES = {
  heartbeat: 'cluster',
  heartbeat_ack: 'cluster',
  gossip_push: 'cluster',
  gossip_pull: 'cluster',
  gossip_entries: 'cluster',
  monitor_heartbeat: 'cluster',
  least_loaded_assigner_request: 'cluster',
  // The Monitors' answer is for the Gateway's service, not its cluster core.
  least_loaded_assigner_reply: 'gateway_else_role',
  vote_request: 'cluster',
  vote_reply: 'cluster',
  leader_heartbeat: 'cluster',
  leader_heartbeat_reply: 'cluster',
  order_role: 'cluster',
  hydra_vote_request: 'cluster',
  hydra_vote_reply: 'cluster',
  hydra_won: 'cluster',
  hydra_won_ack: 'cluster',
  hydra_promote: 'cluster',
  monitor_announce: 'cluster',
  run_submit: 'role',
  run_input: 'role',
  run_eof: 'role',
  run_kill: 'role',
  run_queued: 'gateway_else_role',
  run_started: 'gateway_else_role',
  run_refused: 'gateway_else_role',
  run_restart: 'gateway_else_role',
  run_output: 'gateway_else_role',
  run_exit: 'gateway_else_role',
  run_evicted: 'role',
  run_attach: 'role',
  run_attached: 'gateway_else_role',
  offer: 'role',
  run_ack: 'role',
  offer_reply: 'role',
  worker_load: 'role',
  run_claim: 'role',
  replica_hold: 'role',
  replica_placed: 'role',
  replica_output: 'role',
  replica_exit: 'role',
  replica_restart: 'role',
  replica_handoff: 'role',
  replica_ack: 'role',
  run_takeover: 'gateway_else_role',
  table_request: 'table_request',
  table_reply: 'gateway_else_role',
  gw_heartbeat: 'gateway_standby',
  gw_heartbeat_ack: 'gateway_standby',
  gw_standby: 'gateway_standby',
  gw_claim: 'gateway_standby',
  gw_claim_reply: 'gateway_standby',
  gw_epoch: 'gateway_standby',
  gw_jobe_file: 'gateway_data',
  judge_problems_ask: 'judge_sync',
  judge_problems: 'judge_sync',
  judge_problem_ask: 'judge_sync',
  judge_problem_part: 'judge_sync',
  judge_log_ask: 'judge_sync',
  judge_log: 'judge_sync',
} as const satisfies { readonly [T in WireMessage['type']]: Route };

type TypesRouted<R extends Route> = { [T in keyof typeof MESSAGE_ROUTES]: (typeof MESSAGE_ROUTES)[T] extends R ? T : never }[keyof typeof MESSAGE_ROUTES];

/** A message with its route, narrowed: what each branch of the agent's switch gets. */
export type Routed =
  | { route: 'cluster'; msg: ClusterMessage }
  | { route: 'gateway_standby'; msg: GatewayFailoverMessage }
  | { route: 'gateway_data'; msg: GatewayDataMessage }
  | { route: 'judge_sync'; msg: JudgeSyncMessage }
  | { route: 'gateway_else_role'; msg: GatewayBoundMessage }
  | { route: 'table_request'; msg: Extract<AgentMessage, { type: 'table_request' }> }
  | { route: 'role'; msg: RoleMessage };

/** What a Gateway receives (its API's backend handles exactly these). */
export type GatewayBoundMessage = Extract<WireMessage, { type: TypesRouted<'gateway_else_role'> }>;
/** What a role's service receives: its own messages, and a Gateway's when this node has no Gateway API. */
export type RoleMessage = Extract<WireMessage, { type: TypesRouted<'role' | 'gateway_else_role'> }>;

/**
 * The message with its route. The table's type says which types a route has; the casts below are
 * only TypeScript not relating a looked-up route to the message's own type (routes.test.ts checks
 * every row against the message families' schemas).
 */
export function routeOf(msg: WireMessage): Routed {
  return { route: MESSAGE_ROUTES[msg.type], msg } as Routed;
}
