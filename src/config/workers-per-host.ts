import { availableParallelism } from 'node:os';

// Apart from schema.ts (and its zod; the config is taken by its shape, not schema.ts's type, so the
// two do not import each other) so that a Worker's heartbeat thread, which resolves Worker
// addresses (AddressBook), loads no zod.

/** The most Worker processes one PC may run: past any lab PC's core count. */
export const WORKERS_PER_HOST_LIMIT = 256;

/** Worker processes this PC should run: "cores" resolves to its own core count. */
export function workersPerHost(config: { workers: { perHostMax: number | 'cores' } }, coresCount = availableParallelism()): number {
  const perHostMax = config.workers.perHostMax;
  return perHostMax === 'cores' ? Math.min(coresCount, WORKERS_PER_HOST_LIMIT) : perHostMax;
}
