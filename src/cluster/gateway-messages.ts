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
  // Active Gateway -> its standby, or every live Monitor while it knows none.
  z.object({ type: z.literal('gw_heartbeat'), from: NodeNameSchema, epoch: Epoch }),
  // Monitor -> Gateway: the newest epoch this Monitor knows held, the current standby, its term.
  z.object({ type: z.literal('gw_heartbeat_ack'), from: NodeNameSchema, record: GatewayRecordSchema, standby: NodeNameSchema.nullable(), term: Counter }),
  // Monitor leader -> every Monitor: who is standby in this term (and the newest record it knows).
  z.object({ type: z.literal('gw_standby'), from: NodeNameSchema, term: Counter, standby: NodeNameSchema, record: GatewayRecordSchema }),
  // -> every Monitor: grant me this epoch. From a standby whose Gateway fell silent (a new epoch),
  // or from a Gateway (re)starting, for the epoch it holds, before it serves.
  z.object({ type: z.literal('gw_claim'), from: NodeNameSchema, epoch: Epoch, term: Counter }),
  // fence: the newest epoch this Monitor granted (null: none), so a claimer can go past it.
  z.object({
    type: z.literal('gw_claim_reply'),
    from: NodeNameSchema,
    epoch: Epoch,
    granted: z.boolean(),
    record: GatewayRecordSchema,
    fence: GatewayRecordSchema.nullable(),
    term: Counter,
  }),
  // New Gateway -> every Monitor and the old Gateway: the epoch is mine now.
  z.object({ type: z.literal('gw_epoch'), from: NodeNameSchema, record: GatewayRecordSchema }),
]);

/** Largest Jobe file the serving Gateway copies to its standby (bigger ones: CodeRunner re-uploads on 404). */
export const GATEWAY_FILE_BYTES_MAX = 512 * 1024;

/**
 * The Gateway API's own data for its standby, beside the protocol: a Jobe file a client stored
 * (content id as the client named it), so a takeover still has it.
 */
export const GatewayDataMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('gw_jobe_file'),
    from: NodeNameSchema,
    id: z.string().min(1).max(128),
    data: z.instanceof(Uint8Array).refine((d) => d.length <= GATEWAY_FILE_BYTES_MAX, `file over ${GATEWAY_FILE_BYTES_MAX} bytes`),
  }),
]);
export type GatewayDataMessage = z.infer<typeof GatewayDataMessageSchema>;

export type GatewayRecord = z.infer<typeof GatewayRecordSchema>;
export type GatewayFailoverMessage = z.infer<typeof GatewayFailoverMessageSchema>;
