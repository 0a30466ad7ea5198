import assert from 'node:assert/strict';
import type { WorkerLoadWire } from '../protocol/load.js';
import { CHUNKS_PER_MESSAGE_MAX } from '../protocol/run-bounds.js';
import type { RunChunkWire, RunMessage, RunMessageOf, RunResultWire, RunSpecWire } from '../protocol/run-messages.js';
import { worstPressure, type Pressure } from './psi.js';

/**
 * A Worker's run logic as a pure state machine, like AssignerCore: every method takes an event and
 * the time, changes only this object, and returns what to do. No sockets, no timers, no sandbox:
 * the driver (src/worker/driver.ts) starts programs, sends messages, and calls onTick at
 * nextWakeMs().
 */

/** Output bytes a run may have sent but not had acknowledged before its program is paused. */
export const UNACKED_BYTES_MAX = 4 * 1024 * 1024;
/** A run's end waits this long for an acknowledgement before the Worker forgets it. */
export const HELD_END_MS_MAX = 10 * 60_000;
/** A run's end not acknowledged this long is sent again (with what is unacknowledged before it). */
export const END_RESEND_MS = 5_000;
/** Assigners told when a slot comes free: those that offered a run in the last minute, at most 16. */
export const OFFERERS_MAX = 16;
export const OFFERER_FORGET_MS = 60_000;
/**
 * How long a run's output waits for acknowledgements before going on without them: with both
 * Assigners of the pair gone the run goes on (its output limit still bounds what is kept) so that
 * it ends and frees its slot.
 */
export const ACK_WAIT_MS_MAX = 30_000;
/** A run's end message carries at most this much of the sandbox's message. */
const END_MESSAGE_CHARS_MAX = 4000;

type RunEnd = RunMessageOf<'run_exit'> | RunMessageOf<'run_evicted'>;

/** What the Worker logs; the driver words it (a union, so a new kind cannot go unlogged). */
export type WorkerNote =
  | { what: 'refused'; run: string; reason: string }
  | { what: 'takeover'; run: string; from: string; to: string }
  | { what: 'evicted'; run: string; pressure: number; reason: string }
  | { what: 'end_forgotten'; run: string; heldMs: number };

export type WorkerAction =
  | { kind: 'send'; to: string; msg: RunMessage }
  /** Start the run's program in a sandbox and feed its output to onOutput, its end to onExit. */
  | { kind: 'start'; run: RunSpecWire }
  | { kind: 'input'; run: string; data: string }
  | { kind: 'end_input'; run: string }
  | { kind: 'kill'; run: string }
  /** Closed: take no more of the run's output until it opens (the program pauses on its full pipe). */
  | { kind: 'output_window'; run: string; open: boolean }
  /** The run's output goes to another Assigner now: a wait on the old one's link should end. */
  | { kind: 'moved'; run: string; to: string }
  | { kind: 'note'; note: WorkerNote };

export interface WorkerCoreOptions {
  /** This Worker's node name (the `from` of its messages). */
  name: string;
  /** Runs at once; an offer beyond them is refused. */
  slots: number;
  /** An offer is refused when the PC's worst pressure is at or above this. */
  psiAcceptBelow: number;
  /** Above this batch runs are stopped so the PC's owner gets it back (the Assigner places them again). */
  psiPauseAbove: number;
  /** Languages this host has a toolchain for. */
  languages: readonly string[];
}

/** A run whose program is going: it holds a slot. */
interface RunningRun {
  interactive: boolean;
  /** Why it was stopped for the PC's owner (null: it was not). */
  evicted: string | null;
}

/**
 * One run's output until its Assigner pair holds it: what a takeover sends again. A run stays held
 * after its program ended until its end is acknowledged.
 */
interface HeldRun {
  assigner: string;
  buddy: string | null;
  unacked: RunChunkWire[];
  unackedBytes: number;
  /** The newest chunk sent (-1: none yet); the exit carries it so a gap before it shows. */
  lastSeq: number;
  /** Input is numbered by the Gateway; a line sent again after a takeover is dropped. */
  lastInputN: number;
  end: RunEnd | null;
  endedAtMs: number;
  endSentAtMs: number;
  /** The output window is closed until acks bring it under UNACKED_BYTES_MAX or until this time. */
  windowClosedUntilMs: number | null;
}

export class WorkerCore {
  private readonly running = new Map<string, RunningRun>();
  private readonly held = new Map<string, HeldRun>();
  /** Assigners that offered runs lately, oldest first, each with when it last offered. */
  private readonly offeredBy = new Map<string, number>();

  constructor(private readonly opts: WorkerCoreOptions) {
    assert.ok(Number.isInteger(opts.slots) && opts.slots > 0, 'a Worker needs at least one slot');
    assert.ok(opts.psiAcceptBelow <= opts.psiPauseAbove, 'the eviction bound must not be below the admission bound');
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Runs whose output or end is not acknowledged yet (running ones included). */
  get heldCount(): number {
    return this.held.size;
  }

  /** Where the run's output goes now (undefined: the run is not held here). */
  assignerOf(run: string): string | undefined {
    return this.held.get(run)?.assigner;
  }

  /** The load this Worker reports: its pressure and slots, counting `busy` runs. */
  load(psi: Pressure, busy = this.running.size): WorkerLoadWire {
    return { psiCpu: psi.cpu, psiMemory: psi.memory, psiIo: psi.io, slotsFree: Math.max(0, this.opts.slots - busy), slotsBusy: busy };
  }

  /** Why an offered run is refused (null: it is taken): a free slot, the PC's pressure, the toolchain. */
  private refusal(run: RunSpecWire, psi: Pressure): string | null {
    if (this.running.size >= this.opts.slots) return 'no free slot';
    const pressure = worstPressure(psi);
    if (pressure >= this.opts.psiAcceptBelow) return `PC pressure ${pressure.toFixed(2)} is at or above ${this.opts.psiAcceptBelow}`;
    if (!this.opts.languages.includes(run.language)) return `no ${run.language} toolchain here`;
    return null;
  }

  private rememberOfferer(assigner: string, nowMs: number): void {
    this.offeredBy.delete(assigner);
    this.offeredBy.set(assigner, nowMs);
    if (this.offeredBy.size > OFFERERS_MAX) this.offeredBy.delete(this.offeredBy.keys().next().value as string);
  }

  /**
   * This Worker's life as its heartbeat thread last said (0: not yet). Its yes to an offer names
   * it, so an Assigner that learns of a newer life later knows the run started on this one.
   */
  life = 0;

  onOffer(from: string, run: RunSpecWire, buddy: string | null, psi: Pressure, nowMs: number): WorkerAction[] {
    const name = this.opts.name;
    const life = this.life > 0 ? { life: this.life } : {};
    const h = this.held.get(run.id);
    if (h) {
      // Already going here. From the run's buddy it means the buddy holds the run now (it took
      // over and offered it again): say yes and send it what was not acknowledged. An offer from
      // anyone else is a stale one, e.g. from an Assigner that died after sending it.
      if (from !== h.buddy) return [];
      return [{ kind: 'send', to: from, msg: { type: 'offer_reply', from: name, id: run.id, accepted: true, ...life } }, ...this.takeOver(from, run.id, h)];
    }
    const reason = this.refusal(run, psi);
    this.rememberOfferer(from, nowMs);
    const accepted = reason === null;
    // The answer goes first, before the sandbox work starts: the Assigner is waiting on it.
    const out: WorkerAction[] = [
      { kind: 'send', to: from, msg: { type: 'offer_reply', from: name, id: run.id, accepted, ...(reason !== null ? { reason } : {}), load: this.load(psi, this.running.size + (accepted ? 1 : 0)), ...life } },
    ];
    if (reason !== null) return [...out, { kind: 'note', note: { what: 'refused', run: run.id, reason } }];
    if (buddy) out.push({ kind: 'send', to: buddy, msg: { type: 'run_claim', from: name, id: run.id } });
    this.running.set(run.id, { interactive: run.interactive, evicted: null });
    this.held.set(run.id, { assigner: from, buddy, unacked: [], unackedBytes: 0, lastSeq: -1, lastInputN: 0, end: null, endedAtMs: 0, endSentAtMs: 0, windowClosedUntilMs: null });
    assert.ok(this.running.size <= this.opts.slots);
    out.push({ kind: 'start', run });
    // A batch run's input is all in its spec.
    if (!run.interactive) out.push({ kind: 'end_input', run: run.id });
    return out;
  }

  /** The program wrote output (consecutive chunks, at most CHUNKS_PER_MESSAGE_MAX). */
  onOutput(run: string, chunks: RunChunkWire[], nowMs: number): WorkerAction[] {
    const h = this.held.get(run);
    assert.ok(h && h.end === null, `output of run ${run}, which is not running here`);
    assert.ok(chunks.length > 0 && chunks.length <= CHUNKS_PER_MESSAGE_MAX);
    for (const c of chunks) {
      assert.ok(c.seq > h.lastSeq, `run ${run}: chunk ${c.seq} after ${h.lastSeq}`);
      h.lastSeq = c.seq;
      h.unacked.push(c);
      h.unackedBytes += c.data.byteLength;
    }
    const out: WorkerAction[] = [{ kind: 'send', to: h.assigner, msg: { type: 'run_output', from: this.opts.name, id: run, chunks } }];
    // A pair slow to acknowledge pauses the program (through the runner's bounded queue), never drops output.
    if (h.unackedBytes > UNACKED_BYTES_MAX && h.windowClosedUntilMs === null) {
      h.windowClosedUntilMs = nowMs + ACK_WAIT_MS_MAX;
      out.push({ kind: 'output_window', run, open: false });
    }
    return out;
  }

  /** The program ended (its output all passed to onOutput first). */
  onExit(run: string, result: RunResultWire, psi: Pressure, nowMs: number): WorkerAction[] {
    const r = this.running.get(run);
    const h = this.held.get(run);
    assert.ok(r && h && h.end === null, `end of run ${run}, which is not running here`);
    this.running.delete(run);
    h.windowClosedUntilMs = null;
    const trimmed: RunResultWire = result.message === undefined ? result : { ...result, message: result.message.slice(0, END_MESSAGE_CHARS_MAX) };
    h.end = r.evicted !== null ? { type: 'run_evicted', from: this.opts.name, id: run, reason: r.evicted } : { type: 'run_exit', from: this.opts.name, id: run, result: trimmed, lastSeq: h.lastSeq };
    h.endedAtMs = nowMs;
    h.endSentAtMs = nowMs;
    return [{ kind: 'send', to: h.assigner, msg: h.end }, ...this.tellSlotFree(psi, nowMs)];
  }

  /** Assigners that offered runs lately hear at once that a slot is free. */
  private tellSlotFree(psi: Pressure, nowMs: number): WorkerAction[] {
    const out: WorkerAction[] = [];
    const load = this.load(psi);
    for (const [assigner, atMs] of this.offeredBy) {
      if (nowMs - atMs > OFFERER_FORGET_MS) this.offeredBy.delete(assigner);
      else out.push({ kind: 'send', to: assigner, msg: { type: 'worker_load', from: this.opts.name, load } });
    }
    return out;
  }

  /** The pair holds the output up to seq (and the end, if exit): forget it. */
  onAck(from: string, run: string, seq: number, exit: boolean): WorkerAction[] {
    const h = this.held.get(run);
    if (!h || from !== h.assigner) return [];
    const out = this.ackUpTo(run, h, seq);
    if (exit && h.end !== null) this.held.delete(run);
    return out;
  }

  private ackUpTo(run: string, h: HeldRun, seq: number): WorkerAction[] {
    let drop = 0;
    while (drop < h.unacked.length && (h.unacked[drop] as RunChunkWire).seq <= seq) h.unackedBytes -= (h.unacked[drop++] as RunChunkWire).data.byteLength;
    h.unacked.splice(0, drop);
    if (h.windowClosedUntilMs === null || h.unackedBytes > UNACKED_BYTES_MAX) return [];
    h.windowClosedUntilMs = null;
    return [{ kind: 'output_window', run, open: true }];
  }

  /** The run's Assigner died and `from` (its buddy, or an Assigner it was handed to) holds the run now. */
  onTakeover(from: string, run: string): WorkerAction[] {
    const h = this.held.get(run);
    if (!h) {
      // Nothing of it here (it ended and was acknowledged, or never ran): the new holder places it again or ends it.
      return [{ kind: 'send', to: from, msg: { type: 'run_evicted', from: this.opts.name, id: run, reason: `worker ${this.opts.name} does not hold run ${run}` } }];
    }
    // Every cluster member is authenticated: any Assigner may be the one the run was handed to.
    return this.takeOver(from, run, h);
  }

  private takeOver(to: string, run: string, h: HeldRun): WorkerAction[] {
    const out: WorkerAction[] = [{ kind: 'note', note: { what: 'takeover', run, from: h.assigner, to } }];
    h.assigner = to;
    h.buddy = null;
    out.push({ kind: 'moved', run, to });
    return [...out, ...this.resend(run, h)];
  }

  /** What the run's Assigner has not acknowledged: the chunks, and the end if there is one. */
  private resend(run: string, h: HeldRun): WorkerAction[] {
    const out: WorkerAction[] = [];
    for (let i = 0; i < h.unacked.length; i += CHUNKS_PER_MESSAGE_MAX) {
      out.push({ kind: 'send', to: h.assigner, msg: { type: 'run_output', from: this.opts.name, id: run, chunks: h.unacked.slice(i, i + CHUNKS_PER_MESSAGE_MAX) } });
    }
    if (h.end !== null) out.push({ kind: 'send', to: h.assigner, msg: h.end });
    return out;
  }

  /** Whether input numbered n is new (unnumbered input always is); a line resent after a takeover is not. */
  private freshInput(h: HeldRun, n: number | undefined): boolean {
    if (n === undefined) return true;
    if (n <= h.lastInputN) return false;
    h.lastInputN = n;
    return true;
  }

  onInput(run: string, data: string, n: number | undefined): WorkerAction[] {
    const h = this.held.get(run);
    if (!h || !this.freshInput(h, n) || !this.running.has(run)) return [];
    return [{ kind: 'input', run, data }];
  }

  onEof(run: string, n: number | undefined): WorkerAction[] {
    const h = this.held.get(run);
    if (!h || !this.freshInput(h, n) || !this.running.has(run)) return [];
    return [{ kind: 'end_input', run }];
  }

  onKill(run: string): WorkerAction[] {
    return this.running.has(run) ? [{ kind: 'kill', run }] : [];
  }

  /**
   * A fresh pressure sample. Above the second bound the person at the PC comes first: batch runs
   * stop here and run elsewhere (the Assigner places them again). Interactive runs stay: someone
   * is typing to them.
   */
  onPressure(psi: Pressure): WorkerAction[] {
    const pressure = worstPressure(psi);
    if (pressure < this.opts.psiPauseAbove) return [];
    const out: WorkerAction[] = [];
    for (const [run, r] of this.running) {
      if (r.interactive || r.evicted !== null) continue;
      r.evicted = `PC pressure ${pressure.toFixed(2)} is above ${this.opts.psiPauseAbove}`;
      out.push({ kind: 'note', note: { what: 'evicted', run, pressure, reason: r.evicted } }, { kind: 'kill', run });
    }
    return out;
  }

  /** Deadlines due by nowMs: output windows that waited long enough, ends to send again or forget. */
  onTick(nowMs: number): WorkerAction[] {
    const out: WorkerAction[] = [];
    for (const [run, h] of this.held) {
      if (h.windowClosedUntilMs !== null && nowMs >= h.windowClosedUntilMs) {
        h.windowClosedUntilMs = null;
        out.push({ kind: 'output_window', run, open: true });
      }
      if (h.end === null) continue;
      if (nowMs - h.endedAtMs >= HELD_END_MS_MAX) {
        // Both Assigners of the pair are gone (or the link is): nobody will acknowledge it.
        out.push({ kind: 'note', note: { what: 'end_forgotten', run, heldMs: nowMs - h.endedAtMs } });
        this.held.delete(run);
      } else if (nowMs - h.endSentAtMs >= END_RESEND_MS) {
        // An end not acknowledged by now was lost on the way (a link reset): send it again.
        h.endSentAtMs = nowMs;
        out.push(...this.resend(run, h));
      }
    }
    return out;
  }

  /** When onTick next has something to do (null: nothing is waiting). */
  nextWakeMs(): number | null {
    let next = Infinity;
    for (const h of this.held.values()) {
      if (h.windowClosedUntilMs !== null) next = Math.min(next, h.windowClosedUntilMs);
      if (h.end !== null) next = Math.min(next, h.endSentAtMs + END_RESEND_MS, h.endedAtMs + HELD_END_MS_MAX);
    }
    return next === Infinity ? null : next;
  }
}
