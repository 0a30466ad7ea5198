import { z } from 'zod';
import { FILE_NAME_MAX, FILES_MAX } from '../gateway/api-types.js';
import { NodeNameSchema as Name } from '../protocol/names.js';
import { VERDICTS, type Verdict } from './verdicts.js';

/**
 * The Gateway standby's copy of the judge's submissions and batches, over the cluster links
 * (replica.ts). The serving Gateway keeps a journal of immutable entries — a submission as
 * accepted (problem id, language, files), a batch (its submissions in order), a test's final
 * result — numbered by one counter; the standby pulls it from where its copy ends, one bounded
 * answer at a time. Pull, as the problems' copy (sync.ts): a lost message only delays the copy to
 * the next ask, and the standby never has more than one answer (≤ ANSWER_BYTES_MAX) in flight on
 * the link that also carries the Gateway heartbeats.
 */

const Id = z.string().min(1).max(64);
/** The journal's identity: a fresh one per Gateway judge, so a standby knows when to start over. */
const Gen = z.string().min(1).max(64);
const Seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Time = z.string().max(40);

/** Bytes of items (as JSON) per answer: one answer, at most one item past it, stays well inside a 1 MiB frame. */
export const ANSWER_BYTES_MAX = 256 * 1024;
/** Items per answer, whatever their size. */
export const ANSWER_ITEMS_MAX = 2_000;
/** A submission's files, together: the largest item (it travels whole, beside ANSWER_BYTES_MAX of others at most). */
export const SUBMISSION_FILES_BYTES_MAX = 512 * 1024;
/** Text fields of a replicated test result (excerpts, messages): the judge clips them to 4 KiB anyway. */
export const RESULT_TEXT_MAX = 16 * 1024;
const TEXT_NAME_MAX = 1024;
/** Tests of one submission (a problem's bound) and submissions of one batch (the judge's). */
export const REPLICA_TESTS_MAX = 1_000;
export const REPLICA_BATCH_SUBMISSIONS_MAX = 500;

const Text = z.string().max(RESULT_TEXT_MAX);
const Num = z.number().min(0).max(Number.MAX_SAFE_INTEGER);

export const ReplicaTestResultSchema = z.object({
  test: z.string().max(TEXT_NAME_MAX),
  sample: z.boolean(),
  group: z.string().max(TEXT_NAME_MAX).nullable(),
  state: z.literal('done'),
  verdict: z.enum(VERDICTS as [Verdict, ...Verdict[]]),
  fraction: z.number().min(0).max(1),
  points_max: Num,
  cpu_time_ms: Num.nullable(),
  wall_time_ms: Num.nullable(),
  memory_kb: Num.nullable(),
  exit_code: z.number().int().nullable(),
  signal: z.number().int().nullable(),
  diff: z.object({ line: z.number().int().min(0), expected: Text.optional(), got: Text.optional() }).optional(),
  message: Text.optional(),
  input: Text.optional(),
  expected: Text.optional(),
  output: Text.optional(),
});

export const ReplicaItemSchema = z.discriminatedUnion('kind', [
  // A submission as the Gateway accepted it: enough to grade it from the start.
  z.object({
    kind: z.literal('sub'),
    id: Id,
    problem_id: Id,
    language: z.string().min(1).max(32),
    files: z
      .array(z.object({ name: z.string().min(1).max(FILE_NAME_MAX), content: z.string() }))
      .min(1)
      .max(FILES_MAX)
      .refine((fs) => fs.reduce((n, f) => n + Buffer.byteLength(f.content), 0) <= SUBMISSION_FILES_BYTES_MAX, `files over ${SUBMISSION_FILES_BYTES_MAX} bytes`),
    user: z.string().min(1).max(TEXT_NAME_MAX),
    student: z.string().max(TEXT_NAME_MAX).nullable(),
    batch: Id.nullable(),
    created_at: Time,
    tests: z.number().int().min(1).max(REPLICA_TESTS_MAX),
  }),
  // A batch: its submissions (sent before it) in the class's order.
  z.object({ kind: z.literal('batch'), id: Id, problem_id: Id, user: z.string().min(1).max(TEXT_NAME_MAX), subs: z.array(Id).min(1).max(REPLICA_BATCH_SUBMISSIONS_MAX), created_at: Time }),
  // A test's final result (never changes once final). `compile_output` rides on the first one
  // journaled after the compiler spoke; `finished_at` on the one that finished the submission.
  z.object({
    kind: z.literal('test'),
    sub: Id,
    index: z.number().int().min(0).max(REPLICA_TESTS_MAX - 1),
    result: ReplicaTestResultSchema,
    compiles: z.number().int().min(0).max(1_000_000),
    compile_output: z.string().max(64 * 1024).optional(),
    finished_at: Time.nullable(),
  }),
]);
export type ReplicaItem = z.infer<typeof ReplicaItemSchema>;
export type ReplicaTestResult = z.infer<typeof ReplicaTestResultSchema>;

export const JudgeReplicaMessageSchema = z.discriminatedUnion('type', [
  // standby -> Gateway: the journal after `after` (gen null: I hold no copy yet).
  z.object({ type: z.literal('judge_log_ask'), from: Name, gen: Gen.nullable(), after: Seq }),
  // Gateway -> standby: entries after..upto. `reset`: the asker's copy is of another journal (or
  // ahead of this one): drop it, this answer starts from the beginning. `more`: ask again at once.
  z.object({
    type: z.literal('judge_log'),
    from: Name,
    gen: Gen,
    reset: z.boolean(),
    after: Seq,
    upto: Seq,
    more: z.boolean(),
    items: z.array(ReplicaItemSchema).max(ANSWER_ITEMS_MAX),
  }),
]);
export type JudgeReplicaMessage = z.infer<typeof JudgeReplicaMessageSchema>;
