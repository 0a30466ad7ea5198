import { z } from 'zod';
import { NodeNameSchema as Name } from '../protocol/names.js';
import { JudgeReplicaMessageSchema } from './replica-messages.js';

/**
 * The Gateway standby's copy of the judge's problems, over the cluster links. Problems are
 * content-addressed and never change, so keeping the standby's set equal to the Gateway's is a
 * plain set sync: the standby asks for the list, then for each problem it lacks, which comes in
 * parts (frames hold 1 MiB; a problem may be 32 MiB). Pull, not push: a lost message only delays
 * the copy to the standby's next ask.
 */
const ProblemId = z.string().min(1).max(64);
/** Bytes of a problem's JSON (UTF-8) per part, sent as base64: 512 KiB, well inside a frame. */
export const PROBLEM_PART_BYTES = 384 * 1024;
/** Parts of one problem: its JSON is bounded like the package (32 MiB of tests, plus encoding). */
export const PROBLEM_PARTS_MAX = 128;
export const PROBLEM_IDS_MAX = 1000;

export const ProblemSyncMessageSchema = z.discriminatedUnion('type', [
  // standby -> Gateway: which problems do you hold?
  z.object({ type: z.literal('judge_problems_ask'), from: Name }),
  // Gateway -> standby
  z.object({ type: z.literal('judge_problems'), from: Name, ids: z.array(ProblemId).max(PROBLEM_IDS_MAX) }),
  // standby -> Gateway: send me this one.
  z.object({ type: z.literal('judge_problem_ask'), from: Name, id: ProblemId }),
  // Gateway -> standby: part `index` of `count` of the problem's JSON.
  z.object({
    type: z.literal('judge_problem_part'),
    from: Name,
    id: ProblemId,
    index: z.number().int().min(0).max(PROBLEM_PARTS_MAX - 1),
    count: z.number().int().min(1).max(PROBLEM_PARTS_MAX),
    data: z.string().max(Math.ceil(PROBLEM_PART_BYTES / 3) * 4),
  }),
]);
export type ProblemSyncMessage = z.infer<typeof ProblemSyncMessageSchema>;

/** Every judge_* message between a Gateway and its standby: the problems' copy and the journal's (replica-messages.ts). */
export const JudgeSyncMessageSchema = z.discriminatedUnion('type', [...ProblemSyncMessageSchema.options, ...JudgeReplicaMessageSchema.options]);
export type JudgeSyncMessage = z.infer<typeof JudgeSyncMessageSchema>;
