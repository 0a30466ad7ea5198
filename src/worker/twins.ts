import assert from 'node:assert/strict';
import { BoundedQueue } from '../common/bounded-queue.js';
import { CHUNK_BYTES_MAX, type StreamName } from '../protocol/output.js';
import type { RunResultWire, RunSpecWire } from '../protocol/run-messages.js';
import type { Clock, Timer } from '../common/clock.js';
import type { Sandbox, SandboxChunk, SandboxRun } from './ports.js';

/**
 * In-memory twins of the Worker driver's ports (ports.ts): time that moves only when a test moves
 * it, and programs that follow a script. Used by the Worker's tests and the simulator.
 */

/** Timers pending at once in the manual clock; more is a leak in the code under test. */
const MANUAL_TIMERS_MAX = 10_000;

export class ManualClock implements Clock {
  private now: number;
  private nextId = 0;
  private readonly timers = new Map<number, { atMs: number; fn: () => void }>();

  constructor(startMs = 0) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  after(delayMs: number, fn: () => void): Timer {
    assert.ok(this.timers.size < MANUAL_TIMERS_MAX, 'too many pending timers');
    const id = this.nextId++;
    this.timers.set(id, { atMs: this.now + Math.max(0, delayMs), fn });
    return { cancel: () => this.timers.delete(id) };
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by ms, firing every timer due on the way in time order (then creation order). */
  advance(ms: number): void {
    assert.ok(ms >= 0);
    const until = this.now + ms;
    for (;;) {
      let due: [number, { atMs: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (e[1].atMs <= until && (due === null || e[1].atMs < due[1].atMs)) due = e;
      if (due === null) break;
      this.timers.delete(due[0]);
      this.now = due[1].atMs;
      due[1].fn();
    }
    this.now = until;
  }
}

/** One step of a scripted program. */
export type ProgramStep =
  | { do: 'print'; text: string; stream?: StreamName }
  /** Reads one line (up to EOF) and prints it back on stdout. */
  | { do: 'echo_line' }
  | { do: 'exit'; code: number }
  /** Runs until killed. */
  | { do: 'hang' };

/** Output chunks buffered before a scripted program blocks on write, like the runner's queue. */
const SCRIPTED_QUEUE_CHUNKS = 64;
/** Input a scripted program holds unread; past it write() is a bug in the caller. */
const SCRIPTED_INPUT_BYTES_MAX = 1024 * 1024;

/** A program run by its script: what the driver sees of it is what it would see of a real one. */
export class ScriptedRun implements SandboxRun {
  readonly output = new BoundedQueue<SandboxChunk>(SCRIPTED_QUEUE_CHUNKS);
  readonly result: Promise<RunResultWire>;
  /** Every write, in order (a test checks what reached the program). */
  readonly written: string[] = [];
  /** Every chunk the program wrote, in order (the simulator checks what reached the client). */
  readonly printed: SandboxChunk[] = [];
  killed = false;
  inputEnded = false;
  private input = '';
  private seq = 0;
  private wakeUp: (() => void) | null = null;

  constructor(
    readonly spec: RunSpecWire,
    script: readonly ProgramStep[],
  ) {
    this.result = this.play(script);
  }

  write(data: string): void {
    assert.ok(!this.inputEnded, 'write after end of input');
    this.written.push(data);
    this.input += data;
    assert.ok(this.input.length <= SCRIPTED_INPUT_BYTES_MAX, 'scripted program input over its bound');
    this.poke();
  }

  endInput(): void {
    this.inputEnded = true;
    this.poke();
  }

  kill(): void {
    this.killed = true;
    this.poke();
  }

  private poke(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  /** Waits for the next write, end of input, kill or drain. */
  private nudged(): Promise<void> {
    return new Promise((resolve) => (this.wakeUp = resolve));
  }

  private async print(text: string, stream: StreamName): Promise<void> {
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length && !this.killed; i += CHUNK_BYTES_MAX) {
      const chunk: SandboxChunk = { seq: this.seq++, stream, data: bytes.subarray(i, i + CHUNK_BYTES_MAX) };
      this.printed.push(chunk);
      if (!this.output.push(chunk)) {
        // Full: the program blocks on write until the consumer drains the queue (or it is killed).
        while (!this.killed && this.output.isFull) {
          const nudged = this.nudged();
          this.output.onDrain(() => this.poke());
          await nudged;
        }
      }
    }
  }

  private async play(script: readonly ProgramStep[]): Promise<RunResultWire> {
    let code = 0;
    for (const step of script) {
      if (this.killed) break;
      if (step.do === 'print') await this.print(step.text, step.stream ?? 'stdout');
      else if (step.do === 'echo_line') {
        while (!this.killed && !this.input.includes('\n') && !this.inputEnded) await this.nudged();
        const end = this.input.includes('\n') ? this.input.indexOf('\n') + 1 : this.input.length;
        const line = this.input.slice(0, end);
        this.input = this.input.slice(end);
        if (line.length > 0) await this.print(line, 'stdout');
      } else if (step.do === 'exit') {
        code = step.code;
        break;
      } else if (step.do === 'hang') {
        while (!this.killed) await this.nudged();
      } else {
        const never: never = step;
        throw new Error(`unknown step ${JSON.stringify(never)}`);
      }
    }
    this.output.close();
    const status = this.killed ? 'killed' : code === 0 ? 'ok' : 'runtime_error';
    return { status, exit_code: this.killed ? null : code, signal: this.killed ? 9 : null, cpu_time_ms: 0, wall_time_ms: 0, memory_kb: 0, language: this.spec.language, version: 'scripted' };
  }
}

/** A sandbox whose programs follow scripts: programOf picks the script of a run (throwing: the run cannot start). */
export class ScriptedSandbox implements Sandbox {
  /** Every run started, in order. */
  readonly runs: ScriptedRun[] = [];

  constructor(private readonly programOf: (run: RunSpecWire) => readonly ProgramStep[]) {}

  start(run: RunSpecWire): ScriptedRun {
    const r = new ScriptedRun(run, this.programOf(run));
    this.runs.push(r);
    return r;
  }

  runOf(id: string): ScriptedRun | undefined {
    return this.runs.find((r) => r.spec.id === id);
  }
}
