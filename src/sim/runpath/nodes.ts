import pino from 'pino';
import { AssignerCore, type AssignerOptions } from '../../assigner/core.js';
import { AssignerDriver, type AssignerDriverOptions } from '../../assigner/driver.js';
import type { Transport } from '../../common/transport.js';
import { WorkerCore } from '../../worker/core.js';
import { WorkerDriver, type WorkerDriverOptions } from '../../worker/driver.js';
import type { SandboxOutput, SandboxRun } from '../../worker/ports.js';
import { ScriptedSandbox, type ProgramStep, type ScriptedRun } from '../../worker/twins.js';
import type { Pressure } from '../../worker/psi.js';
import type { RunMessage, RunResultWire, RunSpecWire } from '../../protocol/run-messages.js';

/**
 * The Assigners and Workers of the simulated run path: the real AssignerDriver (around the real
 * AssignerCore) and the real WorkerDriver (around the real WorkerCore) with the sandbox twin, on
 * the simulator's clock and links (its Transport twin).
 */

const SILENT = pino({ level: 'silent' });
const CALM: Pressure = { cpu: 0, memory: 0, io: 0 };

export const SIM_LANGUAGE = 'python';

/** What a simulated program does, carried in its source so every attempt runs the same one. */
export interface ProgramPlan {
  steps: ProgramStep[];
  /**
   * Print the Worker's name first: each attempt's output then differs, like a program printing
   * the time, so the checker sees whether a client got one attempt's output or a mix.
   */
  sayWhere: boolean;
}

export function planOf(spec: RunSpecWire): ProgramPlan {
  return JSON.parse((spec.files[0] as { content: string }).content) as ProgramPlan;
}

export interface SimTimers {
  nowMs(): number;
  at(atMs: number, fn: () => void): { cancel(): void };
}

/** One program as the twin ran it: the checker's ground truth. */
export interface ProgramRecord {
  worker: string;
  program: ScriptedRun;
  result: RunResultWire | null;
}

export class SimWorker {
  readonly core: WorkerCore;
  readonly driver: WorkerDriver;
  readonly sandbox: ScriptedSandbox;
  readonly programs: ProgramRecord[] = [];

  constructor(
    readonly name: string,
    readonly incarnation: number,
    readonly slots: number,
    timers: SimTimers,
    links: Transport<RunMessage>,
    /** Called whenever the driver may have started async work (the simulator drains it). */
    touched: () => void,
    /** A deliberately broken Worker (the checkers' own test): the second chunk of each program never reaches the core. */
    dropSecondChunk = false,
  ) {
    this.core = new WorkerCore({ name, slots, psiAcceptBelow: 0.6, psiPauseAbove: 0.9, languages: [SIM_LANGUAGE] });
    // Known from the start here; a real Worker learns it from its heartbeat thread's first ping.
    this.core.life = incarnation;
    this.sandbox = new ScriptedSandbox((run) => {
      const plan = planOf(run);
      return plan.sayWhere ? [{ do: 'print', text: `on ${name}#${incarnation}\n` }, ...plan.steps] : plan.steps;
    });
    const sandbox = {
      start: (run: RunSpecWire) => {
        const program = this.sandbox.start(run);
        const rec: ProgramRecord = { worker: name, program, result: null };
        this.programs.push(rec);
        void program.result.then((r) => (rec.result = r));
        // The runner's wall-clock limit (the twin has none): a program nobody ends still ends.
        timers.at(timers.nowMs() + run.limits.wallTimeMs, () => {
          touched();
          program.kill();
        });
        return dropSecondChunk ? withoutChunk(program, 1) : program;
      },
    };
    const clock: WorkerDriverOptions['clock'] = {
      nowMs: () => timers.nowMs(),
      after: (delayMs, fn) =>
        timers.at(timers.nowMs() + Math.max(0, delayMs), () => {
          touched();
          fn();
        }),
    };
    this.driver = new WorkerDriver({
      core: this.core,
      clock,
      sandbox,
      links,
      pressure: () => CALM,
      log: SILENT,
    });
  }

  load() {
    return this.core.load(CALM);
  }
}

/** The program as the driver sees it, minus chunk `seq` (the twin's record still has it). */
function withoutChunk(p: ScriptedRun, seq: number): SandboxRun {
  const output: SandboxOutput = {
    async *[Symbol.asyncIterator]() {
      for await (const c of p.output) if (c.seq !== seq) yield c;
    },
    takeNow: (max) => p.output.takeNow(max).filter((c) => c.seq !== seq),
  };
  return { output, result: p.result, write: (d) => p.write(d), endInput: () => p.endInput(), kill: () => p.kill() };
}

/** The sim's Assigner options: small bounds so queues fill, long retention so a failover finds finished runs. */
export const SIM_ASSIGNER: Omit<AssignerOptions, 'name'> = {
  queueMax: 8,
  offerTimeoutMs: 500,
  psiAcceptBelow: 0.6,
  workerStaleMs: 3_000,
  retryAfterMs: 200,
  runsMax: 32,
  finishedRetainMs: 10 * 60_000,
  finishedRetainBytesMax: 64 * 1024 * 1024,
  finishedRetainCountMax: 1000,
};

/** An Assigner life: the real AssignerCore under the real AssignerDriver, as assigner/service.ts builds them. */
export class SimAssigner {
  readonly core: AssignerCore;
  readonly driver: AssignerDriver;

  constructor(
    readonly name: string,
    readonly incarnation: number,
    ports: Pick<AssignerDriverOptions, 'clock' | 'links' | 'sight' | 'log'>,
  ) {
    this.core = new AssignerCore({ ...SIM_ASSIGNER, name });
    this.driver = new AssignerDriver({ ...ports, core: this.core, self: name, runsMax: SIM_ASSIGNER.runsMax });
  }
}
