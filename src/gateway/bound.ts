import { MESSAGE_ROUTES, type GatewayBoundMessage } from '../agent/routes.js';

export type { GatewayBoundMessage } from '../agent/routes.js';

/**
 * What a node serving the Gateway API hands to it: the routing table's 'gateway_else_role' rows
 * (agent/routes.ts), which also define the type handle() takes, so the two cannot drift apart.
 */
export const GATEWAY_BOUND_TYPES: ReadonlyArray<GatewayBoundMessage['type']> = (Object.keys(MESSAGE_ROUTES) as Array<keyof typeof MESSAGE_ROUTES>).filter(
  (t): t is GatewayBoundMessage['type'] => MESSAGE_ROUTES[t] === 'gateway_else_role',
);
const GATEWAY_BOUND = new Set<string>(GATEWAY_BOUND_TYPES);

/** Messages for a Gateway: its API's, wherever this node serves it. */
export function isGatewayBound(msg: { type: string }): msg is GatewayBoundMessage {
  return GATEWAY_BOUND.has(msg.type);
}
