import type { Logger } from '../agent/log.js';
import type { WorkerLoadWire } from '../protocol/load.js';
import { CHUNKS_PER_MESSAGE_MAX } from '../protocol/run-bounds.js';
import type { RunChunkWire, RunMessage, RunResultWire, RunSpecWire } from '../protocol/run-messages.js';
import { unmeasuredResult } from '../protocol/run-wire.js';
import type { WorkerAction, WorkerCore, WorkerNote } from './core.js';
import type { Clock, Timer } from '../common/clock.js';
import type { Transport } from '../common/transport.js';
import type { Sandbox, SandboxRun } from './ports.js';
import type { Pressure } from './psi.js';

/**
 * The Worker's run path driver: feeds messages, program output and time to the WorkerCore and
 * carries out its actions with the ports it is given (links, clock, sandbox). It decides nothing;
 * runWorkerProcess (process.ts) builds it with the real ports, tests with the twins (twins.ts).
 */

/** The links to other members (the one Transport port). */
export type WorkerLinks = Transport<RunMessage>;

export interface WorkerDriverOptions {
  core: WorkerCore;
  clock: Clock;
  sandbox: Sandbox;
  links: WorkerLinks;
  /** The latest pressure sample (sampling is the ping's job: a read here is cheap). */
  pressure: () => Pressure;
  log: Logger;
}

interface Signal {
  promise: Promise<void>;
  resolve: () => void;
}

function signal(): Signal {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A program the driver pumps output from. */
interface Pipe {
  program: SandboxRun;
  /** Resolved when the run moves to another Assigner: a wait on the old one's link ends. */
  moved: Signal;
  /** Set while the core holds the output window closed. */
  window: Signal | null;
}

export class WorkerDriver {
  private readonly pipes = new Map<string, Pipe>();
  private wake: { atMs: number; timer: Timer } | null = null;
  private stopped = false;

  constructor(private readonly o: WorkerDriverOptions) {}

  /** A run message from another member (the transport validated it). */
  onMessage(from: string, m: RunMessage): void {
    const core = this.o.core;
    switch (m.type) {
      case 'offer':
        return this.step(() => core.onOffer(from, m.run, m.buddy ?? null, this.o.pressure(), this.o.clock.nowMs()));
      case 'run_input':
        return this.step(() => core.onInput(m.id, m.data, m.n));
      case 'run_eof':
        return this.step(() => core.onEof(m.id, m.n));
      case 'run_ack':
        return this.step(() => core.onAck(from, m.id, m.seq, m.exit));
      case 'run_takeover':
        return this.step(() => core.onTakeover(from, m.id));
      case 'run_kill':
        return this.step(() => core.onKill(m.id));
      // Messages of the Gateway and Assigner legs, not the Worker's.
      case 'run_submit':
      case 'run_queued':
      case 'run_started':
      case 'run_refused':
      case 'run_restart':
      case 'run_output':
      case 'run_exit':
      case 'run_evicted':
      case 'run_attach':
      case 'run_attached':
      case 'offer_reply':
      case 'worker_load':
      case 'run_claim':
      case 'replica_hold':
      case 'replica_placed':
      case 'replica_output':
      case 'replica_exit':
      case 'replica_restart':
      case 'replica_handoff':
      case 'replica_ack':
        this.o.log.debug({ type: m.type, from }, 'ignored message');
        return;
      default: {
        const never: never = m;
        throw new Error(`unhandled run message ${JSON.stringify(never)}`);
      }
    }
  }

  /** A fresh pressure sample (the heartbeat thread's ping): evict if the owner needs the PC; the load for its answer (ping-answer.ts). */
  onPressure(psi: Pressure): WorkerLoadWire {
    this.step(() => this.o.core.onPressure(psi));
    return this.o.core.load(psi);
  }

  /** Kills every program; their ends are not sent (the process is going away). */
  stop(): void {
    this.stopped = true;
    this.wake?.timer.cancel();
    this.wake = null;
    for (const p of this.pipes.values()) {
      p.program.kill();
      // Waits on a link or the window end too: the pumps drain and stop.
      p.moved.resolve();
      p.window?.resolve();
    }
  }

  /** Runs one core step, carries out its actions, and sets the timer for its next deadline. */
  private step(fn: () => WorkerAction[]): void {
    if (this.stopped) return;
    for (const a of fn()) this.carry(a);
    this.rearm();
  }

  private rearm(): void {
    const atMs = this.o.core.nextWakeMs();
    if (this.wake !== null && this.wake.atMs === atMs) return;
    this.wake?.timer.cancel();
    this.wake = null;
    if (atMs === null) return;
    const timer = this.o.clock.after(atMs - this.o.clock.nowMs(), () => {
      this.wake = null;
      this.step(() => this.o.core.onTick(this.o.clock.nowMs()));
    });
    this.wake = { atMs, timer };
  }

  private carry(a: WorkerAction): void {
    switch (a.kind) {
      case 'send':
        this.o.links.send(a.to, a.msg);
        return;
      case 'start':
        this.start(a.run);
        return;
      case 'input':
        this.pipes.get(a.run)?.program.write(a.data);
        return;
      case 'end_input':
        this.pipes.get(a.run)?.program.endInput();
        return;
      case 'kill':
        this.pipes.get(a.run)?.program.kill();
        return;
      case 'output_window': {
        const p = this.pipes.get(a.run);
        if (!p) return;
        if (!a.open) p.window ??= signal();
        else {
          p.window?.resolve();
          p.window = null;
        }
        return;
      }
      case 'moved': {
        const p = this.pipes.get(a.run);
        if (!p) return;
        const moved = p.moved;
        p.moved = signal();
        moved.resolve();
        return;
      }
      case 'note':
        this.note(a.note);
        return;
      default: {
        const never: never = a;
        throw new Error(`unhandled worker action ${JSON.stringify(never)}`);
      }
    }
  }

  private note(n: WorkerNote): void {
    const log = this.o.log;
    switch (n.what) {
      case 'refused':
        log.info({ event: 'refused', run: n.run, reason: n.reason }, `refused run ${n.run}: ${n.reason}`);
        return;
      case 'takeover':
        log.info({ event: 'takeover', run: n.run, from: n.from, to: n.to }, `run ${n.run} now goes to assigner ${n.to}`);
        return;
      case 'evicted':
        log.warn({ event: 'evicted', run: n.run, pressure: n.pressure }, `stopping batch run ${n.run}: ${n.reason}`);
        return;
      case 'end_forgotten':
        log.warn({ event: 'unacked', run: n.run }, `run ${n.run}: nobody acknowledged its end in ${Math.round(n.heldMs / 1000)} s; forgetting it`);
        return;
      default: {
        const never: never = n;
        throw new Error(`unhandled worker note ${JSON.stringify(never)}`);
      }
    }
  }

  private start(run: RunSpecWire): void {
    const id = run.id;
    let program: SandboxRun;
    try {
      program = this.o.sandbox.start(run);
    } catch (err) {
      // The run was accepted: it must still end, or its Assigner would wait for it for ever.
      const message = (err as Error).message;
      this.o.log.error({ event: 'start_failed', run: id, err: message }, `run ${id} could not start: ${message}`);
      queueMicrotask(() => this.step(() => this.o.core.onExit(id, unmeasuredResult('internal_error', run.language, message), this.o.pressure(), this.o.clock.nowMs())));
      return;
    }
    const pipe: Pipe = { program, moved: signal(), window: null };
    this.pipes.set(id, pipe);
    void this.pump(run, pipe);
  }

  /** Passes the program's output on (batched), paced by the link and the core's window; then its end. */
  private async pump(run: RunSpecWire, pipe: Pipe): Promise<void> {
    const id = run.id;
    const output = pipe.program.output;
    for await (const first of output) {
      const batch = [first, ...output.takeNow(CHUNKS_PER_MESSAGE_MAX - 1)];
      // A Buffer is a Uint8Array: the chunks pass on without a copy.
      const chunks = batch.map((c): RunChunkWire => ({ seq: c.seq, stream: c.stream, data: c.data as Uint8Array<ArrayBuffer> }));
      if (this.stopped) continue;
      this.step(() => this.o.core.onOutput(id, chunks, this.o.clock.nowMs()));
      // A slow link pauses the program (through the runner's bounded queue), never drops output;
      // a takeover ends a wait on the old Assigner's link.
      const to = this.o.core.assignerOf(id);
      if (to !== undefined) await Promise.race([this.o.links.whenWritable(to), pipe.moved.promise]);
      // A pair slow to acknowledge pauses it too, until the core opens the window again.
      if (pipe.window) await pipe.window.promise;
    }
    let result: RunResultWire;
    try {
      result = await pipe.program.result;
    } catch (err) {
      result = unmeasuredResult('internal_error', run.language, (err as Error).message);
    }
    this.pipes.delete(id);
    this.step(() => this.o.core.onExit(id, result, this.o.pressure(), this.o.clock.nowMs()));
  }
}
