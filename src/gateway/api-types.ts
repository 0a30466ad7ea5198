import { z } from 'zod';
import type { RunStatusName } from '../protocol/run-status.js';
import type { StreamName } from '../protocol/output.js';

/**
 * The client-facing API's shapes: HTTP bodies and WebSocket messages, validated once at the edge.
 * Field names follow Judge0/Piston where they overlap (language, source, files, stdin,
 * cpu_time_limit, memory_limit, status, stdout, stderr, compile_output, exit_code ...).
 * Units follow Judge0: time limits in seconds (fractions allowed), memory in KB.
 */

export const FILE_NAME_MAX = 128;
export const FILES_MAX = 16;
/** A line of typed input; longer pastes are split by the client. */
export const STDIN_MESSAGE_BYTES_MAX = 64 * 1024;

export const SourceFileSchema = z.strictObject({
  name: z.string().min(1).max(FILE_NAME_MAX),
  content: z.string(),
});

/**
 * A positive whole number of any size: the range is validateLimits' to check, so that 1e300 gets
 * the configured range like every other out-of-range limit (zod's int() would say "expected int to
 * be <=9007199254740991" first).
 */
const wholeNumber = () => z.number().positive().refine(Number.isInteger, { message: 'expected a whole number' });

const RunSpecFields = {
    language: z.string().min(1).max(32),
    source: z.string().optional(),
    files: z.array(SourceFileSchema).min(1).max(FILES_MAX).optional(),
    stdin: z.string().optional(),
    cpu_time_limit: z.number().positive().optional(),
    wall_time_limit: z.number().positive().optional(),
    memory_limit: wholeNumber().optional(),
    /** Bytes of stdout + stderr kept and streamed; past it the run ends with output_limit. */
    output_limit: wholeNumber().optional(),
    /** HTTP only: answer with the finished result instead of {id}. */
    wait: z.boolean().optional(),
    /** WebSocket runs are interactive (a pseudo-terminal) unless this is false. */
    interactive: z.boolean().optional(),
};

const oneSource = (r: { source?: string | undefined; files?: unknown }) => (r.source === undefined) !== (r.files === undefined);
const ONE_SOURCE = { message: 'give exactly one of "source" or "files"' };

export const RunSpecSchema = z.strictObject(RunSpecFields).refine(oneSource, ONE_SOURCE);
export type RunSpec = z.infer<typeof RunSpecSchema>;

/** WebSocket only: output as binary frames (see encodeOutputFrame) instead of base64 in JSON. */
const binaryOutput = { binary_output: z.boolean().optional() };

export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...RunSpecFields, ...binaryOutput, type: z.literal('start') }),
  z.strictObject({ type: z.literal('stdin'), data: z.string().max(STDIN_MESSAGE_BYTES_MAX) }),
  z.strictObject({ type: z.literal('eof') }),
  z.strictObject({ type: z.literal('kill') }),
  z.strictObject({
    type: z.literal('resume'),
    id: z.string().max(64),
    resume_token: z.string().max(128),
    /** The last sequence number the client has; -1 when it has none. */
    last_seq: z.number().int().min(-1),
    ...binaryOutput,
  }),
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

/** Checks what a discriminated union cannot: a "start" names exactly one of source and files. */
export function parseClientMessage(raw: unknown): ReturnType<typeof ClientMessageSchema.safeParse> {
  const r = ClientMessageSchema.safeParse(raw);
  if (r.success && r.data.type === 'start' && !oneSource(r.data)) {
    return { success: false, error: new z.ZodError([{ code: 'custom', path: ['source'], message: ONE_SOURCE.message, input: r.data }]) } as ReturnType<typeof ClientMessageSchema.safeParse>;
  }
  return r;
}

export type { RunStatusName } from '../protocol/run-status.js';

/** What GET /api/v1/runs/:id and the WebSocket "exit" message carry. */
export interface RunView {
  id: string;
  status: RunStatusName;
  language: string;
  version: string | null;
  stdout: string;
  stderr: string;
  compile_output: string;
  exit_code: number | null;
  signal: number | null;
  cpu_time_ms: number | null;
  wall_time_ms: number | null;
  memory_kb: number | null;
  worker: string | null;
  assigner: string | null;
  created_at: string;
  finished_at: string | null;
  message?: string;
}

export type ServerMessage =
  | { type: 'accepted'; id: string; resume_token: string }
  | { type: 'queued'; position: number }
  | { type: 'started'; worker: string | null }
  /** A batch run's Worker was lost and the run starts again elsewhere: drop its output so far. */
  | { type: 'restarted'; attempt: number }
  /**
   * data is base64: output is bytes, and a chunk may end inside a UTF-8 character. One message may
   * carry several consecutive chunks of one stream: first_seq..seq (seq is the last; resume with it).
   */
  | { type: 'output'; stream: StreamName; seq: number; first_seq: number; data: string }
  /** result's stdout, stderr and compile_output are empty here: they came as output messages. */
  | { type: 'exit'; result: RunView }
  | { type: 'error'; code: string; message: string };

/** One node as GET /api/v1/cluster shows it. */
export interface NodeView {
  name: string;
  address: string;
  pid: number | null;
  role: 'gateway' | 'monitor' | 'assigner' | 'worker' | 'empty';
  state: 'alive' | 'suspect' | 'dead';
  load: { psi_cpu: number; psi_memory: number; psi_io: number; slots_free: number; slots_busy: number } | null;
  runs: number;
}

export interface ClusterView {
  nodes: NodeView[];
  queue_length: number;
  leader: string | null;
  term: number;
}
