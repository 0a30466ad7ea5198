import type { LabConfig } from '../config/schema.js';

/**
 * The lab config a Worker process gets from its host on stdin (`worker-proc --config-stdin`): the
 * host loaded and checked it in full with the config loader (zod and YAML), and writes it as one
 * line of JSON; a Worker process loads neither (~8 MB per isolate for zod). What arrives is checked
 * here only for the fields a Worker process and its heartbeat thread read — a host of another
 * version, or a bug, then fails at start with the field named, not later with an undefined.
 */

/** The most bytes of config a Worker process reads from its host (a 3,000-node lab is ~500 KB). */
export const WORKER_CONFIG_BYTES_MAX = 16 * 1024 * 1024;

type Need = 'string' | 'number' | 'map' | 'list';

const FIELDS: Array<[string, Need]> = [
  ['cluster', 'map'],
  ['cluster.name', 'string'],
  ['cluster.secret', 'string'],
  ['nodes', 'list'],
  ['workers', 'map'],
  ['workers.slotsPerWorker', 'number'],
  ['psi', 'map'],
  ['psi.windowMs', 'number'],
  ['psi.acceptBelow', 'number'],
  ['psi.pauseAbove', 'number'],
  ['sandbox', 'map'],
  ['sandbox.limitsDefault', 'map'],
  ['sandbox.limitsDefault.workDirKb', 'number'],
  ['heartbeat', 'map'],
  ['heartbeat.intervalMs', 'number'],
  ['heartbeat.missedLimit', 'number'],
];
const NODE_FIELDS: Array<[string, Need]> = [['name', 'string'], ['address', 'string'], ['port', 'number'], ['role', 'string']];

function is(x: unknown, need: Need): boolean {
  switch (need) {
    case 'string':
      return typeof x === 'string';
    case 'number':
      return typeof x === 'number' && Number.isFinite(x);
    case 'map':
      return typeof x === 'object' && x !== null && !Array.isArray(x);
    case 'list':
      return Array.isArray(x);
  }
}

function at(x: unknown, path: string): unknown {
  let v = x;
  for (const key of path.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

/** The config in `json` (one line from the host), or an error naming the first field that is wrong. */
export function workerConfigOf(json: string): LabConfig {
  let x: unknown;
  try {
    x = JSON.parse(json);
  } catch (err) {
    throw new Error(`the config from the Worker host is not JSON: ${(err as Error).message}`);
  }
  const wrong = (field: string, need: string): Error => new Error(`the config from the Worker host has no ${need} at ${field}: start the Worker process from a node agent of the same version`);
  if (!is(x, 'map')) throw wrong('(root)', 'map');
  for (const [field, need] of FIELDS) if (!is(at(x, field), need)) throw wrong(field, need);
  const perHostMax = at(x, 'workers.perHostMax');
  if (perHostMax !== 'cores' && !is(perHostMax, 'number')) throw wrong('workers.perHostMax', '"cores" or number');
  (at(x, 'nodes') as unknown[]).forEach((n, i) => {
    if (!is(n, 'map')) throw wrong(`nodes.${i}`, 'map');
    for (const [field, need] of NODE_FIELDS) if (!is((n as Record<string, unknown>)[field], need)) throw wrong(`nodes.${i}.${field}`, need);
  });
  return x as LabConfig;
}
