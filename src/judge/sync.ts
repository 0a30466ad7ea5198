import { withId, type Problem } from './problem.js';
import { PROBLEM_PART_BYTES, PROBLEM_PARTS_MAX, PROBLEM_IDS_MAX, type JudgeSyncMessage } from './sync-messages.js';

/** What the sync needs of a Gateway's judge (JudgeService has it). */
export interface ProblemStore {
  problem(id: string): Problem | undefined;
  listProblems(): Problem[];
  addProblem(p: Problem): { created: boolean };
}

/** A part-assembly that has heard nothing this long is dropped (the next ask starts over). */
export const ASSEMBLY_STALE_MS = 30_000;

/**
 * Both sides of the standby's problem copy (see sync-messages.ts). The Gateway side answers asks;
 * the standby side asks the Gateway (the epoch's holder) on every tick and fetches one missing
 * problem at a time. A received problem is accepted only if its content hashes to its id, so a
 * torn or foreign copy is never stored.
 */
export class ProblemSync {
  private assembly: { id: string; from: string; count: number; parts: Array<Buffer | undefined>; got: number; heardMs: number } | null = null;
  /** Problems copied in so far (tests and logs). */
  copied = 0;

  constructor(
    private readonly self: string,
    private readonly send: (to: string, msg: JudgeSyncMessage) => void,
  ) {}

  /** Standby side, on its timer: ask the Gateway what it holds (unless a copy is under way). */
  tick(gateway: string | null, nowMs: number): void {
    if (this.assembly && nowMs - this.assembly.heardMs > ASSEMBLY_STALE_MS) this.assembly = null;
    if (!gateway || gateway === this.self || this.assembly) return;
    this.send(gateway, { type: 'judge_problems_ask', from: this.self });
  }

  receive(from: string, msg: JudgeSyncMessage, store: ProblemStore | null, nowMs: number): void {
    if (!store) return;
    switch (msg.type) {
      case 'judge_problems_ask':
        this.send(from, { type: 'judge_problems', from: this.self, ids: store.listProblems().slice(0, PROBLEM_IDS_MAX).map((p) => p.id) });
        return;
      case 'judge_problem_ask': {
        const p = store.problem(msg.id);
        if (!p) return;
        const bytes = Buffer.from(JSON.stringify(p));
        const count = Math.max(1, Math.ceil(bytes.length / PROBLEM_PART_BYTES));
        if (count > PROBLEM_PARTS_MAX) return;
        for (let i = 0; i < count; i++) {
          const data = bytes.subarray(i * PROBLEM_PART_BYTES, (i + 1) * PROBLEM_PART_BYTES).toString('base64');
          this.send(from, { type: 'judge_problem_part', from: this.self, id: p.id, index: i, count, data });
        }
        return;
      }
      case 'judge_problems': {
        if (this.assembly) return;
        const missing = msg.ids.find((id) => !store.problem(id));
        if (!missing) return;
        this.assembly = { id: missing, from, count: 0, parts: [], got: 0, heardMs: nowMs };
        this.send(from, { type: 'judge_problem_ask', from: this.self, id: missing });
        return;
      }
      case 'judge_problem_part': {
        const a = this.assembly;
        if (!a || a.id !== msg.id || a.from !== from) return;
        if (a.count === 0) {
          a.count = msg.count;
          a.parts = new Array<Buffer | undefined>(msg.count);
        }
        if (msg.count !== a.count || msg.index >= a.count) return void (this.assembly = null);
        if (!a.parts[msg.index]) {
          a.parts[msg.index] = Buffer.from(msg.data, 'base64');
          a.got++;
        }
        a.heardMs = nowMs;
        if (a.got < a.count) return;
        this.assembly = null;
        let p: Problem;
        try {
          p = JSON.parse(Buffer.concat(a.parts as Buffer[]).toString('utf8')) as Problem;
        } catch {
          return;
        }
        if (!p || typeof p !== 'object' || !Array.isArray(p.tests) || withId(p).id !== msg.id) return;
        store.addProblem(withId(p));
        this.copied++;
        // More may be missing: ask again at once rather than on the next tick.
        this.send(from, { type: 'judge_problems_ask', from: this.self });
        return;
      }
      case 'judge_log_ask':
      case 'judge_log':
        return; // the submissions' copy (replica.ts), not the problems'
      default: {
        const never: never = msg;
        throw new Error(`unhandled ${JSON.stringify(never)}`);
      }
    }
  }
}
