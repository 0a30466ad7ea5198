import { z } from 'zod';
import { WorkerLoadWireSchema } from './load.js';
import { CHUNK_BYTES_MAX, STREAM_NAMES } from './output.js';
import { RUN_RESULT_STATUSES } from './run-status.js';
import { NodeNameSchema } from './names.js';
import {
  CHUNKS_PER_MESSAGE_MAX, INPUT_MESSAGE_BYTES_MAX, RUN_ARG_BYTES_MAX, RUN_ARGS_MAX, RUN_ATTEMPTS_MAX, RUN_FILE_NAME_LENGTH_MAX, RUN_FILES_MAX, RUN_ID_LENGTH_MAX,
  RUN_LANGUAGE_LENGTH_MAX, RUN_SOURCE_BYTES_MAX, RUN_STDIN_BYTES_MAX, RUN_TEXT_MAX, RUN_USER_LENGTH_MAX,
} from './run-bounds.js';

/**
 * Messages that carry runs: Gateway <-> Assigner <-> Worker. Validated at the edge like the
 * cluster's own messages; every field bounded.
 */

export {
  RUN_ID_LENGTH_MAX, RUN_FILES_MAX, RUN_SOURCE_BYTES_MAX, RUN_ARGS_MAX, RUN_ARG_BYTES_MAX, RUN_STDIN_BYTES_MAX, INPUT_MESSAGE_BYTES_MAX, CHUNKS_PER_MESSAGE_MAX,
} from './run-bounds.js';
export { CHUNK_BYTES_MAX } from './output.js';
const TEXT_MAX = RUN_TEXT_MAX;

const RunId = z.string().min(1).max(RUN_ID_LENGTH_MAX);

export const LimitsSchema = z.object({
  cpuTimeMs: z.number().int().positive(),
  wallTimeMs: z.number().int().positive(),
  memoryKb: z.number().int().positive(),
  outputBytesMax: z.number().int().positive(),
  processesMax: z.number().int().positive(),
  fileSizeKb: z.number().int().positive(),
  openFilesMax: z.number().int().positive(),
  workDirKb: z.number().int().positive(),
});

export const RunSpecWireSchema = z.object({
  id: RunId,
  user: z.string().max(RUN_USER_LENGTH_MAX),
  language: z.string().min(1).max(RUN_LANGUAGE_LENGTH_MAX),
  files: z.array(z.object({ name: z.string().min(1).max(RUN_FILE_NAME_LENGTH_MAX), content: z.string().max(RUN_SOURCE_BYTES_MAX) })).min(1).max(RUN_FILES_MAX),
  main: z.string().min(1).max(RUN_FILE_NAME_LENGTH_MAX),
  stdin: z.string().max(RUN_STDIN_BYTES_MAX),
  interactive: z.boolean(),
  limits: LimitsSchema,
  args: z.array(z.string().max(RUN_ARG_BYTES_MAX)).max(RUN_ARGS_MAX).optional(),
})
  // What the sandbox request is made of (run-spec.ts): the main file is one of the files, and a name
  // names one file (two of one name ran differently on a Worker and on one machine).
  .refine((s) => s.files.some((f) => f.name === s.main), { error: 'main must name one of the files' })
  .refine((s) => new Set(s.files.map((f) => f.name)).size === s.files.length, { error: 'file names must be distinct' });
export type RunSpecWire = z.infer<typeof RunSpecWireSchema>;

export const StreamSchema = z.enum(STREAM_NAMES);
const ChunkSchema = z.object({
  seq: z.number().int().min(0),
  stream: StreamSchema,
  data: z.instanceof(Uint8Array).refine((d) => d.length <= CHUNK_BYTES_MAX, 'chunk over 1500 bytes'),
});

export const RunResultWireSchema = z.object({
  status: z.enum(RUN_RESULT_STATUSES),
  exit_code: z.number().int().nullable(),
  signal: z.number().int().nullable(),
  cpu_time_ms: z.number().min(0),
  wall_time_ms: z.number().min(0),
  memory_kb: z.number().min(0),
  language: z.string().max(RUN_LANGUAGE_LENGTH_MAX),
  version: z.string().max(128),
  limits_mechanism: z.enum(['cgroup-v2', 'cgroup-v1', 'rlimit']).optional(),
  message: z.string().max(TEXT_MAX).optional(),
  /** The compiler ran (false: the Worker's compile cache had the build). */
  compiled: z.boolean().optional(),
});
export type RunResultWire = z.infer<typeof RunResultWireSchema>;

export { WorkerLoadWireSchema, type WorkerLoadWire } from './load.js';

const from = { from: NodeNameSchema };
/** The buddy Assigner of the run's Assigner: who takes the run over if its Assigner dies. */
const buddy = { buddy: NodeNameSchema.nullable().optional() };
/** Input messages are numbered by the Gateway (from 1) so one resent after a takeover is dropped. */
const inputN = { n: z.number().int().min(1).optional() };
const Seq = z.number().int().min(-1);

export const RunMessageSchema = z.discriminatedUnion('type', [
  // Gateway -> Assigner
  z.object({ type: z.literal('run_submit'), ...from, run: RunSpecWireSchema }),
  // Gateway -> Assigner -> Worker
  z.object({ type: z.literal('run_input'), ...from, id: RunId, data: z.string().max(INPUT_MESSAGE_BYTES_MAX), ...inputN }),
  z.object({ type: z.literal('run_eof'), ...from, id: RunId, ...inputN }),
  z.object({ type: z.literal('run_kill'), ...from, id: RunId }),
  // Assigner -> Gateway
  z.object({ type: z.literal('run_queued'), ...from, id: RunId, position: z.number().int().min(1), ...buddy }),
  z.object({ type: z.literal('run_started'), ...from, id: RunId, worker: NodeNameSchema, ...buddy }),
  z.object({ type: z.literal('run_refused'), ...from, id: RunId, code: z.string().max(32), message: z.string().max(TEXT_MAX) }),
  // The run's Worker was lost and the run starts again: output of earlier attempts is void.
  z.object({ type: z.literal('run_restart'), ...from, id: RunId, attempt: z.number().int().min(2).max(RUN_ATTEMPTS_MAX) }),
  // Worker -> Assigner -> Gateway
  // Consecutive chunks travel together when the runner has several ready: per-message costs
  // (validation, framing, a wake-up at every hop) are paid once per batch, not per 1500 bytes.
  z.object({ type: z.literal('run_output'), ...from, id: RunId, chunks: z.array(ChunkSchema).min(1).max(CHUNKS_PER_MESSAGE_MAX) }),
  // lastSeq: the run's last chunk; a receiver missing some (a link dropped them) asks for them first.
  z.object({ type: z.literal('run_exit'), ...from, id: RunId, result: RunResultWireSchema, lastSeq: Seq.optional() }),
  // Worker -> Assigner: the PC's owner needs it back (pressure above the second bound); the
  // batch run was stopped and must run elsewhere.
  z.object({ type: z.literal('run_evicted'), ...from, id: RunId, reason: z.string().max(TEXT_MAX) }),
  // Gateway -> Assigner: "send me this run's chunks after afterSeq (-1: all) and relay it to me
  // from now on" — to every live Assigner after a Gateway failover (who holds it?), or to the buddy
  // that took the run over after an Assigner died.
  z.object({ type: z.literal('run_attach'), ...from, id: RunId, afterSeq: z.number().int().min(-1) }),
  // The Assigner holding it -> that Gateway (others answer nothing); then run_output for every
  // retained chunk after afterSeq, run_exit if finished, and the live stream.
  z.object({
    type: z.literal('run_attached'),
    ...from,
    id: RunId,
    spec: RunSpecWireSchema,
    phase: z.enum(['queued', 'running', 'finished']),
    worker: NodeNameSchema.nullable(),
    /** The run's placement now (1: the first; a lost batch run's is higher). Absent: 1. */
    attempt: z.number().int().min(1).max(RUN_ATTEMPTS_MAX).optional(),
  }),
  // Assigner -> Worker
  z.object({ type: z.literal('offer'), ...from, run: RunSpecWireSchema, ...buddy }),
  // Assigner -> Worker: every chunk up to seq (and the exit, if exit) is held by both Assigners of
  // the pair; the Worker may forget it. Until then the Worker keeps it to send again.
  z.object({ type: z.literal('run_ack'), ...from, id: RunId, seq: Seq, exit: z.boolean() }),
  // Worker -> Assigner
  // load: the Worker's slots and pressure counting this answer (a refusal for a full Worker says so).
  // life: the Worker's life (cluster/heartbeat-client.ts) as its heartbeat thread last told it;
  // absent while not known. The Assigner loses a run on a higher life only if it started on an older one.
  z.object({ type: z.literal('offer_reply'), ...from, id: RunId, accepted: z.boolean(), reason: z.string().max(TEXT_MAX).optional(), load: WorkerLoadWireSchema.optional(), life: z.int().min(1).max(Number.MAX_SAFE_INTEGER).optional() }),
  // Worker -> the Assigners that offered it runs lately: a slot came free. Two Assigners place on
  // the same Workers; without this the one whose run did not end waits for the next load report.
  z.object({ type: z.literal('worker_load'), ...from, load: WorkerLoadWireSchema }),
  // Worker -> the offering Assigner's buddy: "I run it", in case the Assigner dies before telling.
  z.object({ type: z.literal('run_claim'), ...from, id: RunId }),

  // Assigner -> its buddy: a copy of every run it holds, sent as the run changes.
  z.object({ type: z.literal('replica_hold'), ...from, id: RunId, gateway: NodeNameSchema, run: RunSpecWireSchema, attempts: z.number().int().min(0).max(RUN_ATTEMPTS_MAX) }),
  z.object({ type: z.literal('replica_placed'), ...from, id: RunId, worker: NodeNameSchema.nullable() }),
  z.object({ type: z.literal('replica_output'), ...from, id: RunId, chunks: z.array(ChunkSchema).min(1).max(CHUNKS_PER_MESSAGE_MAX) }),
  z.object({ type: z.literal('replica_exit'), ...from, id: RunId, result: RunResultWireSchema }),
  z.object({ type: z.literal('replica_restart'), ...from, id: RunId, attempts: z.number().int().min(0).max(RUN_ATTEMPTS_MAX) }),
  // An Assigner leaving the role (made a Monitor by the Hydra) -> another Assigner, after a full
  // copy of every run it holds: take them over now, as from a dead buddy.
  z.object({ type: z.literal('replica_handoff'), ...from }),
  // Buddy -> Assigner: the copy holds every chunk up to seq (and the exit, if exit).
  z.object({ type: z.literal('replica_ack'), ...from, id: RunId, seq: Seq, exit: z.boolean() }),
  // Buddy -> the run's Worker and Gateway: the run's Assigner died and the buddy holds the run now.
  // The Worker sends again what was not acknowledged; the Gateway attaches (below) and resends input.
  z.object({ type: z.literal('run_takeover'), ...from, id: RunId }),
]);
export type RunMessage = z.infer<typeof RunMessageSchema>;
export type RunChunkWire = z.infer<typeof ChunkSchema>;

/**
 * Consecutive chunks of one stream as they travel between nodes: one buffer and each chunk's
 * size. Still 1500-byte chunks with their numbers, but checked, packed and unpacked as one object:
 * a fast program's output costs a handful of objects per message at every hop, not 64.
 */
const PackedChunksSchema = z
  .object({
    seq: z.number().int().min(0),
    stream: StreamSchema,
    sizes: z.array(z.number().int().min(0).max(CHUNK_BYTES_MAX)).min(1).max(CHUNKS_PER_MESSAGE_MAX),
    data: z.instanceof(Uint8Array),
  })
  .refine((p) => p.data.length === p.sizes.reduce((n, x) => n + x, 0), 'data is not as long as its chunks\' sizes together');
export type PackedChunks = z.infer<typeof PackedChunksSchema>;
const PackedChunkListSchema = z
  .array(PackedChunksSchema)
  .min(1)
  .max(CHUNKS_PER_MESSAGE_MAX)
  .refine((l) => l.reduce((n, p) => n + p.sizes.length, 0) <= CHUNKS_PER_MESSAGE_MAX, `more than ${CHUNKS_PER_MESSAGE_MAX} chunks in one message`);


/** The run messages as they travel: those carrying output have their chunks packed. */
export const RunWireSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('run_output'), ...from, id: RunId, chunks: PackedChunkListSchema }),
  z.object({ type: z.literal('replica_output'), ...from, id: RunId, chunks: PackedChunkListSchema }),
  ...RunMessageSchema.options.filter((o) => o.shape.type.value !== 'run_output' && o.shape.type.value !== 'replica_output'),
]);
export type RunWire = z.infer<typeof RunWireSchema>;

export type RunMessageOf<T extends RunMessage['type']> = Extract<RunMessage, { type: T }>;
