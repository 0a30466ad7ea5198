import pino from 'pino';
import { AssignerCore, type AssignerAction, type AssignerOptions } from '../../assigner/core.js';
import { WorkerCore } from '../../worker/core.js';
import { WorkerDriver, type WorkerDriverOptions } from '../../worker/driver.js';
import type { SandboxOutput, SandboxRun } from '../../worker/ports.js';
import { ScriptedSandbox, type ProgramStep, type ScriptedRun } from '../../worker/twins.js';
import type { Pressure } from '../../worker/psi.js';
import type { RunMessage, RunResultWire, RunSpecWire } from '../../protocol/run-messages.js';

/**
 * The Assigners and Workers of the simulated run path: the real AssignerCore glued as
 * assigner/service.ts glues it, and the real WorkerDriver (around the real WorkerCore) with the
 * sandbox twin, on the simulator's clock and links.
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
    send: (to: string, msg: RunMessage) => void,
    /** Called whenever the driver may have started async work (the simulator drains it). */
    touched: () => void,
    /** A deliberately broken Worker (the checkers' own test): the second chunk of each program never reaches the core. */
    dropSecondChunk = false,
  ) {
    this.core = new WorkerCore({ name, slots, psiAcceptBelow: 0.6, psiPauseAbove: 0.9, languages: [SIM_LANGUAGE] });
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
      // Back-pressure from a link is not simulated: a simulated link always has room.
      links: { send, whenWritable: () => Promise.resolve() },
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

export class SimAssigner {
  readonly core: AssignerCore;
  private readonly timers = new Map<string, { cancel(): void }>();
  private dead = false;

  constructor(
    readonly name: string,
    readonly incarnation: number,
    private readonly clock: SimTimers,
    private readonly send: (to: string, msg: RunMessage) => void,
  ) {
    this.core = new AssignerCore({ ...SIM_ASSIGNER, name });
  }

  crash(): void {
    this.dead = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  /** service.ts apply(), without its ack coalescing (it only merges acks within 20 ms). */
  apply(actions: AssignerAction[]): void {
    if (this.dead) return;
    for (const a of actions) {
      switch (a.kind) {
        case 'send':
          this.send(a.to, a.msg);
          break;
        case 'dropped':
          break;
        case 'timer': {
          this.timers.get(a.key)?.cancel();
          const key = a.key;
          this.timers.set(
            key,
            this.clock.at(Math.max(a.atMs, this.clock.nowMs()), () => {
              this.timers.delete(key);
              this.apply(this.core.onTimer(key, this.clock.nowMs()));
            }),
          );
          break;
        }
        default: {
          const never: never = a;
          throw new Error(`unhandled assigner action ${JSON.stringify(never)}`);
        }
      }
    }
  }

  /** service.ts handle(). */
  handle(from: string, msg: RunMessage): void {
    if (this.dead) return;
    const core = this.core;
    const now = this.clock.nowMs();
    switch (msg.type) {
      case 'run_submit':
        return this.apply(core.onSubmit(from, msg.run, now));
      case 'run_input':
      case 'run_eof':
      case 'run_kill':
        return this.apply(core.onGatewayMessage(msg, now));
      case 'run_evicted':
        return this.apply(core.onEvicted(from, msg.id, now));
      case 'offer_reply':
        return this.apply(core.onOfferReply(from, msg.id, msg.accepted, now, msg.load));
      case 'worker_load':
        return this.apply(core.onWorkerLoad(from, msg.load, now));
      case 'run_claim':
        return this.apply(core.onClaim(from, msg.id));
      case 'run_attach':
        return this.apply(core.onAttach(from, msg.id, msg.afterSeq));
      case 'replica_hold':
      case 'replica_placed':
      case 'replica_output':
      case 'replica_exit':
      case 'replica_restart':
      case 'replica_ack':
      case 'replica_handoff':
        return this.apply(core.onReplica(from, msg, now));
      case 'run_output':
      case 'run_exit':
        return this.apply(core.onWorkerMessage(from, msg, now));
      default:
        return;
    }
  }
}
