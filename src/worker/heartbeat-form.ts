import { MONITORS_MAX, NODE_NAME_LENGTH_MAX } from '../cluster/bounds.js';
import type { WireMessage } from '../agent/wire-messages.js';
import type { CheckIssue, MessageCheck, WireForm } from '../wire/index.js';

/**
 * How a Worker's heartbeat thread checks what its links carry, by hand instead of with the zod
 * schemas of every message (src/agent/wire-messages.ts): zod costs ~8 MB in each isolate that
 * loads it, and a Worker process has two. The thread acts on two message types only —
 * `heartbeat_ack` and `order_role` — and those are checked field by field exactly as their zod
 * schemas in cluster/messages.ts do (test/worker/heartbeat-form.test.ts holds the two side by
 * side). Any other type is let through unread: the thread's dispatch drops it without looking at
 * a field. What the thread sends (heartbeats) is checked in full by the Monitor that receives it.
 */

type Result = { success: true; data: unknown } | { success: false; error: { issues: CheckIssue[] } };

const ROLES = new Set(['monitor', 'assigner', 'worker', 'empty']);
const STATUSES = new Set(['alive', 'suspect', 'dead']);

const isName = (x: unknown): boolean => typeof x === 'string' && x.length >= 1 && x.length <= NODE_NAME_LENGTH_MAX;
const isCounter = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;

/** The first field of `m` that fails, as a zod-like issue; null if every field is right. */
function firstProblem(m: Record<string, unknown>, fields: Array<[string, (x: unknown) => boolean, string]>): CheckIssue | null {
  for (const [key, ok, expected] of fields) if (!ok(m[key])) return { path: [key], message: `expected ${expected}` };
  return null;
}

const NAME = 'a node name (1-64 characters)';
const COUNTER = 'a whole number >= 0';

function checkAck(m: Record<string, unknown>): CheckIssue | null {
  const problem = firstProblem(m, [
    ['from', isName, NAME],
    ['yourIncarnation', isCounter, COUNTER],
    ['yourStatus', (x) => typeof x === 'string' && STATUSES.has(x), 'alive, suspect or dead'],
    ['yourVersion', isCounter, COUNTER],
    ['preferredMonitor', (x) => x === null || isName(x), `null or ${NAME}`],
    ['monitors', (x) => Array.isArray(x) && x.length <= MONITORS_MAX, `a list of at most ${MONITORS_MAX} names`],
    ['leader', (x) => x === null || (typeof x === 'object' && !Array.isArray(x)), 'null or {name, term}'],
  ]);
  if (problem) return problem;
  const monitors = m.monitors as unknown[];
  const bad = monitors.findIndex((x) => !isName(x));
  if (bad >= 0) return { path: ['monitors', bad], message: `expected ${NAME}` };
  const leader = m.leader as Record<string, unknown> | null;
  if (leader) {
    const p = firstProblem(leader, [['name', isName, NAME], ['term', isCounter, COUNTER]]);
    if (p) return { path: ['leader', ...p.path], message: p.message };
  }
  return null;
}

function checkOrder(m: Record<string, unknown>): CheckIssue | null {
  return firstProblem(m, [
    ['from', isName, NAME],
    ['term', isCounter, COUNTER],
    ['seq', isCounter, COUNTER],
    ['target', isName, NAME],
    ['role', (x) => typeof x === 'string' && ROLES.has(x), 'monitor, assigner, worker or empty'],
    ['buddy', (x) => x === undefined || x === null || isName(x), `absent, null or ${NAME}`],
  ]);
}

function check(msg: unknown, checkFields: boolean): Result {
  const fail = (issue: CheckIssue): Result => ({ success: false, error: { issues: [issue] } });
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return fail({ path: [], message: 'expected a map' });
  const m = msg as Record<string, unknown>;
  if (typeof m.type !== 'string') return fail({ path: ['type'], message: 'expected a message type' });
  if (checkFields) {
    const problem = m.type === 'heartbeat_ack' ? checkAck(m) : m.type === 'order_role' ? checkOrder(m) : null;
    if (problem) return fail(problem);
  }
  return { success: true, data: m };
}

/** The check of incoming messages (exported for the test that holds it beside the zod schemas). */
export const heartbeatThreadIncoming: MessageCheck<unknown> = { safeParse: (msg) => check(msg, true) };

/**
 * The links' form. One check serves both directions (the codec does not say which), so the fields
 * of heartbeat_ack and order_role are checked whichever way they go; the thread never sends either.
 */
export const heartbeatThreadForm: WireForm<WireMessage> = {
  schema: heartbeatThreadIncoming,
  toWire: (msg) => msg,
  fromWire: (wire) => wire as WireMessage,
};
