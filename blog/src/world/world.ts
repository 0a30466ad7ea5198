// The world file: which servers exist, where they listen, the shared secret and every interval.
// Validated once at start-up; every mistake is one line naming its field, and all of them are
// reported together so an operator fixes the file in one pass.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** The seven continents, Antarctica included: the design has exactly one L1 per continent. */
export const CONTINENTS = [
  'africa',
  'antarctica',
  'asia',
  'europe',
  'north-america',
  'oceania',
  'south-america',
] as const;
export type ContinentName = (typeof CONTINENTS)[number];

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const name = z.string().regex(NAME_RE, 'must be 1..63 of a-z, 0-9, - (starting with a letter or digit)');
const host = z
  .string()
  .min(1, 'must not be empty')
  .max(253, 'must be at most 253 characters')
  .regex(/^[A-Za-z0-9.:-]+$/, 'must be a host name or IP address');
const port = z
  .number({ error: 'must be a number 1..65535' })
  .int('must be 1..65535')
  .min(1, 'must be 1..65535')
  .max(65535, 'must be 1..65535');
const ms = (min: number, max: number) =>
  z
    .number({ error: `must be a number of milliseconds ${min}..${max}` })
    .int(`must be a whole number of milliseconds ${min}..${max}`)
    .min(min, `must be ${min}..${max} ms`)
    .max(max, `must be ${min}..${max} ms`);
const count = (min: number, max: number) =>
  z
    .number({ error: `must be a number ${min}..${max}` })
    .int(`must be a whole number ${min}..${max}`)
    .min(min, `must be ${min}..${max}`)
    .max(max, `must be ${min}..${max}`);

const serverSchema = z.strictObject({ name, host, port });
const countrySchema = z.strictObject({
  code: z.string().regex(/^[a-z]{2}$/, 'must be a two-letter lower-case country code (ISO 3166-1 alpha-2, e.g. fr)'),
  l2: z.array(serverSchema).min(1, 'must list at least one L2 server').max(64, 'must list at most 64 L2 servers'),
});
const continentSchema = z.strictObject({
  name: z.enum(CONTINENTS, { error: `must be one of ${CONTINENTS.join(', ')}` }),
  l1: serverSchema,
  countries: z.array(countrySchema).max(256, 'must list at most 256 countries').default([]),
});

const DAY_MS = 86_400_000;
/**
 * Every interval and bound, each with the default the design asks for and why.
 * Tests shorten them to milliseconds; production keeps the defaults.
 */
const intervalsSchema = z
  .strictObject({
    // The design's timeout: a batch travels to the other continents at the latest when its oldest
    // change has waited this long, even if it holds a single blog.
    propagationTimeoutMs: ms(1, 7 * DAY_MS).default(2 * 3_600_000),
    // The design's L1 sync: "every 24 hours", repairing any batch lost in transit.
    syncIntervalMs: ms(1, 30 * DAY_MS).default(DAY_MS),
    // A batch is sent early when it holds this many changes: bounds one message's size
    // (100 x 64 KiB bodies = 6.4 MiB worst case).
    batchChangesMax: count(1, 1_000).default(100),
    // An unacknowledged batch is sent again after this long (then dropped: the sync repairs).
    batchRetryMs: ms(1, DAY_MS).default(30_000),
    // ...this many times, then the batch is dropped: the next sync round repairs what it carried.
    batchRetriesMax: count(0, 1_000).default(20),
    // Changes per sync page: the sync streams in pages, never one unbounded message.
    syncPageChangesMax: count(1, 1_000).default(200),
    // A sync page not answered in this long is asked for again.
    syncPageTimeoutMs: ms(1, DAY_MS).default(30_000),
    // Each L2's own LRU cache of blogs (entries).
    cacheEntriesMax: count(0, 10_000_000).default(10_000),
    // A change stamped further ahead of this server's clock than this is refused (a bad clock
    // would otherwise win every last-writer-wins conflict for as long as it is ahead).
    clockSkewMaxMs: ms(1, DAY_MS).default(60_000),
    // A server-to-server message stamped further than this from the receiver's clock is refused
    // as stale: the replay window of the HMAC signature.
    linkMessageAgeMaxMs: ms(1, DAY_MS).default(300_000),
    // How long one server-to-server request may take before it counts as failed.
    linkTimeoutMs: ms(1, 600_000).default(5_000),
    // An L2 tells its L1 where it is this often (and learns whether the L1 is there).
    heartbeatIntervalMs: ms(1, 600_000).default(5_000),
    // No word from the L1 for this long: the L2 refuses writes (three missed heartbeats).
    l1UnreachableAfterMs: ms(1, 3_600_000).default(15_000),
    // A write the L1 has not acknowledged in this long is answered 504 (retry with the same requestId).
    writeTimeoutMs: ms(1, 600_000).default(5_000),
    // A read miss the L1 has not answered in this long is answered 503.
    fetchTimeoutMs: ms(1, 600_000).default(5_000),
    // A restarted L2's catch-up page not answered in this long is asked for again.
    catchUpPageTimeoutMs: ms(1, 600_000).default(10_000),
  })
  // prefault, not default: an absent section is parsed as {} so every field gets its own default.
  .prefault({});

const worldSchema = z
  .strictObject({
    secret: z.string().min(16, 'must be at least 16 characters').max(4096).optional(),
    secretFile: z.string().min(1).optional(),
    // Client bodies (a blog's title, body and image references) above this size get 413.
    bodyBytesMax: count(1024, 16 * 1024 * 1024).default(256 * 1024),
    intervals: intervalsSchema,
    continents: z.array(continentSchema).length(7, 'must list exactly the seven continents'),
  })
  .refine((w) => (w.secret === undefined) !== (w.secretFile === undefined), {
    message: 'exactly one of secret and secretFile must be given',
    path: ['secret'],
  });

export type Intervals = z.infer<typeof intervalsSchema>;

/** One server of the world, flattened: what a driver needs to start it or to reach it. */
export type ServerEntry =
  | { kind: 'l1'; name: string; host: string; port: number; continent: ContinentName }
  | { kind: 'l2'; name: string; host: string; port: number; continent: ContinentName; country: string };

export interface World {
  secret: string;
  bodyBytesMax: number;
  intervals: Intervals;
  servers: ServerEntry[];
  /** The L1 of each continent. */
  l1: Map<ContinentName, ServerEntry & { kind: 'l1' }>;
}

export class WorldError extends Error {
  readonly code = 'WORLD_INVALID';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

function fieldPath(parts: readonly PropertyKey[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(top level)' : out;
}

type Rec = Record<string, unknown>;
const isRec = (x: unknown): x is Rec => typeof x === 'object' && x !== null && !Array.isArray(x);
const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);

/**
 * The checks across entries (unique names, addresses, country codes and continents), run on the raw
 * data whatever else is wrong with it, so a file with a bad port and a duplicate name shows both.
 */
function crossChecks(raw: unknown, label: string): string[] {
  const problems: string[] = [];
  const names = new Map<string, string>();
  const addrs = new Map<string, string>();
  const codes = new Map<string, string>();
  const seenContinents = new Map<unknown, number>();
  const claim = (where: string, s: unknown): void => {
    if (!isRec(s)) return;
    if (typeof s['name'] === 'string') {
      const prev = names.get(s['name']);
      if (prev !== undefined) problems.push(`${label}: ${where}.name: "${s['name']}" is already used by ${prev}`);
      else names.set(s['name'], where);
    }
    if (typeof s['host'] === 'string' && typeof s['port'] === 'number') {
      const addr = `${s['host']}:${s['port']}`;
      const prev = addrs.get(addr);
      if (prev !== undefined) problems.push(`${label}: ${where}.port: ${addr} is already used by ${prev}`);
      else addrs.set(addr, where);
    }
  };
  const continents = list(isRec(raw) ? raw['continents'] : undefined);
  continents.forEach((c, ci) => {
    if (!isRec(c)) return;
    if (typeof c['name'] === 'string') {
      const prev = seenContinents.get(c['name']);
      if (prev !== undefined) problems.push(`${label}: continents[${ci}].name: "${c['name']}" is already continents[${prev}]`);
      else seenContinents.set(c['name'], ci);
    }
    claim(`continents[${ci}].l1`, c['l1']);
    list(c['countries']).forEach((k, ki) => {
      if (!isRec(k)) return;
      const where = `continents[${ci}].countries[${ki}]`;
      if (typeof k['code'] === 'string') {
        const prev = codes.get(k['code']);
        if (prev !== undefined) problems.push(`${label}: ${where}.code: "${k['code']}" is already ${prev}`);
        else codes.set(k['code'], where);
      }
      list(k['l2']).forEach((s, si) => claim(`${where}.l2[${si}]`, s));
    });
  });
  if (continents.length === 7) {
    for (const c of CONTINENTS) if (!seenContinents.has(c)) problems.push(`${label}: continents: "${c}" is missing`);
  }
  return problems;
}

/** Validates parsed YAML; `label` prefixes every line (usually the file's base name). */
export function parseWorld(raw: unknown, label: string, baseDir: string): World {
  const r = worldSchema.safeParse(raw);
  const problems = r.success ? [] : r.error.issues.map((i) => `${label}: ${fieldPath(i.path)}: ${i.message}`);
  problems.push(...crossChecks(raw, label));
  if (!r.success) throw new WorldError(problems);
  const w = r.data;
  const servers: ServerEntry[] = [];
  for (const c of w.continents) {
    servers.push({ kind: 'l1', ...c.l1, continent: c.name });
    for (const k of c.countries) for (const s of k.l2) servers.push({ kind: 'l2', ...s, continent: c.name, country: k.code });
  }
  let secret = w.secret ?? '';
  if (w.secretFile !== undefined) {
    const file = path.resolve(baseDir, w.secretFile);
    try {
      secret = readFileSync(file, 'utf8').trim();
      if (secret.length < 16) problems.push(`${label}: secretFile: ${file} must hold at least 16 characters`);
    } catch (err) {
      problems.push(`${label}: secretFile: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  if (problems.length > 0) throw new WorldError(problems);
  const l1 = new Map<ContinentName, ServerEntry & { kind: 'l1' }>();
  for (const s of servers) if (s.kind === 'l1') l1.set(s.continent, s);
  return { secret, bodyBytesMax: w.bodyBytesMax, intervals: w.intervals, servers, l1 };
}

/** Reads and validates a world file; throws WorldError with every mistake, one per line. */
export function loadWorld(file: string): World {
  const label = path.basename(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new WorldError([`${label}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  if (text.length > 4 * 1024 * 1024) throw new WorldError([`${label}: the file is larger than 4 MiB`]);
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0];
    throw new WorldError([`${label}: not valid YAML: ${first}`]);
  }
  return parseWorld(raw, label, path.dirname(path.resolve(file)));
}

export function findServer(world: World, serverName: string): ServerEntry | undefined {
  return world.servers.find((s) => s.name === serverName);
}

/** The L2s of one continent: the only ones its L1 pushes to. */
export function l2sOf(world: World, continent: ContinentName): Array<ServerEntry & { kind: 'l2' }> {
  return world.servers.filter((s): s is ServerEntry & { kind: 'l2' } => s.kind === 'l2' && s.continent === continent);
}

export function urlOf(s: { host: string; port: number }): string {
  const h = s.host.includes(':') ? `[${s.host}]` : s.host;
  return `http://${h}:${s.port}`;
}
