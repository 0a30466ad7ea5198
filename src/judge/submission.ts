import { check, interpretCheckerExit, type CheckOutcome, type Difference } from './checkers.js';
import type { Problem, TestCase } from './problem.js';
import type { Verdict } from './verdicts.js';

/**
 * One submission's grading as a pure state machine: it hands out tasks (run the program on a test,
 * run the checker on an output), takes their ends, and keeps per-test verdicts and the score. The
 * driver (service.ts) owns runs, time and the network.
 *
 * Order: the first test runs alone, so its Worker compiles once and fills the compile cache (and a
 * compile error ends the submission without running anything else); then every unit (a test on its
 * own, or a group's tests one after another, so a failed group skips its remaining tests as DMOJ
 * batches do) runs in parallel.
 */

export type { Verdict } from './verdicts.js';

/** Bytes of a sample's output and of stderr kept for the student to see. */
export const SHOWN_BYTES_MAX = 4 * 1024;

/** What a finished run gives the judge: the status and measures, and its (capped) output. */
export interface RunEnd {
  status: 'ok' | 'compile_error' | 'runtime_error' | 'time_limit' | 'wall_time_limit' | 'memory_limit' | 'output_limit' | 'killed' | 'internal_error' | 'node_lost';
  exitCode: number | null;
  signal: number | null;
  cpuTimeMs: number;
  wallTimeMs: number;
  memoryKb: number;
  stdout: Buffer;
  stderr: string;
  compileOutput: string;
  message?: string;
  compiled?: boolean;
}

export type Task =
  | { kind: 'program'; test: number }
  /** The checker run on the program's output (custom checkers only). */
  | { kind: 'checker'; test: number; output: Buffer };

export interface TestResult {
  test: string;
  sample: boolean;
  group: string | null;
  state: 'pending' | 'running' | 'checking' | 'done';
  verdict: Verdict | null;
  /** Share of the test's points earned, 0..1. */
  fraction: number;
  points_max: number;
  cpu_time_ms: number | null;
  wall_time_ms: number | null;
  memory_kb: number | null;
  exit_code: number | null;
  signal: number | null;
  /** Wrong answer: where it first differs (secret tests: the line only). */
  diff?: Difference | { line: number };
  /** A checker's message, or why the judge failed (internal_error). */
  message?: string;
  /** Samples only: the data, shown to the student. */
  input?: string;
  expected?: string;
  output?: string;
}

type Unit = { tests: number[]; next: number; running: boolean; failed: boolean };

function clip(s: string): string {
  return s.length > SHOWN_BYTES_MAX ? `${s.slice(0, SHOWN_BYTES_MAX)}…` : s;
}

/** A run's status as a test verdict; `ok` needs the checker first, so it maps to null. */
export function verdictOfRun(status: RunEnd['status']): Verdict | null {
  switch (status) {
    case 'ok':
      return null;
    case 'compile_error':
      return 'compile_error';
    case 'runtime_error':
      return 'runtime_error';
    case 'time_limit':
    case 'wall_time_limit':
      return 'time_limit';
    case 'memory_limit':
      return 'memory_limit';
    case 'output_limit':
      return 'output_limit';
    case 'killed':
    case 'internal_error':
    case 'node_lost':
      return 'internal_error';
    default: {
      const never: never = status;
      throw new Error(`unhandled status ${String(never)}`);
    }
  }
}

export class SubmissionJob {
  readonly results: TestResult[];
  compileOutput = '';
  /** Compiles the runs of this submission reported (the compile cache makes it 1 per Worker host). */
  compiles = 0;
  private readonly units: Unit[];
  private firstDone = false;
  private firstHandedOut = false;
  private readonly ready: Task[] = [];
  private doneCount = 0;

  constructor(readonly problem: Problem) {
    this.results = problem.tests.map((t) => ({
      test: t.name,
      sample: t.sample,
      group: t.group,
      state: 'pending',
      verdict: null,
      fraction: 0,
      points_max: t.points,
      cpu_time_ms: null,
      wall_time_ms: null,
      memory_kb: null,
      exit_code: null,
      signal: null,
      ...(t.sample ? { input: clip(t.input), expected: clip(t.answer) } : {}),
    }));
    const units: Unit[] = [];
    const byGroup = new Map<string, Unit>();
    problem.tests.forEach((t, i) => {
      if (t.group === null) return void units.push({ tests: [i], next: 0, running: false, failed: false });
      let u = byGroup.get(t.group);
      if (!u) {
        u = { tests: [], next: 0, running: false, failed: false };
        byGroup.set(t.group, u);
        units.push(u);
      }
      u.tests.push(i);
    });
    this.units = units;
  }

  get done(): boolean {
    return this.doneCount === this.results.length;
  }

  get total(): number {
    return this.results.length;
  }

  get finishedTests(): number {
    return this.doneCount;
  }

  /** Tasks that may start now; each is handed out once. */
  take(): Task[] {
    if (this.done) return [];
    if (!this.firstHandedOut) {
      this.firstHandedOut = true;
      const u = this.units[0] as Unit;
      u.running = true;
      const t = u.tests[u.next++] as number;
      (this.results[t] as TestResult).state = 'running';
      return [{ kind: 'program', test: t }];
    }
    if (!this.firstDone) return this.ready.splice(0);
    for (const u of this.units) {
      if (u.running || u.next >= u.tests.length) continue;
      u.running = true;
      const t = u.tests[u.next++] as number;
      (this.results[t] as TestResult).state = 'running';
      this.ready.push({ kind: 'program', test: t });
    }
    return this.ready.splice(0);
  }

  /**
   * Takes the final results another Gateway recorded (its standby's copy, after a failover), before
   * anything is handed out: those tests are done as they were there, and take() hands out only the
   * rest — a test that was running or being checked when that Gateway died runs again. A group's
   * results are a prefix of its tests (they run one after another): a result past a gap is
   * ignored, and a failed one skips the rest of its group, as it did there. Results whose test name
   * does not match are ignored (they cannot be of this problem).
   */
  restore(done: ReadonlyMap<number, Omit<TestResult, 'state'> & { state: 'done' }>, compiles: number, compileOutput: string): void {
    if (this.firstHandedOut || done.size === 0) return;
    this.compiles = compiles;
    this.compileOutput = compileOutput;
    const valid = (i: number) => {
      const r = done.get(i);
      return r && r.verdict !== null && r.test === (this.results[i] as TestResult).test ? r : undefined;
    };
    const ce = [...done.keys()].map(valid).find((r) => r?.verdict === 'compile_error');
    if (ce) {
      // A compile error ends every test at once: all of them have it, as they did there.
      for (const x of this.results) this.finishTest(x, 'compile_error', 0, ce.message);
      this.firstHandedOut = this.firstDone = true;
      return;
    }
    let any = false;
    for (const u of this.units) {
      while (u.next < u.tests.length) {
        const i = u.tests[u.next] as number;
        const r = valid(i);
        if (!r) break;
        u.next++;
        any = true;
        const { state: _s, verdict, fraction, message, ...measures } = r;
        Object.assign(this.results[i] as TestResult, measures);
        this.finishTest(this.results[i] as TestResult, verdict as Verdict, fraction, message);
        if ((this.problem.tests[i] as TestCase).group !== null && verdict !== 'accepted' && verdict !== 'partial') {
          u.failed = true;
          for (const k of u.tests.slice(u.next)) this.finishTest(this.results[k] as TestResult, 'skipped', 0);
          u.next = u.tests.length;
        }
      }
    }
    // The first test's run (the compile) is behind us if anything finished: the rest may run at once.
    if (any) this.firstHandedOut = this.firstDone = true;
  }

  /** The program's run on test `i` ended. Returns a checker task when a custom checker must look. */
  programEnded(i: number, end: RunEnd): void {
    const r = this.results[i] as TestResult;
    if (r.state !== 'running') return; // a duplicate end (never expected; the run path ends a run once)
    const t = this.problem.tests[i] as TestCase;
    if (end.compiled) this.compiles++;
    if (end.compileOutput) this.compileOutput ||= end.compileOutput.slice(0, 64 * 1024);
    Object.assign(r, { cpu_time_ms: end.cpuTimeMs, wall_time_ms: end.wallTimeMs, memory_kb: end.memoryKb, exit_code: end.exitCode, signal: end.signal });
    if (t.sample) r.output = clip(end.stdout.toString('utf8'));
    const runVerdict = verdictOfRun(end.status);
    if (runVerdict === 'compile_error') {
      // Once per submission: every test gets it, none runs.
      for (const x of this.results) if (x.state !== 'done') this.finishTest(x, 'compile_error', 0, end.message);
      this.firstDone = true;
      return;
    }
    // The build is good (or there was none): the other tests may start.
    this.firstDone = true;
    if (runVerdict !== null) {
      const why = runVerdict === 'internal_error' ? (end.message ?? `the run ended ${end.status}`) : runVerdict === 'runtime_error' && end.stderr ? clip(end.stderr) : undefined;
      this.testEnded(i, runVerdict, 0, why);
      return;
    }
    const c = this.problem.checker;
    if (c.kind === 'custom') {
      r.state = 'checking';
      this.ready.push({ kind: 'checker', test: i, output: end.stdout });
      return;
    }
    this.applyOutcome(i, check(c, Buffer.from(t.answer), end.stdout));
  }

  /** The custom checker's run on test `i` ended. */
  checkerEnded(i: number, end: RunEnd): void {
    const r = this.results[i] as TestResult;
    if (r.state !== 'checking') return;
    const c = this.problem.checker;
    const protocol = c.kind === 'custom' ? c.protocol : 'testlib';
    this.applyOutcome(i, interpretCheckerExit({ status: end.status, exitCode: end.exitCode, stderr: end.stderr }, protocol));
  }

  /** The judge could not run test `i` at all (no capacity for too long, a lost run past its retries). */
  taskFailed(i: number, why: string): void {
    const r = this.results[i] as TestResult;
    if (r.state === 'done') return;
    this.testEnded(i, 'internal_error', 0, why);
  }

  private applyOutcome(i: number, o: CheckOutcome): void {
    const t = this.problem.tests[i] as TestCase;
    switch (o.verdict) {
      case 'accepted':
        return this.testEnded(i, 'accepted', 1);
      case 'partial':
        return this.testEnded(i, 'partial', o.fraction, o.message || undefined);
      case 'wrong_answer': {
        const r = this.results[i] as TestResult;
        if (o.diff) r.diff = t.sample ? o.diff : { line: o.diff.line };
        return this.testEnded(i, 'wrong_answer', 0, o.message);
      }
      case 'internal_error':
        return this.testEnded(i, 'internal_error', 0, o.message);
      default: {
        const never: never = o;
        throw new Error(`unhandled outcome ${JSON.stringify(never)}`);
      }
    }
  }

  private finishTest(r: TestResult, v: Verdict, fraction: number, message?: string): void {
    if (r.state === 'done') return;
    r.state = 'done';
    r.verdict = v;
    r.fraction = fraction;
    if (message) r.message = message;
    this.doneCount++;
  }

  private testEnded(i: number, v: Verdict, fraction: number, message?: string): void {
    this.finishTest(this.results[i] as TestResult, v, fraction, message);
    this.firstDone = true;
    const u = this.units.find((x) => x.tests.includes(i)) as Unit;
    u.running = false;
    const grouped = (this.problem.tests[i] as TestCase).group !== null;
    if (grouped && v !== 'accepted' && v !== 'partial') {
      // A failed group scores 0 whatever follows: its remaining tests are skipped, not run.
      u.failed = true;
      for (const k of u.tests.slice(u.next)) this.finishTest(this.results[k] as TestResult, 'skipped', 0);
      u.next = u.tests.length;
    }
  }

  score(): { score: number; max: number } {
    let score = 0;
    let max = 0;
    this.problem.tests.forEach((t, i) => {
      if (t.group !== null) return;
      score += (this.results[i] as TestResult).fraction * t.points;
      max += t.points;
    });
    for (const g of this.problem.groups) {
      const rs = this.results.filter((r) => r.group === g.name);
      score += Math.min(...rs.map((r) => r.fraction)) * g.points;
      max += g.points;
    }
    return { score: Math.round(score * 1000) / 1000, max };
  }

  /** The submission's verdict: the first test (in order) not accepted, or accepted; null while running. */
  verdict(): Verdict | null {
    const first = this.results.find((r) => r.state === 'done' && r.verdict !== 'accepted' && r.verdict !== 'skipped');
    if (first) return first.verdict;
    return this.done ? 'accepted' : null;
  }
}
