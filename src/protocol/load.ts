import { z } from 'zod';
import { SLOTS_MAX, ZERO_LOAD as ZERO } from './bounds.js';

// A node's load: what Monitors keep per node, a Worker tells its Assigners, and the Gateway shows.

export { SLOTS_MAX };
/** PSI "some avg10" share of time stalled, as a fraction. */
const FractionSchema = z.number().min(0).max(1);

export const LoadSchema = z.object({
  psiCpu: FractionSchema,
  psiMemory: FractionSchema,
  psiIo: FractionSchema,
  slotsFree: z.number().int().min(0).max(SLOTS_MAX),
  slotsBusy: z.number().int().min(0).max(SLOTS_MAX),
  /** An Assigner's runs waiting for a Worker (the leader adds Worker hosts when it stays high). */
  queued: z.number().int().min(0).max(1_000_000).optional(),
});
export type Load = z.infer<typeof LoadSchema>;

/** A Worker's load as it tells an Assigner directly (the Monitors' copy is up to a heartbeat old). */
export const WorkerLoadWireSchema = LoadSchema.omit({ queued: true });
export type WorkerLoadWire = z.infer<typeof WorkerLoadWireSchema>;

export const ZERO_LOAD: Load = ZERO;
