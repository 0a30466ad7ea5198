import { NODE_NAME_LENGTH_MAX } from '../protocol/bounds.js';
import {
  INPUT_MESSAGE_BYTES_MAX, RUN_ARG_BYTES_MAX, RUN_ARGS_MAX, RUN_FILE_NAME_LENGTH_MAX, RUN_FILES_MAX, RUN_ID_LENGTH_MAX, RUN_LANGUAGE_LENGTH_MAX,
  RUN_MESSAGE_TYPES, RUN_SOURCE_BYTES_MAX, RUN_STDIN_BYTES_MAX, RUN_USER_LENGTH_MAX,
} from '../protocol/run-bounds.js';
import type { RunMessage } from '../protocol/run-messages.js';
import { runMessageToWire } from '../protocol/run-wire.js';
import type { WireMessage } from '../agent/wire-messages.js';
import type { CheckIssue, MessageCheck, WireForm } from '../wire/index.js';
import { heartbeatThreadIncoming } from './heartbeat-form.js';

/**
 * How a Worker process's communicator checks what its links carry, by hand instead of with the zod
 * schemas of every message (src/agent/wire-messages.ts): zod costs ~8 MB in each isolate that loads
 * it. The Worker acts on six run message types — `offer`, `run_input`, `run_eof`, `run_kill`,
 * `run_ack`, `run_takeover` — and those are checked field by field exactly as their zod schemas in
 * protocol/run-messages.ts do (test/worker/run-form.test.ts holds the two side by side, on samples
 * and on random messages). The cluster messages go on to the heartbeat thread and are checked as
 * it checks them (heartbeat-form.ts). Any other known type is let through unread: process.ts hands
 * it to no one. A type no node sends is refused, as the zod union refused it. What the Worker sends
 * is checked in full by the Assigner that receives it.
 */

type Result = { success: true; data: unknown } | { success: false; error: { issues: ReadonlyArray<CheckIssue> } };
type Check = (x: unknown) => CheckIssue | null;

/** The run message types a Worker acts on (WorkerDriver.onMessage); the others it ignores. */
export const WORKER_RUN_TYPES = new Set<string>(['offer', 'run_input', 'run_eof', 'run_kill', 'run_ack', 'run_takeover']);
const RUN_TYPES = new Set<string>(RUN_MESSAGE_TYPES);
/** The cluster protocol's types (cluster/messages.ts), handed to the heartbeat thread. */
export const CLUSTER_MESSAGE_TYPES = new Set<string>([
  'heartbeat', 'heartbeat_ack', 'gossip_push', 'gossip_pull', 'gossip_entries', 'monitor_heartbeat', 'least_loaded_assigner_request',
  'least_loaded_assigner_reply', 'vote_request', 'vote_reply', 'leader_heartbeat', 'leader_heartbeat_reply', 'order_role',
  'hydra_vote_request', 'hydra_vote_reply', 'hydra_won', 'hydra_won_ack', 'hydra_promote', 'monitor_announce',
]);
/** The agent, Gateway standby and judge types (the rest of WireMessageSchema): a Worker ignores them. */
const OTHER_TYPES = new Set<string>([
  'table_request', 'table_reply', 'gw_heartbeat', 'gw_heartbeat_ack', 'gw_standby', 'gw_claim', 'gw_claim_reply', 'gw_epoch', 'gw_jobe_file',
  'judge_problems_ask', 'judge_problems', 'judge_problem_ask', 'judge_problem_part', 'judge_log_ask', 'judge_log',
]);
/** Every type of WireMessageSchema (the test holds this equal to the schema's). */
export const WIRE_MESSAGE_TYPES: ReadonlySet<string> = new Set([...CLUSTER_MESSAGE_TYPES, ...RUN_TYPES, ...OTHER_TYPES]);

const issue = (message: string, ...path: Array<string | number>): CheckIssue => ({ path, message });
const isMap = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isInt = (x: unknown): x is number => Number.isSafeInteger(x);

const text = (min: number, max: number): Check => (x) =>
  typeof x === 'string' && x.length >= min && x.length <= max ? null : issue(min > 0 ? `expected a string of ${min}-${max} characters` : `expected a string of at most ${max} characters`);
const intAtLeast = (min: number): Check => (x) => (isInt(x) && x >= min ? null : issue(`expected a whole number >= ${min}`));
const bool: Check = (x) => (typeof x === 'boolean' ? null : issue('expected true or false'));
const optional = (c: Check): Check => (x) => (x === undefined ? null : c(x));
const nullable = (c: Check): Check => (x) => (x === null ? null : c(x));
const name = text(1, NODE_NAME_LENGTH_MAX);
const runId = text(1, RUN_ID_LENGTH_MAX);

/** The first failing field of map `m` (its path prefixed by `key`s), as zod's first issue names it. */
function fields(spec: Record<string, Check>): Check {
  return (m) => {
    if (!isMap(m)) return issue('expected a map');
    for (const [key, check] of Object.entries(spec)) {
      const p = check(m[key]);
      if (p) return { path: [key, ...p.path], message: p.message };
    }
    return null;
  };
}

function list(item: Check, min: number, max: number): Check {
  return (x) => {
    if (!Array.isArray(x)) return issue('expected a list');
    for (let i = 0; i < x.length; i++) {
      const p = item(x[i]);
      if (p) return { path: [i, ...p.path], message: p.message };
    }
    return x.length >= min && x.length <= max ? null : issue(`expected a list of ${min}-${max} items`);
  };
}

const positive = intAtLeast(1);
const limits = fields({ cpuTimeMs: positive, wallTimeMs: positive, memoryKb: positive, outputBytesMax: positive, processesMax: positive, fileSizeKb: positive, openFilesMax: positive, workDirKb: positive });
const specFields = fields({
  id: runId,
  user: text(0, RUN_USER_LENGTH_MAX),
  language: text(1, RUN_LANGUAGE_LENGTH_MAX),
  files: list(fields({ name: text(1, RUN_FILE_NAME_LENGTH_MAX), content: text(0, RUN_SOURCE_BYTES_MAX) }), 1, RUN_FILES_MAX),
  main: text(1, RUN_FILE_NAME_LENGTH_MAX),
  stdin: text(0, RUN_STDIN_BYTES_MAX),
  interactive: bool,
  limits,
  args: optional(list(text(0, RUN_ARG_BYTES_MAX), 0, RUN_ARGS_MAX)),
});

/** RunSpecWireSchema: its fields, then (only if they pass, as zod's refinements) main and the names. */
const runSpec: Check = (x) => {
  const p = specFields(x);
  if (p) return p;
  const s = x as { files: Array<{ name: string }>; main: string };
  if (!s.files.some((f) => f.name === s.main)) return issue('main must name one of the files');
  if (new Set(s.files.map((f) => f.name)).size !== s.files.length) return issue('file names must be distinct');
  return null;
};

const RECEIVED: Record<string, Check> = {
  offer: fields({ from: name, run: runSpec, buddy: optional(nullable(name)) }),
  run_input: fields({ from: name, id: runId, data: text(0, INPUT_MESSAGE_BYTES_MAX), n: optional(intAtLeast(1)) }),
  run_eof: fields({ from: name, id: runId, n: optional(intAtLeast(1)) }),
  run_kill: fields({ from: name, id: runId }),
  run_ack: fields({ from: name, id: runId, seq: intAtLeast(-1), exit: bool }),
  run_takeover: fields({ from: name, id: runId }),
};

function check(msg: unknown): Result {
  const fail = (i: CheckIssue): Result => ({ success: false, error: { issues: [i] } });
  if (!isMap(msg)) return fail(issue('expected a map'));
  const type = msg.type;
  if (typeof type !== 'string' || !WIRE_MESSAGE_TYPES.has(type)) return fail(issue('expected a known message type', 'type'));
  if (CLUSTER_MESSAGE_TYPES.has(type)) return heartbeatThreadIncoming.safeParse(msg);
  const received = RECEIVED[type];
  const p = received ? received(msg) : null;
  return p ? fail(p) : { success: true, data: msg };
}

/** The check of messages (exported for the test that holds it beside the zod schemas). */
export const workerIncoming: MessageCheck<unknown> = { safeParse: check };

/**
 * The Worker's links' form. One check serves both directions (the codec does not say which): the
 * types the Worker sends (offer_reply, run_output, run_exit, …) pass it unread. Incoming messages
 * need no unpacking: the only packed ones (run_output, replica_output) are among those the Worker
 * ignores without reading a field.
 */
export const workerForm: WireForm<WireMessage> = {
  schema: workerIncoming,
  toWire: (msg) => (RUN_TYPES.has(msg.type) ? runMessageToWire(msg as RunMessage) : msg),
  fromWire: (wire) => wire as WireMessage,
};

/** Whether `m` is a run message the Worker acts on (the others it ignores unread). */
export function isWorkerRunMessage(m: WireMessage): m is RunMessage {
  return WORKER_RUN_TYPES.has(m.type);
}

export function isClusterType(m: WireMessage): boolean {
  return CLUSTER_MESSAGE_TYPES.has(m.type);
}
