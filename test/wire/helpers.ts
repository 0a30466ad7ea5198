import { z } from 'zod';
import type { WireLogger } from '../../src/wire/connection.js';

/** A small message union standing in for the cluster protocol. */
export const testSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ping'), n: z.int().nonnegative() }),
  z.strictObject({ type: z.literal('text'), body: z.string() }),
]);
export type TestMsg = z.infer<typeof testSchema>;

export const SECRET = 'test-cluster-secret-0123456789-abcdefghijklmnop';
export const OTHER_SECRET = 'another-cluster-secret-0123456789-abcdefghijkl';

export interface CapturingLogger extends WireLogger {
  warnings: Array<{ fields: object; message: string }>;
}

export function capturingLogger(): CapturingLogger {
  const warnings: CapturingLogger['warnings'] = [];
  return { warnings, warn: (fields, message) => warnings.push({ fields, message }), debug: () => {} };
}

/** Resolves when check() holds, polling; fails after timeoutMs so a broken test cannot hang. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const POLL_MS = 10;
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
