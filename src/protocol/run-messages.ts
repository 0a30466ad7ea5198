import { z } from 'zod';
import { WorkerLoadWireSchema } from './load.js';
import { CHUNK_BYTES_MAX, STREAM_NAMES } from './output.js';
import { RUN_RESULT_STATUSES } from './run-status.js';
import { NodeNameSchema } from './names.js';

/**
 * Messages that carry runs: Gateway <-> Assigner <-> Worker. Validated at the edge like the
 * cluster's own messages; every field bounded.
 */

export const RUN_ID_LENGTH_MAX = 64;
export const RUN_FILES_MAX = 16;
export const RUN_SOURCE_BYTES_MAX = 1024 * 1024;
/** Command-line arguments of one run, and the length of one. */
export const RUN_ARGS_MAX = 64;
export const RUN_ARG_BYTES_MAX = 4096;
export const RUN_STDIN_BYTES_MAX = 16 * 1024 * 1024;
export { CHUNK_BYTES_MAX } from './output.js';
export const INPUT_MESSAGE_BYTES_MAX = 64 * 1024;
const TEXT_MAX = 4096;

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
  user: z.string().max(64),
  language: z.string().min(1).max(32),
  files: z.array(z.object({ name: z.string().min(1).max(128), content: z.string().max(RUN_SOURCE_BYTES_MAX) })).min(1).max(RUN_FILES_MAX),
  main: z.string().min(1).max(128),
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
/** Chunks one run_output message may carry: 64 x 1500 bytes stays under 100 KiB a frame. */
export const CHUNKS_PER_MESSAGE_MAX = 64;
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
  language: z.string().max(32),
  version: z.string().max(128),
  limits_mechanism: z.enum(['cgroup-v2', 'cgroup-v1', 'rlimit']).optional(),
  message: z.string().max(TEXT_MAX).optional(),
  /** The compiler ran (false: the Worker's compile cache had the build). */
  compiled: z.boolean().optional(),
});
export type RunResultWire = z.infer<typeof RunResultWireSchema>;

/** A run's end when nothing of the program was measured (killed while waiting, lost, failed). */
export function unmeasuredResult(status: RunResultWire['status'], language: string, message?: string): RunResultWire {
  return { status, exit_code: null, signal: null, cpu_time_ms: 0, wall_time_ms: 0, memory_kb: 0, language, version: '', ...(message ? { message: message.slice(0, TEXT_MAX) } : {}) };
}

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
  z.object({ type: z.literal('run_restart'), ...from, id: RunId, attempt: z.number().int().min(2).max(16) }),
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
    attempt: z.number().int().min(1).max(16).optional(),
  }),
  // Assigner -> Worker
  z.object({ type: z.literal('offer'), ...from, run: RunSpecWireSchema, ...buddy }),
  // Assigner -> Worker: every chunk up to seq (and the exit, if exit) is held by both Assigners of
  // the pair; the Worker may forget it. Until then the Worker keeps it to send again.
  z.object({ type: z.literal('run_ack'), ...from, id: RunId, seq: Seq, exit: z.boolean() }),
  // Worker -> Assigner
  // load: the Worker's slots and pressure counting this answer (a refusal for a full Worker says so).
  z.object({ type: z.literal('offer_reply'), ...from, id: RunId, accepted: z.boolean(), reason: z.string().max(TEXT_MAX).optional(), load: WorkerLoadWireSchema.optional() }),
  // Worker -> the Assigners that offered it runs lately: a slot came free. Two Assigners place on
  // the same Workers; without this the one whose run did not end waits for the next load report.
  z.object({ type: z.literal('worker_load'), ...from, load: WorkerLoadWireSchema }),
  // Worker -> the offering Assigner's buddy: "I run it", in case the Assigner dies before telling.
  z.object({ type: z.literal('run_claim'), ...from, id: RunId }),

  // Assigner -> its buddy: a copy of every run it holds, sent as the run changes.
  z.object({ type: z.literal('replica_hold'), ...from, id: RunId, gateway: NodeNameSchema, run: RunSpecWireSchema, attempts: z.number().int().min(0).max(16) }),
  z.object({ type: z.literal('replica_placed'), ...from, id: RunId, worker: NodeNameSchema.nullable() }),
  z.object({ type: z.literal('replica_output'), ...from, id: RunId, chunks: z.array(ChunkSchema).min(1).max(CHUNKS_PER_MESSAGE_MAX) }),
  z.object({ type: z.literal('replica_exit'), ...from, id: RunId, result: RunResultWireSchema }),
  z.object({ type: z.literal('replica_restart'), ...from, id: RunId, attempts: z.number().int().min(0).max(16) }),
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
  .refine((p) => p.data.length === sizeSum(p.sizes), 'data is not as long as its chunks\' sizes together');
type PackedChunks = z.infer<typeof PackedChunksSchema>;
const PackedChunkListSchema = z
  .array(PackedChunksSchema)
  .min(1)
  .max(CHUNKS_PER_MESSAGE_MAX)
  .refine((l) => l.reduce((n, p) => n + p.sizes.length, 0) <= CHUNKS_PER_MESSAGE_MAX, `more than ${CHUNKS_PER_MESSAGE_MAX} chunks in one message`);

function sizeSum(sizes: number[]): number {
  let n = 0;
  for (const x of sizes) n += x;
  return n;
}

/** Whether b's bytes follow a's in the same memory (then a run's data needs no copy). */
function adjacent(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset + a.byteLength === b.byteOffset;
}

/** Chunks as they travel: runs of consecutive chunks of one stream, each one buffer. */
export function packChunks(chunks: RunChunkWire[]): PackedChunks[] {
  const out: PackedChunks[] = [];
  let i = 0;
  while (i < chunks.length) {
    const first = chunks[i] as RunChunkWire;
    let j = i + 1;
    let contiguous = true;
    while (j < chunks.length) {
      const prev = chunks[j - 1] as RunChunkWire;
      const c = chunks[j] as RunChunkWire;
      if (c.stream !== first.stream || c.seq !== prev.seq + 1) break;
      contiguous &&= adjacent(prev.data, c.data);
      j++;
    }
    const group = chunks.slice(i, j);
    const last = group[group.length - 1] as RunChunkWire;
    const data = contiguous ? new Uint8Array(first.data.buffer, first.data.byteOffset, last.data.byteOffset + last.data.byteLength - first.data.byteOffset) : Buffer.concat(group.map((c) => c.data));
    out.push({ seq: first.seq, stream: first.stream, sizes: group.map((c) => c.data.length), data });
    i = j;
  }
  return out;
}

/** The chunks again, each a view of its run's buffer (no copy). */
export function unpackChunks(packed: PackedChunks[]): RunChunkWire[] {
  const out: RunChunkWire[] = [];
  for (const p of packed) {
    let offset = 0;
    p.sizes.forEach((size, k) => {
      out.push({ seq: p.seq + k, stream: p.stream, data: p.data.subarray(offset, offset + size) as Uint8Array<ArrayBuffer> });
      offset += size;
    });
  }
  return out;
}

const CHUNK_CARRIERS = new Set(['run_output', 'replica_output']);

/** The run messages as they travel: those carrying output have their chunks packed. */
export const RunWireSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('run_output'), ...from, id: RunId, chunks: PackedChunkListSchema }),
  z.object({ type: z.literal('replica_output'), ...from, id: RunId, chunks: PackedChunkListSchema }),
  ...RunMessageSchema.options.filter((o) => !CHUNK_CARRIERS.has(o.shape.type.value)),
]);
type RunWire = z.infer<typeof RunWireSchema>;

export function runMessageToWire(msg: RunMessage): unknown {
  return msg.type === 'run_output' || msg.type === 'replica_output' ? { ...msg, chunks: packChunks(msg.chunks) } : msg;
}

/** The in-memory form of a run message that passed RunWireSchema. */
export function runMessageFromWire(wire: RunWire): RunMessage {
  // Every other type is the same in both forms.
  return wire.type === 'run_output' || wire.type === 'replica_output' ? { ...wire, chunks: unpackChunks(wire.chunks as PackedChunks[]) } : (wire as RunMessage);
}
export type RunMessageOf<T extends RunMessage['type']> = Extract<RunMessage, { type: T }>;
