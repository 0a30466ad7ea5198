import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Counter, type Registry } from 'prom-client';
import { DEFAULT_LIMITS, MAX_LIMITS, type Limits } from '../sandbox/limits.js';
import { OperatingError, type OperatingErrorCode } from '../protocol/errors.js';
import { isRetryableStartError, type AcceptedRun, type BackendResult, type OutputChunk, type RunBackend, type RunSink } from '../gateway/backend.js';
import type { Problem } from './problem.js';
import { JudgeJournal, type JournalEntry, type JudgeReplica } from './replica.js';
import { RESULT_TEXT_MAX, SUBMISSION_FILES_BYTES_MAX, type JudgeReplicaMessage, type ReplicaItem, type ReplicaTestResult } from './replica-messages.js';
import { SHOWN_BYTES_MAX, SubmissionJob, type RunEnd, type Task, type TestResult } from './submission.js';
import { shortOf, type Verdict } from './verdicts.js';

/**
 * The judge on the Gateway: problems (on disk in the Gateway's state dir), submissions and batches
 * (in memory), and the dispatcher that turns each test into an ordinary batch run on the existing
 * run path (Assigner buddy pair → Worker → sandbox), so a lost Worker's test is placed again by the
 * Assigner and a dead Assigner's test is carried on by its buddy, as for any batch run.
 *
 * Priority: the judge never has more than 2 runs out per Worker slot (one running, one waiting at
 * the Assigner), and while any client run waits in a queue it starts no new test. An interactive
 * run therefore waits at most for one running and one queued test per slot (each bounded by the
 * problem's time limit; milliseconds for most tests), and never behind the rest of a batch.
 * Reserving slots instead would leave them idle during grading on a quiet lab (on 2 slots, half).
 */

export const JUDGE_BOUNDS = {
  /** Submissions in one batch (a class). */
  batchSubmissionsMax: 500,
  /** Tests of unfinished submissions together: past it new submissions get 503. */
  queuedTestsMax: 50_000,
  /** Finished submissions kept for GET; the oldest go first. */
  submissionsRetainedMax: 5_000,
  batchesRetainedMax: 200,
  problemsMax: 1_000,
  /** A run refused for want of capacity is tried again every retryMs, this many times (~2 min). */
  capacityRetriesMax: 240,
  retryMs: 500,
  /** A test whose run came back node_lost (the run path's own re-placements spent) is tried again this often. */
  lostRetriesMax: 2,
  /** Slots assumed when the backend reports none (a local backend). */
  slotsFallback: 2,
  /**
   * Judge runs out per Worker slot: 2 keeps one test waiting at each Worker's Assigner while one
   * runs, so a slot never idles for the round trip Gateway → Assigner → Worker between tests
   * (measured: with 1, two Workers sat idle about half the time on short tests). The cost: an
   * interactive run arriving may wait behind one queued test per slot, besides the running one.
   */
  runsPerSlotMax: 2,
  /**
   * A submission's files together. Below the runs API's source cap: the standby's copy carries a
   * submission whole in one message (replica-messages.ts), as a run carries it to a Worker.
   */
  submissionFilesBytesMax: SUBMISSION_FILES_BYTES_MAX,
  /** Files of every submission held: finished ones go first past it, then new ones get 503. */
  heldFilesBytesMax: 256 * 1024 * 1024,
};

/** What the standby's copy of the journal is bounded by: the judge's own bounds. */
export const REPLICA_BOUNDS = {
  submissionsMax: JUDGE_BOUNDS.submissionsRetainedMax + JUDGE_BOUNDS.queuedTestsMax,
  filesBytesMax: JUDGE_BOUNDS.heldFilesBytesMax,
  batchesMax: JUDGE_BOUNDS.batchesRetainedMax,
};

/** What adopt() found in a standby's copy. */
export interface AdoptReport {
  submissions: number;
  finished: number;
  batches: number;
  /** Tests without a final result there: they run here. */
  testsToRun: number;
  /** Submissions whose problem this Gateway lacks (not copied before the failover): not resumed. */
  lost: string[];
}

/** What a custom checker run may use: generous, fixed; its failure is the judge's, never the student's. */
const CHECKER_LIMITS: Partial<Limits> = { cpuTimeMs: 10_000, wallTimeMs: 30_000, memoryKb: 512 * 1024, outputBytesMax: 1024 * 1024 };

/** The judge's operating errors: status and hint from the error table (src/protocol/errors.ts). */
export class JudgeError extends OperatingError {
  constructor(code: OperatingErrorCode, message: string) {
    super(code, message);
    this.name = 'JudgeError';
  }
}

export type JudgeEvent =
  | { type: 'submission_progress'; submission: string; student: string | null; test: TestResult; done: number; total: number }
  | { type: 'submission_result'; submission: string; student: string | null; result: SubmissionView }
  | { type: 'batch_result'; batch: string; result: BatchView };

export interface SubmissionView {
  id: string;
  problem_id: string;
  language: string;
  student: string | null;
  batch_id: string | null;
  state: 'queued' | 'running' | 'done';
  verdict: Verdict | null;
  score: number;
  max_score: number;
  done: number;
  total: number;
  compiles: number;
  compile_output: string;
  tests: TestResult[];
  created_at: string;
  finished_at: string | null;
}

export interface BatchView {
  id: string;
  problem_id: string;
  state: 'running' | 'done';
  done: number;
  total: number;
  tests_done: number;
  tests_total: number;
  verdicts: Partial<Record<Verdict, number>>;
  students: Array<{ student: string; submission_id: string; state: SubmissionView['state']; verdict: Verdict | null; score: number; max_score: number; tests: Array<string | null> }>;
}

export interface SubmissionInput {
  problem: Problem;
  language: string;
  files: Array<{ name: string; content: string }>;
  user: string;
  student?: string;
  batch?: string;
}

class Submission {
  finishedAt: Date | null = null;
  /** Bytes of its files (the judge's bound on what it holds). */
  readonly bytes: number;
  /** The compiler's messages were journaled (they ride on one test entry). */
  compileJournaled = false;
  readonly listeners = new Set<(e: JudgeEvent) => void>();
  readonly waiters: Array<() => void> = [];
  started = false;

  constructor(
    readonly id: string,
    readonly input: SubmissionInput,
    readonly job: SubmissionJob,
    readonly createdAt = new Date(),
  ) {
    this.bytes = filesBytes(input.files);
  }

  view(): SubmissionView {
    const { score, max } = this.job.score();
    return {
      id: this.id,
      problem_id: this.input.problem.id,
      language: this.input.language,
      student: this.input.student ?? null,
      batch_id: this.input.batch ?? null,
      state: this.job.done ? 'done' : this.started ? 'running' : 'queued',
      verdict: this.job.verdict(),
      score,
      max_score: max,
      done: this.job.finishedTests,
      total: this.job.total,
      compiles: this.job.compiles,
      compile_output: this.job.compileOutput,
      tests: this.job.results.map((r) => ({ ...r })),
      created_at: this.createdAt.toISOString(),
      finished_at: this.finishedAt?.toISOString() ?? null,
    };
  }
}

function filesBytes(files: Array<{ content: string }>): number {
  return files.reduce((n, f) => n + Buffer.byteLength(f.content), 0);
}

const clipText = (s: string) => (s.length > RESULT_TEXT_MAX ? s.slice(0, RESULT_TEXT_MAX) : s);

interface Batch {
  id: string;
  createdAt: Date;
  user: string;
  problem: Problem;
  submissions: Submission[];
  listeners: Set<(e: JudgeEvent) => void>;
  finished: boolean;
}

interface Pending {
  sub: Submission;
  task: Task;
  capacityRetries: number;
  lostRetries: number;
}

/** Collects one run's output for the judge: stdout up to the run's output limit, stderr and compile messages clipped. */
class TestSink implements RunSink {
  private nextSeq = 0;
  private stdout: Buffer[] = [];
  private stdoutBytes = 0;
  private stderr = '';
  private compile = '';
  queuedNow = false;

  constructor(
    private readonly outputBytesMax: number,
    private readonly onQueued: (queued: boolean) => void,
    private readonly onExit: (end: RunEnd) => void,
  ) {}

  queued(): void {
    if (!this.queuedNow) this.onQueued(true);
    this.queuedNow = true;
  }
  started(): void {
    if (this.queuedNow) this.onQueued(false);
    this.queuedNow = false;
  }
  reassigned(): void {}
  restarted(): void {
    // A lost Worker's test starts again elsewhere: what it printed so far is void. It waits for a
    // Worker again (the backend counts it queued until it starts).
    if (!this.queuedNow) this.onQueued(true);
    this.queuedNow = true;
    this.stdout = [];
    this.stdoutBytes = 0;
    this.stderr = '';
    this.compile = '';
    this.nextSeq = 0;
  }
  output(c: OutputChunk): void {
    if (c.seq < this.nextSeq) return; // replayed after a takeover: keep one of each
    this.nextSeq = c.seq + 1;
    if (c.stream === 'stdout') {
      const room = this.outputBytesMax - this.stdoutBytes;
      if (room <= 0) return;
      const d = c.data.length > room ? c.data.subarray(0, room) : c.data;
      this.stdout.push(Buffer.from(d));
      this.stdoutBytes += d.length;
    } else if (c.stream === 'stderr') {
      if (this.stderr.length < SHOWN_BYTES_MAX) this.stderr += c.data.toString('utf8');
    } else if (this.compile.length < 64 * 1024) this.compile += c.data.toString('utf8');
  }
  exit(r: BackendResult): void {
    if (this.queuedNow) this.onQueued(false);
    this.queuedNow = false;
    this.onExit({
      status: r.status,
      exitCode: r.exit_code,
      signal: r.signal,
      cpuTimeMs: r.cpu_time_ms,
      wallTimeMs: r.wall_time_ms,
      memoryKb: r.memory_kb,
      stdout: Buffer.concat(this.stdout),
      stderr: this.stderr.slice(0, SHOWN_BYTES_MAX),
      compileOutput: this.compile,
      ...(r.message ? { message: r.message } : {}),
      ...(r.compiled !== undefined ? { compiled: r.compiled } : {}),
    });
  }
}

export interface JudgeOptions {
  backend: RunBackend;
  /** Where problems are kept across restarts; null keeps them in memory only (tests). */
  stateDir: string | null;
  limitsMax?: Limits;
  registry?: Registry;
}

export class JudgeService {
  private readonly problems = new Map<string, Problem>();
  private readonly submissions = new Map<string, Submission>();
  private readonly finishedOrder: string[] = [];
  private readonly batches = new Map<string, Batch>();
  private readonly batchOrder: string[] = [];
  /** Tests of single submissions go before a batch's: a student waiting on one answer comes first. */
  private readonly soloQueue: Pending[] = [];
  private readonly batchQueue: Pending[] = [];
  private inFlight = 0;
  private ownQueued = 0;
  private queuedTests = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Bytes of the files of every submission held. */
  private heldBytes = 0;
  /** What the standby copies (replica.ts); a fresh identity per judge, so a standby's copy of another Gateway's is replaced. */
  readonly journal = new JudgeJournal(randomUUID());
  /** In run ids: a Gateway that took over never reuses the ids of the runs the dead one left at the Assigners. */
  private readonly runTag = this.journal.gen.slice(0, 8);
  private readonly problemDir: string | null;
  private readonly metrics: { compiles: Counter; tests: Counter; submissions: Counter } | null;

  constructor(private readonly opts: JudgeOptions) {
    this.problemDir = opts.stateDir ? path.join(opts.stateDir, 'problems') : null;
    if (this.problemDir) this.loadProblems(this.problemDir);
    const registers = opts.registry ? [opts.registry] : [];
    this.metrics = opts.registry
      ? {
          compiles: new Counter({ name: 'codearena_judge_compiles_total', help: 'Compiles the judge\'s runs reported (the compile cache spares the rest)', registers }),
          tests: new Counter({ name: 'codearena_judge_tests_total', help: 'Judged tests by verdict', labelNames: ['verdict'], registers }),
          submissions: new Counter({ name: 'codearena_judge_submissions_total', help: 'Finished submissions by verdict', labelNames: ['verdict'], registers }),
        }
      : null;
  }

  // ---- problems

  private loadProblems(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const n of readdirSync(dir).filter((x) => x.endsWith('.json')).slice(0, JUDGE_BOUNDS.problemsMax)) {
      try {
        const p = JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as Problem;
        if (typeof p.id === 'string' && Array.isArray(p.tests)) this.problems.set(p.id, p);
      } catch {
        // A torn write (crash mid-save) is only a lost upload: the rename below makes it rare.
      }
    }
  }

  addProblem(p: Problem): { created: boolean } {
    if (this.problems.has(p.id)) return { created: false };
    if (this.problems.size >= JUDGE_BOUNDS.problemsMax) throw new JudgeError('TOO_MANY_PROBLEMS', `the Gateway holds ${JUDGE_BOUNDS.problemsMax} problems already`);
    if (this.problemDir) {
      const tmp = path.join(this.problemDir, `.${p.id}.tmp`);
      writeFileSync(tmp, JSON.stringify(p));
      renameSync(tmp, path.join(this.problemDir, `${p.id}.json`));
    }
    this.problems.set(p.id, p);
    return { created: true };
  }

  problem(id: string): Problem | undefined {
    return this.problems.get(id);
  }

  listProblems(): Problem[] {
    return [...this.problems.values()];
  }

  // ---- submissions

  submit(input: SubmissionInput, solo = true): Submission {
    if (this.closed) throw new JudgeError('CLOSED', 'this Gateway is stopping');
    const n = input.problem.tests.length;
    if (this.queuedTests + n > JUDGE_BOUNDS.queuedTestsMax) {
      throw new JudgeError('JUDGE_QUEUE_FULL', `the judge has ${this.queuedTests} tests waiting; at most ${JUDGE_BOUNDS.queuedTestsMax} — try again later`);
    }
    this.checkFiles([input.files]);
    const sub = new Submission(randomUUID(), input, new SubmissionJob(input.problem));
    this.hold(sub);
    this.journal.append({ kind: 'sub', id: sub.id });
    this.queuedTests += n;
    this.enqueue(sub, solo);
    return sub;
  }

  private hold(sub: Submission): void {
    this.submissions.set(sub.id, sub);
    this.heldBytes += sub.bytes;
  }

  /** Each submission's files within their bound, and room for all of them (finished submissions make room). */
  private checkFiles(list: Array<Array<{ content: string }>>): void {
    let total = 0;
    for (const files of list) {
      const n = filesBytes(files);
      if (n > JUDGE_BOUNDS.submissionFilesBytesMax) {
        throw new JudgeError('SUBMISSION_TOO_LARGE', `a submission's files are ${n} bytes; the judge takes at most ${JUDGE_BOUNDS.submissionFilesBytesMax} (its standby copies each one whole)`);
      }
      total += n;
    }
    if (!this.makeRoom(total)) {
      throw new JudgeError('JUDGE_QUEUE_FULL', `the judge holds ${this.heldBytes} bytes of submissions; at most ${JUDGE_BOUNDS.heldFilesBytesMax} — try again when some are graded`);
    }
  }

  submission(id: string): Submission | undefined {
    return this.submissions.get(id);
  }

  submitBatch(problem: Problem, user: string, items: Array<Omit<SubmissionInput, 'problem' | 'batch' | 'user'>>): Batch {
    if (items.length === 0) throw new JudgeError('EMPTY_BATCH', 'the batch has no submissions');
    if (items.length > JUDGE_BOUNDS.batchSubmissionsMax) throw new JudgeError('BATCH_TOO_LARGE', `${items.length} submissions; a batch holds at most ${JUDGE_BOUNDS.batchSubmissionsMax}`);
    const tests = items.length * problem.tests.length;
    if (this.queuedTests + tests > JUDGE_BOUNDS.queuedTestsMax) {
      throw new JudgeError('JUDGE_QUEUE_FULL', `the batch has ${tests} tests and ${this.queuedTests} are waiting; at most ${JUDGE_BOUNDS.queuedTestsMax} — try again later`);
    }
    this.checkFiles(items.map((it) => it.files));
    const id = randomUUID();
    const batch: Batch = { id, createdAt: new Date(), user, problem, submissions: [], listeners: new Set(), finished: false };
    this.batches.set(id, batch);
    this.batchOrder.push(id);
    while (this.batchOrder.length > JUDGE_BOUNDS.batchesRetainedMax) {
      const old = this.batches.get(this.batchOrder[0] as string);
      if (old && !old.finished) break;
      this.batches.delete(this.batchOrder.shift() as string);
      this.journal.forgot(1, (e) => this.journaled(e));
    }
    for (const it of items) batch.submissions.push(this.submit({ ...it, user, problem, batch: id }, false));
    this.journal.append({ kind: 'batch', id });
    return batch;
  }

  batch(id: string): Batch | undefined {
    return this.batches.get(id);
  }

  batchView(b: Batch): BatchView {
    const verdicts: Partial<Record<Verdict, number>> = {};
    let testsDone = 0;
    const students = b.submissions.map((s) => {
      const v = s.view();
      testsDone += v.done;
      for (const t of v.tests) if (t.verdict) verdicts[t.verdict] = (verdicts[t.verdict] ?? 0) + 1;
      return { student: v.student ?? '', submission_id: v.id, state: v.state, verdict: v.verdict, score: v.score, max_score: v.max_score, tests: v.tests.map((t) => (t.verdict ? shortOf(t.verdict) : null)) };
    });
    const done = students.filter((s) => s.state === 'done').length;
    return {
      id: b.id,
      problem_id: b.problem.id,
      state: done === students.length ? 'done' : 'running',
      done,
      total: students.length,
      tests_done: testsDone,
      tests_total: students.length * b.problem.tests.length,
      verdicts,
      students,
    };
  }

  /** One row per student, one column per test (short verdicts), then the score. */
  batchCsv(b: Batch): string {
    const esc = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    const v = this.batchView(b);
    const head = ['student', 'submission_id', 'verdict', ...b.problem.tests.map((t) => t.name), 'score', 'max_score'];
    const rows = v.students.map((s) => [s.student, s.submission_id, s.verdict ?? '', ...s.tests.map((t) => t ?? ''), String(s.score), String(s.max_score)]);
    return [head, ...rows].map((r) => r.map(esc).join(',')).join('\n') + '\n';
  }

  subscribeSubmission(sub: Submission, fn: (e: JudgeEvent) => void): () => void {
    sub.listeners.add(fn);
    return () => sub.listeners.delete(fn);
  }

  subscribeBatch(b: Batch, fn: (e: JudgeEvent) => void): () => void {
    b.listeners.add(fn);
    return () => b.listeners.delete(fn);
  }

  /** Resolves when the submission has its final result. */
  done(sub: Submission): Promise<void> {
    if (sub.job.done) return Promise.resolve();
    return new Promise((r) => sub.waiters.push(r));
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  // ---- dispatch

  private enqueue(sub: Submission, solo: boolean): void {
    const q = solo ? this.soloQueue : this.batchQueue;
    for (const task of sub.job.take()) q.push({ sub, task, capacityRetries: 0, lostRetries: 0 });
    this.pump();
  }

  /** Worker slots of the live Workers: the judge's own bound on runs out at once. */
  private capacity(): number {
    let slots = 0;
    for (const n of this.opts.backend.cluster().nodes) {
      if (n.role === 'worker' && n.state === 'alive' && n.load) slots += n.load.slots_free + n.load.slots_busy;
    }
    return (slots > 0 ? slots : JUDGE_BOUNDS.slotsFallback) * JUDGE_BOUNDS.runsPerSlotMax;
  }

  /** Client runs (not the judge's) waiting in a queue: while there are any, the judge starts nothing. */
  private clientsWaiting(): number {
    return Math.max(0, this.opts.backend.queueLength() - this.ownQueued);
  }

  private pump(): void {
    if (this.closed || this.retryTimer) return;
    const cap = this.capacity();
    while (this.inFlight < cap && (this.soloQueue.length > 0 || this.batchQueue.length > 0)) {
      if (this.clientsWaiting() > 0) {
        this.retryLater();
        return;
      }
      const p = (this.soloQueue.shift() ?? this.batchQueue.shift()) as Pending;
      this.start(p);
    }
  }

  private retryLater(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, JUDGE_BOUNDS.retryMs);
    this.retryTimer.unref();
  }

  private runFor(p: Pending): AcceptedRun {
    const { sub, task } = p;
    const problem = sub.input.problem;
    const test = problem.tests[task.test] as Problem['tests'][number];
    const max = this.opts.limitsMax ?? MAX_LIMITS;
    const clamp = (l: Partial<Limits>): Limits => {
      const out = { ...DEFAULT_LIMITS, ...l };
      for (const k of Object.keys(out) as Array<keyof Limits>) out[k] = Math.min(out[k], max[k]);
      return out;
    };
    const id = `j-${sub.id}-${task.test}-${task.kind === 'program' ? 'p' : 'c'}${p.lostRetries}-${this.runTag}`;
    if (task.kind === 'program') {
      const files = sub.input.files;
      return { id, user: sub.input.user, language: sub.input.language, files, main: (files[0] as { name: string }).name, stdin: test.input, interactive: false, limits: clamp(test.limits) };
    }
    const c = problem.checker;
    if (c.kind !== 'custom') throw new Error('checker task without a custom checker');
    const output = task.output.toString('utf8');
    const files = [...c.files, { name: 'input.data', content: test.input }, { name: 'answer.data', content: test.answer }];
    const main = (c.files[0] as { name: string }).name;
    const limits = clamp(CHECKER_LIMITS);
    // testlib: checker <input> <output> <answer> (files: its stdin is not a file it can open);
    // Kattis: validator <input> <answer> <feedback_dir> < output.
    if (c.protocol === 'testlib') {
      return { id, user: 'judge', language: c.language, files: [...files, { name: 'output.data', content: output }], main, stdin: '', interactive: false, limits, args: ['input.data', 'output.data', 'answer.data'] };
    }
    return { id, user: 'judge', language: c.language, files, main, stdin: output, interactive: false, limits, args: ['input.data', 'answer.data', '.'] };
  }

  private start(p: Pending): void {
    const run = this.runFor(p);
    this.inFlight++;
    p.sub.started = true;
    let ended = false;
    const sink = new TestSink(
      run.limits.outputBytesMax,
      (q) => (this.ownQueued += q ? 1 : -1),
      (end) => {
        if (ended) return; // the run path ends a run once; this guards the judge's count anyway
        ended = true;
        this.inFlight--;
        this.onEnd(p, end);
      },
    );
    this.opts.backend.start(run, sink).catch((err: unknown) => {
      if (ended) return;
      ended = true;
      this.inFlight--;
      if (sink.queuedNow) this.ownQueued--;
      if (isRetryableStartError(err) && p.capacityRetries < JUDGE_BOUNDS.capacityRetriesMax) {
        p.capacityRetries++;
        (p.sub.input.batch ? this.batchQueue : this.soloQueue).unshift(p);
        this.retryLater();
        return;
      }
      this.apply(p.sub, () => p.sub.job.taskFailed(p.task.test, `the test could not be placed: ${(err as Error).message}`));
    });
  }

  private onEnd(p: Pending, end: RunEnd): void {
    if (end.status === 'node_lost' && p.lostRetries < JUDGE_BOUNDS.lostRetriesMax) {
      p.lostRetries++;
      (p.sub.input.batch ? this.batchQueue : this.soloQueue).unshift(p);
      this.pump();
      return;
    }
    if (end.compiled) this.metrics?.compiles.inc();
    this.apply(p.sub, () => {
      if (p.task.kind === 'program') p.sub.job.programEnded(p.task.test, end);
      else p.sub.job.checkerEnded(p.task.test, end);
    });
  }

  /** Changes a submission's job, tells its listeners what finished, queues what it can run next. */
  private apply(sub: Submission, change: () => void): void {
    const before = sub.job.results.map((r) => r.state);
    change();
    const total = sub.job.total;
    const batch = sub.input.batch ? this.batches.get(sub.input.batch) : undefined;
    const emit = (e: JudgeEvent) => {
      for (const fn of sub.listeners) fn(e);
      if (batch) for (const fn of batch.listeners) fn(e);
    };
    sub.job.results.forEach((r, i) => {
      if (r.state === 'done' && before[i] !== 'done') {
        const withCompile = !sub.compileJournaled && sub.job.compileOutput !== '';
        if (withCompile) sub.compileJournaled = true;
        this.journal.append({ kind: 'test', id: sub.id, index: i, withCompile });
        this.queuedTests--;
        this.metrics?.tests.inc({ verdict: r.verdict ?? 'none' });
        emit({ type: 'submission_progress', submission: sub.id, student: sub.input.student ?? null, test: { ...r }, done: sub.job.finishedTests, total });
      }
    });
    if (sub.job.done) {
      if (sub.finishedAt) return;
      // Set before the journal's entries are read (they are read when the standby asks).
      sub.finishedAt = new Date();
      this.metrics?.submissions.inc({ verdict: sub.job.verdict() ?? 'none' });
      emit({ type: 'submission_result', submission: sub.id, student: sub.input.student ?? null, result: sub.view() });
      for (const w of sub.waiters.splice(0)) w();
      this.finishedOrder.push(sub.id);
      this.evict();
      if (batch && !batch.finished && batch.submissions.every((s) => s.job.done)) {
        batch.finished = true;
        const result = this.batchView(batch);
        for (const fn of batch.listeners) fn({ type: 'batch_result', batch: batch.id, result });
      }
    } else {
      const q = sub.input.batch ? this.batchQueue : this.soloQueue;
      for (const task of sub.job.take()) q.push({ sub, task, capacityRetries: 0, lostRetries: 0 });
    }
    this.pump();
  }

  private evict(): void {
    while (this.finishedOrder.length > JUDGE_BOUNDS.submissionsRetainedMax) {
      const id = this.finishedOrder.shift() as string;
      const s = this.submissions.get(id);
      // A submission of a batch still listed stays, so the batch's view stays whole.
      if (s?.input.batch && this.batches.has(s.input.batch)) {
        this.finishedOrder.push(id);
        break;
      }
      if (s) this.drop(s);
    }
  }

  private drop(s: Submission): void {
    this.submissions.delete(s.id);
    this.heldBytes -= s.bytes;
    this.journal.forgot(1 + s.job.finishedTests, (e) => this.journaled(e));
  }

  /** Drops the oldest finished submissions (not of a batch still listed) until `bytes` more fit. */
  private makeRoom(bytes: number): boolean {
    if (this.heldBytes + bytes <= JUDGE_BOUNDS.heldFilesBytesMax) return true;
    for (let k = 0; k < this.finishedOrder.length && this.heldBytes + bytes > JUDGE_BOUNDS.heldFilesBytesMax; ) {
      const s = this.submissions.get(this.finishedOrder[k] as string);
      if (s?.input.batch && this.batches.has(s.input.batch)) {
        k++;
        continue;
      }
      this.finishedOrder.splice(k, 1);
      if (s) this.drop(s);
    }
    return this.heldBytes + bytes <= JUDGE_BOUNDS.heldFilesBytesMax;
  }

  // ---- the standby's copy (replica.ts)

  /** Whether what a journal entry names is still held. */
  private journaled(e: JournalEntry): boolean {
    return e.kind === 'batch' ? this.batches.has(e.id) : this.submissions.has(e.id);
  }

  /** Answers a standby's ask for the journal. `refused` counts items the wire schema would not take (a bug: logged). */
  answerLog(self: string, ask: Extract<JudgeReplicaMessage, { type: 'judge_log_ask' }>): { message: Extract<JudgeReplicaMessage, { type: 'judge_log' }>; refused: number } {
    return this.journal.answer(self, ask, (e) => this.itemOf(e));
  }

  private itemOf(e: JournalEntry): ReplicaItem | null {
    switch (e.kind) {
      case 'sub': {
        const s = this.submissions.get(e.id);
        if (!s) return null;
        const i = s.input;
        return { kind: 'sub', id: s.id, problem_id: i.problem.id, language: i.language, files: i.files, user: i.user, student: i.student ?? null, batch: i.batch ?? null, created_at: s.createdAt.toISOString(), tests: s.job.total };
      }
      case 'batch': {
        const b = this.batches.get(e.id);
        if (!b) return null;
        return { kind: 'batch', id: b.id, problem_id: b.problem.id, user: b.user, subs: b.submissions.map((x) => x.id), created_at: b.createdAt.toISOString() };
      }
      case 'test': {
        const s = this.submissions.get(e.id);
        const r = s?.job.results[e.index];
        if (!s || !r || r.state !== 'done' || r.verdict === null) return null;
        const result: ReplicaTestResult = { ...r, state: 'done', verdict: r.verdict };
        for (const k of ['message', 'input', 'expected', 'output'] as const) if (result[k] !== undefined) result[k] = clipText(result[k]);
        if (r.diff) result.diff = 'expected' in r.diff ? { line: r.diff.line, expected: clipText(r.diff.expected), got: clipText(r.diff.got) } : { line: r.diff.line };
        return {
          kind: 'test',
          sub: s.id,
          index: e.index,
          result,
          compiles: s.job.compiles,
          ...(e.withCompile ? { compile_output: s.job.compileOutput } : {}),
          finished_at: s.finishedAt?.toISOString() ?? null,
        };
      }
      default: {
        const never: never = e;
        throw new Error(`unhandled ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * Takes over what a dead Gateway's judge held, from this node's copy of its journal: every
   * submission and batch under the same ids, each test with a final result there kept as it was,
   * the rest queued here (a test that was running there runs again; its one result is this one).
   * Submissions of a problem this Gateway lacks (uploaded just before the failover, not copied yet)
   * cannot be graded here: reported, not resumed.
   */
  adopt(replica: Pick<JudgeReplica, 'subs' | 'batches'>): AdoptReport {
    const report: AdoptReport = { submissions: 0, finished: 0, batches: 0, testsToRun: 0, lost: [] };
    const resumed: Submission[] = [];
    for (const [id, r] of replica.subs) {
      if (this.submissions.has(id)) continue;
      const problem = this.problems.get(r.spec.problem_id);
      if (!problem || problem.tests.length !== r.spec.tests) {
        report.lost.push(id);
        continue;
      }
      const input: SubmissionInput = { problem, language: r.spec.language, files: r.spec.files, user: r.spec.user, ...(r.spec.student !== null ? { student: r.spec.student } : {}), ...(r.spec.batch !== null ? { batch: r.spec.batch } : {}) };
      const job = new SubmissionJob(problem);
      job.restore(r.results, r.compiles, r.compileOutput);
      const created = new Date(r.spec.created_at);
      const sub = new Submission(id, input, job, Number.isNaN(created.getTime()) ? new Date() : created);
      sub.started = job.finishedTests > 0;
      this.hold(sub);
      // Journaled again here, so this Gateway's own standby gets all of it.
      this.journal.append({ kind: 'sub', id });
      job.results.forEach((t, i) => {
        if (t.state !== 'done') return;
        const withCompile = !sub.compileJournaled && job.compileOutput !== '';
        if (withCompile) sub.compileJournaled = true;
        this.journal.append({ kind: 'test', id, index: i, withCompile });
      });
      report.submissions++;
      if (job.done) {
        const at = r.finishedAt ? new Date(r.finishedAt) : new Date();
        sub.finishedAt = Number.isNaN(at.getTime()) ? new Date() : at;
        this.finishedOrder.push(id);
        report.finished++;
      } else {
        const left = job.total - job.finishedTests;
        this.queuedTests += left;
        report.testsToRun += left;
        resumed.push(sub);
      }
    }
    for (const [id, b] of replica.batches) {
      if (this.batches.has(id)) continue;
      const problem = this.problems.get(b.problem_id);
      const subs = b.subs.map((x) => this.submissions.get(x)).filter((x): x is Submission => x !== undefined);
      if (!problem || subs.length === 0) continue;
      const created = new Date(b.created_at);
      const batch: Batch = { id, createdAt: Number.isNaN(created.getTime()) ? new Date() : created, user: b.user, problem, submissions: subs, listeners: new Set(), finished: subs.every((x) => x.job.done) };
      this.batches.set(id, batch);
      this.batchOrder.push(id);
      this.journal.append({ kind: 'batch', id });
      report.batches++;
    }
    // Queued after every batch exists, in the order they were accepted there.
    for (const sub of resumed) this.enqueue(sub, sub.input.batch === undefined);
    this.evict();
    return report;
  }
}

export type { Submission, Batch };
