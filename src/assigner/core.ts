import assert from 'node:assert/strict';
import { unmeasuredResult, type RunMessage, type RunResultWire, type RunSpecWire } from '../runs/messages.js';

/**
 * The Assigner's placement and relay logic as a pure state machine: every method takes the event
 * and the time, changes only this object, and returns what to send and which timers to set.
 * No sockets, no clock: the driver (src/assigner/driver.ts) does the I/O.
 */

export interface WorkerLoadView {
  name: string;
  incarnation: number;
  load: { psiCpu: number; psiMemory: number; psiIo: number; slotsFree: number; slotsBusy: number };
  languages: string[];
}

export type AssignerAction =
  | { kind: 'send'; to: string; msg: RunMessage }
  | { kind: 'timer'; key: string; atMs: number };

export interface AssignerOptions {
  name: string;
  /** Runs waiting for a Worker; past it a new run is refused (the Gateway answers 503). */
  queueMax: number;
  /** A Worker that has not answered an offer by then is passed over. */
  offerTimeoutMs: number;
  /** A Worker whose PSI is at or above this is not offered runs (it would refuse anyway). */
  psiAcceptBelow: number;
  /** A Worker missing from Monitor heartbeats this long is not offered runs. */
  workerStaleMs: number;
  /** When every Worker refused, wait this long before offering the run around again. */
  retryAfterMs: number;
  /** Runs held at once (queued + running); bounded like everything else. */
  runsMax: number;
}

type Phase = 'queued' | 'offered' | 'running';

interface HeldRun {
  spec: RunSpecWire;
  gateway: string;
  phase: Phase;
  worker: string | null;
  tried: Set<string>;
  offerSeq: number;
  input: Array<{ kind: 'data'; data: string } | { kind: 'eof' }>;
  lastPosition: number;
  /** Placements so far; a batch run whose Worker is lost is placed again up to ATTEMPTS_MAX. */
  attempts: number;
}

/** A non-interactive run is tried on at most this many Workers before it ends as node_lost. */
export const ATTEMPTS_MAX = 3;

interface WorkerState extends WorkerLoadView {
  heardMs: number;
  offersInFlight: number;
}

export class AssignerCore {
  private readonly workers = new Map<string, WorkerState>();
  private readonly runs = new Map<string, HeldRun>();
  private readonly queue: string[] = [];

  constructor(private readonly opts: AssignerOptions) {
    assert.ok(opts.queueMax > 0 && opts.runsMax >= opts.queueMax);
  }

  get queueLength(): number {
    return this.queue.length;
  }

  get runCount(): number {
    return this.runs.size;
  }

  runsOn(worker: string): string[] {
    return [...this.runs.entries()].filter(([, r]) => r.worker === worker && r.phase !== 'queued').map(([id]) => id);
  }

  onMonitorHeartbeat(workers: WorkerLoadView[], nowMs: number): AssignerAction[] {
    const out: AssignerAction[] = [];
    for (const w of workers) {
      const prev = this.workers.get(w.name);
      if (prev && w.incarnation < prev.incarnation) continue; // news of an older life
      this.workers.set(w.name, { ...w, heardMs: nowMs, offersInFlight: prev && prev.incarnation === w.incarnation ? prev.offersInFlight : 0 });
      // A higher incarnation is a restarted Worker: what ran in its previous life is gone.
      if (prev && w.incarnation > prev.incarnation) out.push(...this.loseRuns(w.name, nowMs));
    }
    return [...out, ...this.pump(nowMs)];
  }

  onSubmit(gateway: string, spec: RunSpecWire, nowMs: number): AssignerAction[] {
    if (this.runs.has(spec.id)) return []; // a resent submit: we already hold it
    if (this.queue.length >= this.opts.queueMax || this.runs.size >= this.opts.runsMax) {
      return [this.send(gateway, { type: 'run_refused', from: this.opts.name, id: spec.id, code: 'QUEUE_FULL', message: `assigner ${this.opts.name}: ${this.queue.length} runs waiting, the bound is ${this.opts.queueMax}` })];
    }
    this.runs.set(spec.id, { spec, gateway, phase: 'queued', worker: null, tried: new Set(), offerSeq: 0, input: [], lastPosition: 0, attempts: 0 });
    this.queue.push(spec.id);
    return this.pump(nowMs);
  }

  onOfferReply(worker: string, id: string, accepted: boolean, nowMs: number): AssignerAction[] {
    const run = this.runs.get(id);
    const w = this.workers.get(worker);
    if (w && w.offersInFlight > 0) w.offersInFlight--;
    if (!run || run.phase !== 'offered' || run.worker !== worker) {
      // A late "yes" for a run that moved on: tell that Worker to drop it.
      return accepted ? [this.send(worker, { type: 'run_kill', from: this.opts.name, id })] : [];
    }
    if (!accepted) return this.passOver(id, run, nowMs);
    run.phase = 'running';
    if (w) {
      w.load = { ...w.load, slotsFree: Math.max(0, w.load.slotsFree - 1), slotsBusy: w.load.slotsBusy + 1 };
    }
    const out: AssignerAction[] = [this.send(run.gateway, { type: 'run_started', from: this.opts.name, id, worker })];
    for (const i of run.input.splice(0)) {
      out.push(this.send(worker, i.kind === 'data' ? { type: 'run_input', from: this.opts.name, id, data: i.data } : { type: 'run_eof', from: this.opts.name, id }));
    }
    return out;
  }

  onTimer(key: string, nowMs: number): AssignerAction[] {
    const [kind, id, seq] = key.split('|');
    if (kind === 'retry') return this.pump(nowMs);
    const run = id ? this.runs.get(id) : undefined;
    if (kind !== 'offer' || !run || run.phase !== 'offered' || String(run.offerSeq) !== seq) return [];
    const w = run.worker ? this.workers.get(run.worker) : undefined;
    if (w && w.offersInFlight > 0) w.offersInFlight--;
    return this.passOver(id as string, run, nowMs);
  }

  /** Output and exit from the Worker running the run, relayed to its Gateway. */
  onWorkerMessage(worker: string, msg: Extract<RunMessage, { type: 'run_output' | 'run_exit' }>, nowMs: number): AssignerAction[] {
    const run = this.runs.get(msg.id);
    if (!run || run.worker !== worker || run.phase !== 'running') return [];
    if (msg.type === 'run_exit') {
      this.runs.delete(msg.id);
      const w = this.workers.get(worker);
      if (w) w.load = { ...w.load, slotsFree: w.load.slotsFree + 1, slotsBusy: Math.max(0, w.load.slotsBusy - 1) };
      // A slot is free now: the queue need not wait for the next load report.
      return [this.send(run.gateway, { ...msg, from: this.opts.name }), ...this.pump(nowMs)];
    }
    return [this.send(run.gateway, { ...msg, from: this.opts.name })];
  }

  /** Input and kill from the Gateway: forwarded once the run has a Worker, held until then. */
  onGatewayMessage(msg: Extract<RunMessage, { type: 'run_input' | 'run_eof' | 'run_kill' }>, nowMs: number): AssignerAction[] {
    const run = this.runs.get(msg.id);
    if (!run) return [];
    if (msg.type === 'run_kill' && run.phase === 'queued') {
      return [...this.finish(msg.id, run, { status: 'killed', message: undefined }), ...this.pump(nowMs)];
    }
    if (run.phase === 'running' && run.worker) return [this.send(run.worker, { ...msg, from: this.opts.name })];
    if (msg.type === 'run_kill') {
      // Offered, not yet answered: whoever says yes gets a kill right after.
      const out = run.worker ? [this.send(run.worker, { ...msg, from: this.opts.name })] : [];
      return [...out, ...this.finish(msg.id, run, { status: 'killed', message: undefined })];
    }
    if (run.input.length < 1024) run.input.push(msg.type === 'run_input' ? { kind: 'data', data: msg.data } : { kind: 'eof' });
    return [];
  }

  /** A Worker stopped a batch run because its PC's owner needs the machine: place it elsewhere. */
  onEvicted(worker: string, id: string, nowMs: number): AssignerAction[] {
    const run = this.runs.get(id);
    if (!run || run.worker !== worker || run.phase !== 'running') return [];
    const w = this.workers.get(worker);
    if (w) w.load = { ...w.load, slotsFree: w.load.slotsFree + 1, slotsBusy: Math.max(0, w.load.slotsBusy - 1) };
    return [...this.lost(id, run, worker, nowMs), ...this.pump(nowMs)];
  }

  /** A Worker the Monitors declared dead: its runs end as node_lost, and it gets no more offers. */
  onWorkerDead(worker: string, nowMs: number): AssignerAction[] {
    this.workers.delete(worker);
    return [...this.loseRuns(worker, nowMs), ...this.pump(nowMs)];
  }

  private loseRuns(worker: string, nowMs: number): AssignerAction[] {
    const out: AssignerAction[] = [];
    for (const [id, run] of [...this.runs.entries()]) {
      if (run.worker !== worker) continue;
      if (run.phase === 'offered') out.push(...this.passOver(id, run, nowMs));
      else if (run.phase === 'running') out.push(...this.lost(id, run, worker, nowMs));
    }
    return out;
  }

  /**
   * A running run's Worker is gone. An interactive run ends as node_lost at once (a person was
   * typing to that process); a batch run starts again elsewhere — its input is all in the spec —
   * and the Gateway is told to drop the lost attempt's output.
   */
  private lost(id: string, run: HeldRun, worker: string, nowMs: number): AssignerAction[] {
    run.attempts++;
    if (run.spec.interactive || run.attempts >= ATTEMPTS_MAX) {
      const why = run.spec.interactive ? `worker ${worker} was lost` : `worker ${worker} was lost (attempt ${run.attempts} of ${ATTEMPTS_MAX})`;
      return this.finish(id, run, { status: 'node_lost', message: why });
    }
    run.tried.add(worker);
    run.phase = 'queued';
    run.worker = null;
    run.lastPosition = 0;
    this.queue.unshift(id);
    return [this.send(run.gateway, { type: 'run_restart', from: this.opts.name, id, attempt: run.attempts + 1 })];
  }

  private finish(id: string, run: HeldRun, r: { status: RunResultWire['status']; message: string | undefined }): AssignerAction[] {
    this.runs.delete(id);
    const qi = this.queue.indexOf(id);
    if (qi >= 0) this.queue.splice(qi, 1);
    return [this.send(run.gateway, { type: 'run_exit', from: this.opts.name, id, result: unmeasuredResult(r.status, run.spec.language, r.message) })];
  }

  private passOver(id: string, run: HeldRun, nowMs: number): AssignerAction[] {
    if (run.worker) run.tried.add(run.worker);
    run.phase = 'queued';
    run.worker = null;
    this.queue.unshift(id);
    return this.pump(nowMs);
  }

  private candidates(run: HeldRun, nowMs: number): WorkerState[] {
    const fresh = [...this.workers.values()].filter(
      (w) =>
        nowMs - w.heardMs <= this.opts.workerStaleMs &&
        w.languages.includes(run.spec.language) &&
        this.freeSlots(w) > 0 &&
        Math.max(w.load.psiCpu, w.load.psiMemory, w.load.psiIo) < this.opts.psiAcceptBelow,
    );
    const untried = fresh.filter((w) => !run.tried.has(w.name));
    const busy = (w: WorkerState) => (w.load.slotsBusy + w.offersInFlight) / Math.max(1, w.load.slotsBusy + w.load.slotsFree);
    const psi = (w: WorkerState) => Math.max(w.load.psiCpu, w.load.psiMemory, w.load.psiIo);
    return untried.sort((a, b) => busy(a) - busy(b) || psi(a) - psi(b) || a.name.localeCompare(b.name));
  }

  /**
   * Free slots as far as this Assigner can tell: the Worker's last report is up to a heartbeat old,
   * so the runs this Assigner started there since, and its offers in flight, count against it.
   */
  private freeSlots(w: WorkerState): number {
    let mine = 0;
    for (const r of this.runs.values()) if (r.worker === w.name && r.phase === 'running') mine++;
    const total = w.load.slotsFree + w.load.slotsBusy;
    return Math.min(w.load.slotsFree, total - mine) - w.offersInFlight;
  }

  /** Offers queued runs, in order, to the least-loaded Workers; reports positions of the rest. */
  private pump(nowMs: number): AssignerAction[] {
    const out: AssignerAction[] = [];
    let retry = false;
    for (const id of [...this.queue]) {
      const run = this.runs.get(id) as HeldRun;
      const [best] = this.candidates(run, nowMs);
      if (!best) {
        if (run.tried.size > 0) {
          // Everyone asked said no: ask around again later rather than never.
          run.tried.clear();
          retry = true;
        }
        continue;
      }
      this.queue.splice(this.queue.indexOf(id), 1);
      run.phase = 'offered';
      run.worker = best.name;
      run.offerSeq++;
      best.offersInFlight++;
      out.push(this.send(best.name, { type: 'offer', from: this.opts.name, run: run.spec }));
      out.push({ kind: 'timer', key: `offer|${id}|${run.offerSeq}`, atMs: nowMs + this.opts.offerTimeoutMs });
    }
    this.queue.forEach((id, i) => {
      const run = this.runs.get(id) as HeldRun;
      if (run.lastPosition !== i + 1) {
        run.lastPosition = i + 1;
        out.push(this.send(run.gateway, { type: 'run_queued', from: this.opts.name, id, position: i + 1 }));
      }
    });
    if (retry) out.push({ kind: 'timer', key: 'retry', atMs: nowMs + this.opts.retryAfterMs });
    return out;
  }

  private send(to: string, msg: RunMessage): AssignerAction {
    return { kind: 'send', to, msg };
  }
}
