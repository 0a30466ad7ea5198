import {
  ASSIGNERS_MAX,
  GOSSIP_DIGESTS_PER_MESSAGE_MAX,
  GOSSIP_ENTRIES_PER_MESSAGE_MAX,
  GOSSIP_NEWS_PER_MESSAGE_MAX,
  LANGUAGE_NAME_LENGTH_MAX,
  LANGUAGES_PER_NODE_MAX,
  MONITOR_HEARTBEAT_WORKERS_MAX,
  MONITORS_MAX,
  NODE_NAME_LENGTH_MAX,
  SLOTS_MAX,
  TABLE_ROWS_MAX,
} from '../protocol/bounds.js';
import type { CheckIssue, MessageCheck } from '../wire/index.js';

// Hand checks of the messages every idle cluster member sends and receives several times a
// second (heartbeats and their acks, gossip, the Monitor and leader heartbeats, the Gateway
// standby's heartbeats, the Gateway's table_request and its table_reply): zod's parse was ~18% of an idle Monitor's CPU (bench/RESULTS.md). Each
// check does what its zod schema in cluster/messages.ts or cluster/gateway-messages.ts does —
// or agent/agent-messages.ts does — refuses the same inputs and returns a copy holding only the
// schema's fields (zod objects strip unknown keys, so what a node sends is exactly what it
// checked) — and names the first field that is wrong. test/cluster/message-checks.test.ts holds each one beside its schema on valid,
// mutated and random messages. Every other message type is checked by zod. No zod here.

/** Thrown by a check on the first wrong field; caught by `safeParse`. Never escapes this module. */
class CheckFailure {
  constructor(readonly issue: CheckIssue) {}
}

type Path = ReadonlyArray<PropertyKey>;
/** Returns the checked value (a stripped copy for objects) or throws CheckFailure. */
type Check = (x: unknown, path: Path) => unknown;

function fail(path: Path, expected: string): never {
  throw new CheckFailure({ path, message: `expected ${expected}` });
}

const string = (min: number, max: number): Check => {
  const expected = `a string of ${min}-${max} characters`;
  return (x, path) => (typeof x === 'string' && x.length >= min && x.length <= max ? x : fail(path, expected));
};

/** zod 4's z.number().int(): a safe integer. */
const int = (min: number, max: number): Check => {
  const expected = `a whole number in ${min}..${max}`;
  return (x, path) => (Number.isSafeInteger(x) && (x as number) >= min && (x as number) <= max ? x : fail(path, expected));
};

/** zod 4's z.number(): finite. */
const fraction: Check = (x, path) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 1 ? x : fail(path, 'a number in 0..1'));

const boolean: Check = (x, path) => (typeof x === 'boolean' ? x : fail(path, 'true or false'));

const literal = (value: string): Check => (x, path) => (x === value ? x : fail(path, `"${value}"`));

const oneOf = (values: readonly string[]): Check => {
  const set = new Set(values);
  const expected = values.join(', ');
  return (x, path) => (typeof x === 'string' && set.has(x) ? x : fail(path, `one of ${expected}`));
};

const nullable = (check: Check): Check => (x, path) => (x === null ? null : check(x, path));

const array = (item: Check, max: number, min = 0): Check => {
  const expected = `a list of ${min}-${max} items`;
  return (x, path) => {
    if (!Array.isArray(x) || x.length < min || x.length > max) return fail(path, expected);
    const out: unknown[] = new Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = item(x[i], [...path, i]);
    return out;
  };
};

/** A field that may be left out (zod's `.optional()`): absent stays absent, undefined stays undefined. */
interface Optional {
  optional: Check;
}
const optional = (check: Check): Optional => ({ optional: check });

const isMap = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** zod's (non-strict) z.object: the shape's fields checked in order, unknown keys left out of the copy. */
const object = (shape: Record<string, Check | Optional>): Check => {
  const fields = Object.entries(shape).map(([key, c]) => (typeof c === 'function' ? { key, check: c, optional: false } : { key, check: c.optional, optional: true }));
  return (x, path) => {
    if (!isMap(x)) return fail(path, 'a map');
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      const value = x[f.key];
      if (f.optional && value === undefined) {
        if (f.key in x) out[f.key] = undefined;
        continue;
      }
      out[f.key] = f.check(value, [...path, f.key]);
    }
    return out;
  };
};

// The shared shapes, as in cluster/messages.ts, protocol/names.ts and protocol/load.ts.
const UINT32_MAX = 0xffffffff;
const name = string(1, NODE_NAME_LENGTH_MAX);
const counter = int(0, Number.MAX_SAFE_INTEGER);
const uint32 = int(0, UINT32_MAX);
const role = oneOf(['monitor', 'assigner', 'worker', 'empty']);
const status = oneOf(['alive', 'suspect', 'dead']);
const pid = optional(int(1, 0x7fffffff));
const languages = array(string(1, LANGUAGE_NAME_LENGTH_MAX), LANGUAGES_PER_NODE_MAX);
const names = (max: number, min = 0): Check => array(name, max, min);
const slots = int(0, SLOTS_MAX);
const load = object({ psiCpu: fraction, psiMemory: fraction, psiIo: fraction, slotsFree: slots, slotsBusy: slots, queued: optional(int(0, 1_000_000)) });
const logPosition = object({ epoch: uint32, seq: counter });
const digest = object({ name, incarnation: counter, status, version: counter });
const entry = object({ name, pid, role, incarnation: counter, life: counter, status, version: counter, monitor: nullable(name), load, languages, buddy: optional(nullable(name)) });
const pushRange = object({ epoch: uint32, afterSeq: counter, upToSeq: counter });
const epoch = int(1, Number.MAX_SAFE_INTEGER);
const gatewayRecord = object({ epoch, holder: name });
const requestId = string(0, 64);
/** agent-messages.ts TableRowSchema: its own bounds (a role of up to 16 characters, any whole pid). */
const tableRow = object({
  name,
  pid: optional(int(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)),
  role: string(0, 16),
  status,
  incarnation: counter,
  monitor: nullable(name),
  load,
  languages: array(string(0, 24), 16),
});

/** The hand-checked message types and their checks. */
const CHECKS: ReadonlyMap<string, Check> = new Map<string, Check>([
  [
    'heartbeat',
    object({
      type: literal('heartbeat'),
      from: name,
      pid,
      incarnation: counter,
      life: counter,
      version: counter,
      role,
      monitor: name,
      load,
      languages,
      buddy: optional(nullable(name)),
      monitorsHash: uint32,
    }),
  ],
  [
    'heartbeat_ack',
    object({
      type: literal('heartbeat_ack'),
      from: name,
      yourIncarnation: counter,
      yourStatus: status,
      yourVersion: counter,
      preferredMonitor: nullable(name),
      monitors: names(MONITORS_MAX),
      leader: nullable(object({ name, term: counter })),
    }),
  ],
  [
    'gossip_push',
    object({
      type: literal('gossip_push'),
      from: name,
      epoch: uint32,
      afterSeq: counter,
      upToSeq: counter,
      headSeq: counter,
      tableHash: object({ h1: uint32, h2: uint32, size: counter }),
      haveOfYou: nullable(logPosition),
      digests: array(digest, GOSSIP_DIGESTS_PER_MESSAGE_MAX),
      news: array(digest, GOSSIP_NEWS_PER_MESSAGE_MAX),
    }),
  ],
  [
    'gossip_pull',
    object({
      type: literal('gossip_pull'),
      from: name,
      epoch: uint32,
      afterSeq: counter,
      upToSeq: counter,
      ackOfYou: nullable(logPosition),
      push: pushRange,
      want: names(GOSSIP_ENTRIES_PER_MESSAGE_MAX),
      entries: array(entry, GOSSIP_ENTRIES_PER_MESSAGE_MAX),
    }),
  ],
  ['gossip_entries', object({ type: literal('gossip_entries'), from: name, push: pushRange, entries: array(entry, GOSSIP_ENTRIES_PER_MESSAGE_MAX) })],
  [
    'monitor_heartbeat',
    object({
      type: literal('monitor_heartbeat'),
      from: name,
      term: counter,
      intervalMs: int(1, 60_000),
      workers: array(object({ name, incarnation: counter, life: counter, load, languages }), MONITOR_HEARTBEAT_WORKERS_MAX),
      deadWorkers: optional(array(object({ name, incarnation: counter }), MONITOR_HEARTBEAT_WORKERS_MAX)),
      assigners: optional(array(object({ name, incarnation: counter, life: counter, status, buddy: nullable(name) }), ASSIGNERS_MAX)),
    }),
  ],
  ['leader_heartbeat', object({ type: literal('leader_heartbeat'), from: name, term: counter })],
  ['leader_heartbeat_reply', object({ type: literal('leader_heartbeat_reply'), from: name, term: counter, ok: boolean })],
  ['gw_heartbeat', object({ type: literal('gw_heartbeat'), from: name, epoch })],
  ['gw_heartbeat_ack', object({ type: literal('gw_heartbeat_ack'), from: name, record: gatewayRecord, standby: nullable(name), term: counter })],
  ['gw_standby', object({ type: literal('gw_standby'), from: name, term: counter, standby: name, record: gatewayRecord })],
  ['table_request', object({ type: literal('table_request'), from: name, requestId })],
  ['table_reply', object({ type: literal('table_reply'), from: name, requestId, leader: nullable(name), term: counter, rows: array(tableRow, TABLE_ROWS_MAX) })],
]);

/** The message types checked here (the rest go to zod). */
export const HAND_CHECKED_TYPES: ReadonlySet<string> = new Set(CHECKS.keys());

type Result = { success: true; data: unknown } | { success: false; error: { issues: CheckIssue[] } };

/** The hand check of a message whose type is in HAND_CHECKED_TYPES, with zod's safeParse's shape. */
export function handCheck(msg: unknown): Result {
  const type = isMap(msg) ? msg.type : undefined;
  const check = typeof type === 'string' ? CHECKS.get(type) : undefined;
  if (!check) return { success: false, error: { issues: [{ path: ['type'], message: 'expected a hand-checked message type' }] } };
  try {
    return { success: true, data: check(msg, []) };
  } catch (err) {
    if (err instanceof CheckFailure) return { success: false, error: { issues: [err.issue] } };
    throw err;
  }
}

/**
 * A check of every message: the hot types by hand, the rest by `fallback` (the zod union of all
 * messages, which also refuses a message that is not a map or has an unknown type).
 */
export function withHandChecks<T>(fallback: MessageCheck<T>): MessageCheck<T> {
  return {
    safeParse(msg) {
      const type = isMap(msg) ? msg.type : undefined;
      if (typeof type === 'string' && CHECKS.has(type)) return handCheck(msg) as ReturnType<MessageCheck<T>['safeParse']>;
      return fallback.safeParse(msg);
    },
  };
}
