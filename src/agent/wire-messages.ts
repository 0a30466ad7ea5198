import { z } from 'zod';
import { ClusterMessageSchema, type ClusterMessage } from '../cluster/messages.js';
import { RunMessageSchema, RunWireSchema, type RunMessage } from '../protocol/run-messages.js';
import { runMessageFromWire, runMessageToWire } from '../protocol/run-wire.js';
import type { WireForm } from '../wire/index.js';
import { withHandChecks } from '../cluster/message-checks.js';
import { AgentMessageSchema, type AgentMessage } from './agent-messages.js';
import { GatewayDataMessageSchema, GatewayFailoverMessageSchema, type GatewayDataMessage, type GatewayFailoverMessage } from '../cluster/gateway-messages.js';
import { JudgeSyncMessageSchema, type JudgeSyncMessage } from '../judge/sync-messages.js';

/**
 * Everything that travels between node agents: the cluster protocols, runs, and agent queries —
 * Gateway standby protocol — one discriminated union, so a message is checked against its own type's schema only (run output
 * is the hot path).
 */
export const WireMessageSchema = z.discriminatedUnion('type', [
  ...ClusterMessageSchema.options,
  ...RunMessageSchema.options,
  ...AgentMessageSchema.options,
  ...GatewayFailoverMessageSchema.options,
  ...GatewayDataMessageSchema.options,
  ...JudgeSyncMessageSchema.options,
]);
export type WireMessage = ClusterMessage | RunMessage | AgentMessage | GatewayFailoverMessage | GatewayDataMessage | JudgeSyncMessage;

/** The same union as it travels: run output with its chunks packed (see protocol/run-messages.ts). */
const WireFormSchema = z.discriminatedUnion('type', [
  ...ClusterMessageSchema.options,
  ...RunWireSchema.options,
  ...AgentMessageSchema.options,
  ...GatewayFailoverMessageSchema.options,
  ...GatewayDataMessageSchema.options,
  ...JudgeSyncMessageSchema.options,
]);

/**
 * What node agents' links check and encode messages with: the messages of an idle cluster's steady
 * traffic (heartbeats, acks, gossip, the Gateway standby's heartbeats) by hand, as their schemas
 * would (cluster/message-checks.ts), every other type by the zod union.
 */
export const WireMessageForm: WireForm<WireMessage> = {
  schema: withHandChecks(WireFormSchema),
  toWire: (msg) => (isRunMessage(msg) ? runMessageToWire(msg) : msg),
  fromWire: (wire) => {
    const msg = wire as z.infer<typeof WireFormSchema>;
    return RUN_TYPES.has(msg.type) ? runMessageFromWire(msg as z.infer<typeof RunWireSchema>) : (msg as WireMessage);
  },
};

const CLUSTER_TYPES = new Set<string>(ClusterMessageSchema.options.map((o) => o.shape.type.value));
const RUN_TYPES = new Set<string>(RunMessageSchema.options.map((o) => o.shape.type.value));

export function isClusterMessage(m: WireMessage): m is ClusterMessage {
  return CLUSTER_TYPES.has(m.type);
}

export function isRunMessage(m: WireMessage): m is RunMessage {
  return RUN_TYPES.has(m.type);
}
