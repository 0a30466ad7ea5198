import { z } from 'zod';
import { NodeNameSchema } from './messages.js';

// Messages of the Gateway standby protocol (gateway-failover.ts). They ride the same
// authenticated cluster links as everything else; every field is bounded.

const Counter = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Epochs start at 1 (the configured Gateway's); a takeover is epoch + 1. */
const Epoch = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** Who holds which Gateway epoch. */
export const GatewayRecordSchema = z.object({ epoch: Epoch, holder: NodeNameSchema });

export const GatewayFailoverMessageSchema = z.discriminatedUnion('type', [
  // Active (or confirming) Gateway -> its standby, or every Monitor while it knows no standby.
  z.object({ type: z.literal('gw_heartbeat'), from: NodeNameSchema, epoch: Epoch }),
  // Monitor -> Gateway: the newest epoch this Monitor knows held, and the current standby.
  z.object({ type: z.literal('gw_heartbeat_ack'), from: NodeNameSchema, record: GatewayRecordSchema, standby: NodeNameSchema.nullable() }),
  // Monitor leader -> every Monitor: who is standby in this term (and the newest record it knows).
  z.object({ type: z.literal('gw_standby'), from: NodeNameSchema, term: Counter, standby: NodeNameSchema, record: GatewayRecordSchema }),
  // Standby -> every Monitor: grant me this epoch (the Gateway of the epoch before was silent).
  z.object({ type: z.literal('gw_claim'), from: NodeNameSchema, epoch: Epoch, term: Counter }),
  z.object({ type: z.literal('gw_claim_reply'), from: NodeNameSchema, epoch: Epoch, granted: z.boolean(), record: GatewayRecordSchema }),
  // New Gateway -> every Monitor and the old Gateway: the epoch is mine now.
  z.object({ type: z.literal('gw_epoch'), from: NodeNameSchema, record: GatewayRecordSchema }),
]);

export type GatewayRecord = z.infer<typeof GatewayRecordSchema>;
export type GatewayFailoverMessage = z.infer<typeof GatewayFailoverMessageSchema>;
