import assert from 'node:assert/strict';
import type { WorkerLoadWire } from '../protocol/load.js';
import { unmeasuredResult } from '../protocol/run-wire.js';
import { CHUNKS_PER_MESSAGE_MAX, type RunChunkWire, type RunMessage, type RunResultWire, type RunSpecWire } from '../protocol/run-messages.js';

/**
 * The Assigner's placement and relay logic as a pure state machine: every method takes the event
 * and the time, changes only this object, and returns what to send and which timers to set.
 * No sockets, no clock: the driver (src/assigner/driver.ts) does the I/O.
 */

export interface WorkerLoadView {
  name: string;
  incarnation: number;
  /** The Worker's life (src/cluster/heartbeat-client.ts): a higher one is a restart, its runs gone. */
  life: number;
  load: WorkerLoadWire;
  languages: string[];
}

/** The two bounds on what a run holds before it can be passed on, each dropping past its limit. */
export type AssignerDropBound = 'held_input' | 'deferred_gateway';

export type AssignerAction =
  | { kind: 'send'; to: string; msg: RunMessage }
  | { kind: 'timer'; key: string; atMs: number }
  /** A message was dropped at a full bound (the first drop per run and bound: the driver warns once). */
  | { kind: 'dropped'; bound: AssignerDropBound; run: string; boundMax: number };

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
  /** A finished run's output stays this long, for a Gateway that failed over to fetch it. */
  finishedRetainMs: number;
  /** Output bytes kept for finished runs (own and replicas); past it the oldest are forgotten. */
  finishedRetainBytesMax: number;
  /** Finished runs kept (own and replicas); past it the oldest are forgotten. */
  finishedRetainCountMax: number;
}

type Phase = 'queued' | 'offered' | 'running' | 'finished';

/** One run's output so far (the current attempt's), in seq order from 0, and its end. */
interface RunOutputLog {
  chunks: RunChunkWire[];
  bytes: number;
  result: RunResultWire | null;
  finishedAtMs: number;
}

/** The buddy's copy of a run: enough to carry the run on if its Assigner dies. */
interface Replica extends RunOutputLog {
  owner: string;
  gateway: string;
  spec: RunSpecWire;
  attempts: number;
  worker: string | null;
}

interface HeldRun extends RunOutputLog {
  spec: RunSpecWire;
  gateway: string;
  phase: Phase;
  worker: string | null;
  /** The Worker's life its yes named (null: not named, or not started): see loseRuns. */
  workerLife: number | null;
  tried: Set<string>;
  offerSeq: number;
  /** Input that came before the run had a Worker (the Gateway numbers it; resent input is dropped there). */
  input: Array<Extract<RunMessage, { type: 'run_input' | 'run_eof' }>>;
  lastPosition: number;
  /** Placements so far; a batch run whose Worker is lost is placed again up to ATTEMPTS_MAX. */
  attempts: number;
  /** Chunks up to this seq are held by the buddy too (or there is no buddy): the Worker may forget them. */
  acked: number;
  /** When this Assigner last asked the Worker to send again (after a gap). */
  resendAskedMs: number;
  /** Bounds this run has dropped messages at (each is reported once). */
  droppedAt: Set<AssignerDropBound>;
  /**
   * Messages for the Gateway wait until the buddy holds the run: the Gateway must never hear of
   * a run that only one Assigner knows (if that one died, nobody would carry the run on).
   * null once the buddy acknowledged the hold (or there is no buddy).
   */
  deferred: RunMessage[] | null;
}

/**
 * Gateway messages held for one run until its buddy copy is acknowledged (~1 round trip, in which
 * a run sends a handful). Past it they are dropped, with a warning: the Gateway asks again for
 * missing output, and a lost queue position is replaced by the next.
 */
export const DEFERRED_MAX = 4096;
/**
 * Input messages (lines, EOF) held for one run before it has a Worker: a student types a few lines
 * while a run waits; thousands is a client flooding. Past it they are dropped, with a warning.
 */
export const HELD_INPUT_MAX = 1024;
/**
 * A Worker's own report of its load outranks the Monitors' copy this long: theirs is up to a
 * heartbeat (and a poll) old and would show a slot busy that was freed since.
 */
const DIRECT_LOAD_FRESH_MS = 1_000;

/** A gap in a Worker's output is asked to be sent again at most this often. */
const RESEND_ASK_MS = 1_000;

/** Dead Workers remembered (a lab has a few dozen PCs); past it the oldest is forgotten. */
const DEAD_WORKERS_MAX = 1024;

/** A non-interactive run is tried on at most this many Workers before it ends as node_lost. */
export const ATTEMPTS_MAX = 3;

interface WorkerState extends WorkerLoadView {
  heardMs: number;
  /** When the Worker last told its load itself (worker_load, offer_reply). */
  toldMs: number;
  offersInFlight: number;
}

/** The Worker's own report of its load (copied: the message is not kept). */
function told(w: WorkerState, load: WorkerLoadView['load'], nowMs: number): void {
  w.load = { psiCpu: load.psiCpu, psiMemory: load.psiMemory, psiIo: load.psiIo, slotsFree: load.slotsFree, slotsBusy: load.slotsBusy };
  w.toldMs = nowMs;
}

export class AssignerCore {
  private readonly workers = new Map<string, WorkerState>();
  private readonly runs = new Map<string, HeldRun>();
  private readonly queue: string[] = [];
  private readonly replicas = new Map<string, Replica>();
  /**
   * Workers declared dead and not back since, oldest first: a run taken over from the buddy that
   * was running on one of them is lost at once (onBuddyLost).
   */
  private readonly deadWorkers = new Set<string>();
  /** Where this Assigner copies its runs; null: unpaired, Workers are acknowledged at once. */
  private buddy: string | null = null;
  /** Messages dropped at each bound since start (the driver logs them; tests read them). */
  readonly dropCounts: Record<AssignerDropBound, number> = { held_input: 0, deferred_gateway: 0 };

  constructor(private readonly opts: AssignerOptions) {
    assert.ok(opts.queueMax > 0 && opts.runsMax >= opts.queueMax);
  }

  get buddyName(): string | null {
    return this.buddy;
  }

  private liveReplicas(): number {
    let n = 0;
    for (const r of this.replicas.values()) if (r.result === null) n++;
    return n;
  }

  /** The Assigners whose runs this one holds copies of. */
  replicaOwners(): Set<string> {
    return new Set([...this.replicas.values()].map((r) => r.owner));
  }

  get replicaCount(): number {
    return this.replicas.size;
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /** Runs not yet finished (a finished run is kept a while for a Gateway failover). */
  get runCount(): number {
    let n = 0;
    for (const r of this.runs.values()) if (r.phase !== 'finished') n++;
    return n;
  }

  runsOn(worker: string): string[] {
    return [...this.runs.entries()].filter(([, r]) => r.worker === worker && r.phase !== 'queued').map(([id]) => id);
  }

  onMonitorHeartbeat(workers: WorkerLoadView[], nowMs: number): AssignerAction[] {
    const out: AssignerAction[] = [];
    for (const w of workers) {
      const prev = this.workers.get(w.name);
      if (prev && w.incarnation < prev.incarnation) continue; // news of an older life
      // A refutation (a busy Worker suspected a moment) raises the incarnation, not the life.
      const sameLife = prev !== undefined && prev.life === w.life;
      this.deadWorkers.delete(w.name); // back (a new life): a run taken over there hears run_evicted
      // The Worker's own word, if recent, is newer than the Monitors' copy (up to a heartbeat old).
      const load = sameLife && nowMs - prev.toldMs < DIRECT_LOAD_FRESH_MS ? prev.load : w.load;
      this.workers.set(w.name, { ...w, load, heardMs: nowMs, toldMs: sameLife ? prev.toldMs : -Infinity, offersInFlight: sameLife ? prev.offersInFlight : 0 });
      // A higher life is a restarted Worker: what ran in its previous life is gone.
      if (prev && w.life > prev.life) out.push(...this.loseRuns(w.name, nowMs, w.life));
    }
    return [...out, ...this.pump(nowMs)];
  }

  onSubmit(gateway: string, spec: RunSpecWire, nowMs: number): AssignerAction[] {
    if (this.runs.has(spec.id)) return []; // a resent submit: we already hold it
    if (this.queue.length >= this.opts.queueMax || this.runCount >= this.opts.runsMax) {
      return [this.send(gateway, { type: 'run_refused', from: this.opts.name, id: spec.id, code: 'QUEUE_FULL', message: `assigner ${this.opts.name}: ${this.queue.length} runs waiting, the bound is ${this.opts.queueMax}` })];
    }
    const run: HeldRun = { spec, gateway, phase: 'queued', worker: null, workerLife: null, tried: new Set(), offerSeq: 0, input: [], lastPosition: 0, attempts: 0, acked: -1, resendAskedMs: -Infinity, droppedAt: new Set(), deferred: this.buddy === null ? null : [], chunks: [], bytes: 0, result: null, finishedAtMs: 0 };
    this.runs.set(spec.id, run);
    this.queue.push(spec.id);
    // The offer first: it is on the run's path; the copy goes to the buddy right behind it.
    return [...this.pump(nowMs), ...this.toBuddy({ type: 'replica_hold', from: this.opts.name, id: spec.id, gateway, run: spec, attempts: 0 })];
  }

  /**
   * A Worker's load told directly (a slot came free, or with its answer to an offer): fresher than
   * the Monitors' copy. A Worker with a free slot may be asked again by runs it refused.
   */
  onWorkerLoad(worker: string, load: WorkerLoadView['load'], nowMs: number): AssignerAction[] {
    const w = this.workers.get(worker);
    if (!w) return [];
    told(w, load, nowMs);
    if (load.slotsFree === 0) return [];
    for (const id of this.queue) this.runs.get(id)?.tried.delete(worker);
    return this.pump(nowMs);
  }

  /** `life`: the Worker's life its answer names (absent from a Worker that does not know it yet). */
  onOfferReply(worker: string, id: string, accepted: boolean, nowMs: number, load?: WorkerLoadView['load'], life?: number): AssignerAction[] {
    const run = this.runs.get(id);
    const w = this.workers.get(worker);
    // A run finished while offered (killed) gave its offer's slot back then.
    if (w && w.offersInFlight > 0 && run?.phase !== 'finished') w.offersInFlight--;
    if (w && load) told(w, load, nowMs);
    if (!run || run.phase !== 'offered' || run.worker !== worker) {
      // A late "yes" for a run that moved on: tell that Worker to drop it.
      return accepted && run?.worker !== worker ? [this.send(worker, { type: 'run_kill', from: this.opts.name, id })] : [];
    }
    if (!accepted) return this.passOver(id, run, nowMs);
    run.workerLife = life ?? null;
    const out = this.startedOn(id, run, worker);
    // The Worker's own figures already count this run.
    if (w && !load) w.load = { ...w.load, slotsFree: Math.max(0, w.load.slotsFree - 1), slotsBusy: w.load.slotsBusy + 1 };
    return out;
  }

  private startedOn(id: string, run: HeldRun, worker: string): AssignerAction[] {
    run.phase = 'running';
    run.worker = worker;
    const qi = this.queue.indexOf(id);
    if (qi >= 0) this.queue.splice(qi, 1);
    const out: AssignerAction[] = [
      ...this.toGateway(run, { type: 'run_started', from: this.opts.name, id, worker, buddy: this.buddy }),
      ...this.toBuddy({ type: 'replica_placed', from: this.opts.name, id, worker }),
    ];
    for (const i of run.input.splice(0)) out.push(this.send(worker, { ...i, from: this.opts.name }));
    return out;
  }

  onTimer(key: string, nowMs: number): AssignerAction[] {
    const [kind, id, seq] = key.split('|');
    if (kind === 'retry') return this.pump(nowMs);
    if (kind === 'expire') return this.expire(nowMs);
    const run = id ? this.runs.get(id) : undefined;
    if (kind !== 'offer' || !run || run.phase !== 'offered' || String(run.offerSeq) !== seq) return [];
    const w = run.worker ? this.workers.get(run.worker) : undefined;
    if (w && w.offersInFlight > 0) w.offersInFlight--;
    return this.passOver(id as string, run, nowMs);
  }

  /**
   * Output and exit from the Worker running the run: kept, relayed to the Gateway and copied to
   * the buddy; the Worker hears "acked" once the buddy holds them too (at once with no buddy).
   * A chunk sent again after a takeover (seq already held) is only acknowledged again.
   */
  onWorkerMessage(worker: string, msg: Extract<RunMessage, { type: 'run_output' | 'run_exit' }>, nowMs: number): AssignerAction[] {
    const run = this.runs.get(msg.id);
    // Offered to this Worker again, the run's yes has not come: anything it sends of the run is an
    // earlier attempt's (its reply would have come first on the same link).
    if (!run || run.worker !== worker || run.phase === 'offered' || run.phase === 'queued') {
      // An exit nobody here waits for (forgotten, or another attempt's, e.g. a yes that came after
      // the offer timed out): let the Worker forget it, or it would hold the run and stay silent
      // to every new offer of it for HELD_END_MS_MAX.
      return msg.type === 'run_exit' ? [this.send(worker, { type: 'run_ack', from: this.opts.name, id: msg.id, seq: -1, exit: true })] : [];
    }
    if (run.phase === 'finished') return msg.type === 'run_exit' ? [this.ackWorker(msg.id, run)] : [];
    if (run.phase !== 'running') return [];
    // A link dropped some of the Worker's messages: ask it to send again what it still holds.
    const lastSent = msg.type === 'run_exit' ? (msg.lastSeq ?? -1) : (msg.chunks[msg.chunks.length - 1] as RunChunkWire).seq;
    const fresh = msg.type === 'run_output' ? appendChunks(run, msg.chunks) : [];
    if (lastSent >= run.chunks.length) {
      if (nowMs - run.resendAskedMs < RESEND_ASK_MS) return [];
      run.resendAskedMs = nowMs;
      return [this.send(worker, { type: 'run_takeover', from: this.opts.name, id: msg.id })];
    }
    if (msg.type === 'run_exit') {
      this.release(worker);
      const out = this.finished(msg.id, run, { ...msg.result }, nowMs);
      // A slot is free now: the queue need not wait for the next load report.
      return [...out, ...this.pump(nowMs)];
    }
    if (fresh.length === 0) return [this.ackWorker(msg.id, run)];
    const out: AssignerAction[] = this.toGateway(run, { type: 'run_output', from: this.opts.name, id: msg.id, chunks: fresh });
    if (this.buddy === null) {
      run.acked = run.chunks.length - 1;
      out.push(this.ackWorker(msg.id, run));
    } else {
      out.push(this.send(this.buddy, { type: 'replica_output', from: this.opts.name, id: msg.id, chunks: fresh }));
    }
    return out;
  }

  /** Input and kill from the Gateway: forwarded once the run has a Worker, held until then. */
  onGatewayMessage(msg: Extract<RunMessage, { type: 'run_input' | 'run_eof' | 'run_kill' }>, nowMs: number): AssignerAction[] {
    const run = this.runs.get(msg.id);
    if (!run || run.phase === 'finished') return [];
    if (msg.type === 'run_kill' && run.phase === 'queued') {
      return [...this.finished(msg.id, run, unmeasuredResult('killed', run.spec.language), nowMs), ...this.pump(nowMs)];
    }
    if (run.phase === 'running' && run.worker) return [this.send(run.worker, { ...msg, from: this.opts.name })];
    if (msg.type === 'run_kill') {
      // Offered, not yet answered: whoever says yes gets a kill right after. The offer's slot is
      // free again now: its timer will find the run finished and count nothing.
      const w = run.worker ? this.workers.get(run.worker) : undefined;
      if (w && w.offersInFlight > 0) w.offersInFlight--;
      const out = run.worker ? [this.send(run.worker, { ...msg, from: this.opts.name })] : [];
      return [...out, ...this.finished(msg.id, run, unmeasuredResult('killed', run.spec.language), nowMs)];
    }
    if (run.input.length < HELD_INPUT_MAX) {
      run.input.push(msg);
      return [];
    }
    return this.dropped(msg.id, run, 'held_input', HELD_INPUT_MAX);
  }

  /** A Gateway (after a takeover, or a new one after a Gateway failover) wants the run's stream. */
  onAttach(gateway: string, id: string, afterSeq: number): AssignerAction[] {
    const run = this.runs.get(id);
    if (!run) return [];
    const out: AssignerAction[] = [];
    if (run.gateway !== gateway) {
      run.gateway = gateway;
      out.push(...this.toBuddy({ type: 'replica_hold', from: this.opts.name, id, gateway, run: run.spec, attempts: run.attempts }));
    }
    const phase = run.phase === 'offered' ? 'queued' : run.phase;
    out.push(this.send(gateway, { type: 'run_attached', from: this.opts.name, id, spec: run.spec, phase, worker: run.phase === 'running' || run.phase === 'finished' ? run.worker : null, attempt: Math.min(run.attempts + 1, ATTEMPTS_MAX) }));
    for (const msg of outputMessages(this.opts.name, id, run.chunks, afterSeq, 'run_output')) out.push(this.send(gateway, msg));
    if (run.result) out.push(this.send(gateway, { type: 'run_exit', from: this.opts.name, id, result: run.result, lastSeq: run.chunks.length - 1 }));
    return out;
  }

  /** A Worker stopped a batch run because its PC's owner needs the machine: place it elsewhere. */
  onEvicted(worker: string, id: string, nowMs: number): AssignerAction[] {
    const run = this.runs.get(id);
    // Acknowledged whatever happens here: the Worker may forget the run.
    const ack = this.send(worker, { type: 'run_ack', from: this.opts.name, id, seq: -1, exit: true });
    if (!run || run.worker !== worker || run.phase !== 'running') return [ack];
    this.release(worker);
    return [ack, ...this.lost(id, run, worker, nowMs), ...this.pump(nowMs)];
  }

  /** A Worker the Monitors declared dead: its runs end as node_lost, and it gets no more offers. */
  onWorkerDead(worker: string, nowMs: number): AssignerAction[] {
    this.workers.delete(worker);
    this.deadWorkers.delete(worker);
    this.deadWorkers.add(worker);
    if (this.deadWorkers.size > DEAD_WORKERS_MAX) this.deadWorkers.delete(this.deadWorkers.values().next().value as string);
    return [...this.loseRuns(worker, nowMs), ...this.pump(nowMs)];
  }

  // ---- the buddy pair ------------------------------------------------------------------------

  /**
   * The pair changed (an order from the Monitors' leader). A new buddy gets a full copy of every
   * run held here; with none, every Worker is acknowledged at once (nobody else can hold a copy).
   */
  setBuddy(buddy: string | null): AssignerAction[] {
    if (buddy === this.buddy || buddy === this.opts.name) return [];
    this.buddy = buddy;
    const out: AssignerAction[] = [];
    for (const [id, run] of this.runs) {
      if (buddy === null) {
        out.push(...this.releaseDeferred(run));
        run.acked = run.chunks.length - 1;
        if (run.worker && (run.phase === 'running' || run.phase === 'finished')) out.push(this.ackWorker(id, run));
        continue;
      }
      out.push(...this.copyTo(buddy, id, run));
    }
    return out;
  }

  /** Everything the buddy needs to carry one run on, as replica messages. */
  private copyTo(buddy: string, id: string, run: HeldRun): AssignerAction[] {
    const from = this.opts.name;
    const out: AssignerAction[] = [this.send(buddy, { type: 'replica_hold', from, id, gateway: run.gateway, run: run.spec, attempts: run.attempts })];
    if (run.worker && (run.phase === 'running' || run.phase === 'finished')) out.push(this.send(buddy, { type: 'replica_placed', from, id, worker: run.worker }));
    for (const msg of outputMessages(from, id, run.chunks, -1, 'replica_output')) out.push(this.send(buddy, msg));
    if (run.result) out.push(this.send(buddy, { type: 'replica_exit', from, id, result: run.result }));
    return out;
  }

  /**
   * This Assigner leaves the role: a full copy of every run goes to `to`, then "take them over".
   * Its Workers and Gateways hear run_takeover from `to` and send again what was not acknowledged.
   */
  handOff(to: string): AssignerAction[] {
    const out: AssignerAction[] = [];
    for (const [id, run] of this.runs) out.push(...this.copyTo(to, id, run));
    out.push(this.send(to, { type: 'replica_handoff', from: this.opts.name }));
    this.runs.clear();
    this.queue.length = 0;
    return out;
  }

  /** A copy of another Assigner's run (it names this one its buddy). */
  onReplica(from: string, msg: Extract<RunMessage, { type: `replica_${string}` }>, nowMs: number): AssignerAction[] {
    if (msg.type === 'replica_handoff') return this.onBuddyLost(from, nowMs);
    if (msg.type === 'replica_ack') return this.onReplicaAck(from, msg.id, msg.seq, msg.exit);
    if (msg.type === 'replica_hold') {
      const known = this.replicas.get(msg.id);
      const ackHold = [this.send(from, { type: 'replica_ack', from: this.opts.name, id: msg.id, seq: -1, exit: false })];
      if (known && known.owner === from) {
        known.gateway = msg.gateway;
        return ackHold;
      }
      // Bounded: past it the copy is refused (never acknowledged, so the run stays unknown to its Gateway).
      if (this.liveReplicas() >= 2 * this.opts.runsMax) return [];
      this.replicas.set(msg.id, { owner: from, gateway: msg.gateway, spec: msg.run, attempts: msg.attempts, worker: null, chunks: [], bytes: 0, result: null, finishedAtMs: 0 });
      return ackHold;
    }
    const r = this.replicas.get(msg.id);
    if (!r || r.owner !== from) return [];
    const ack = (exit: boolean) => [this.send(from, { type: 'replica_ack', from: this.opts.name, id: msg.id, seq: r.chunks.length - 1, exit })];
    switch (msg.type) {
      case 'replica_placed':
        r.worker = msg.worker;
        return [];
      case 'replica_output':
        appendChunks(r, msg.chunks);
        return ack(false);
      case 'replica_exit':
        if (r.result !== null) return ack(true);
        r.result = msg.result;
        r.finishedAtMs = nowMs;
        return [...ack(true), ...this.retain(this.replicas, msg.id, r, nowMs)];
      case 'replica_restart':
        Object.assign(r, { attempts: msg.attempts, worker: null, chunks: [], bytes: 0, result: null });
        return [];
      default: {
        const never: never = msg;
        return never;
      }
    }
  }

  private onReplicaAck(from: string, id: string, seq: number, exit: boolean): AssignerAction[] {
    const run = this.runs.get(id);
    if (from !== this.buddy || !run) return [];
    const released = run.deferred !== null ? this.releaseDeferred(run) : [];
    if (!run.worker) return released;
    run.acked = Math.min(Math.max(run.acked, seq), run.chunks.length - 1);
    if (exit && run.phase !== 'finished') return released;
    return [...released, this.ackWorker(id, run, exit)];
  }

  /** A Worker says it runs a run this Assigner holds a copy of (its Assigner may die before saying so). */
  onClaim(worker: string, id: string): AssignerAction[] {
    const r = this.replicas.get(id);
    if (r && r.worker === null) r.worker = worker;
    const run = this.runs.get(id);
    // Taken over while the dead Assigner's offer was out: the Worker that took it keeps it (if this
    // Assigner offered it again meanwhile — to that Worker or another — the other's "yes" is killed).
    if (run && (run.phase === 'queued' || run.phase === 'offered')) {
      return [this.send(worker, { type: 'run_takeover', from: this.opts.name, id }), ...this.startedOn(id, run, worker)];
    }
    return [];
  }

  /**
   * The buddy died (or restarted, losing its state): this Assigner carries its runs on. Their
   * Workers send again what this copy may lack, their Gateways attach and resend input.
   */
  onBuddyLost(lost: string, nowMs: number): AssignerAction[] {
    const out: AssignerAction[] = [];
    if (this.buddy === lost) out.push(...this.setBuddy(null));
    for (const [id, r] of [...this.replicas]) {
      if (r.owner !== lost) continue;
      this.replicas.delete(id);
      if (this.runs.has(id)) continue;
      const phase: Phase = r.result ? 'finished' : r.worker ? 'running' : 'queued';
      const run: HeldRun = { spec: r.spec, gateway: r.gateway, phase, worker: r.worker, workerLife: null, tried: new Set(), offerSeq: 0, input: [], lastPosition: 0, attempts: r.attempts, acked: r.chunks.length - 1, resendAskedMs: -Infinity, droppedAt: new Set(), deferred: null, chunks: r.chunks, bytes: r.bytes, result: r.result, finishedAtMs: r.finishedAtMs || nowMs };
      this.runs.set(id, run);
      if (phase === 'queued') this.queue.push(id);
      if (phase === 'finished') out.push(...this.retain(this.runs, id, run, nowMs));
      out.push(this.send(r.gateway, { type: 'run_takeover', from: this.opts.name, id }));
      if (phase === 'running' && r.worker && this.deadWorkers.has(r.worker)) {
        // Its Worker was declared dead before its Assigner was: that word went to the dead
        // Assigner and will not come again, so the run is lost now (else it waits for ever).
        out.push(...this.lost(id, run, r.worker, nowMs));
      } else if (r.worker) out.push(this.send(r.worker, { type: 'run_takeover', from: this.opts.name, id }));
      if (this.buddy !== null) out.push(...this.copyTo(this.buddy, id, run));
    }
    return [...out, ...this.pump(nowMs)];
  }

  // ---- internals -----------------------------------------------------------------------------

  private ackWorker(id: string, run: HeldRun, exit = run.phase === 'finished' && (this.buddy === null || run.acked === run.chunks.length - 1)): AssignerAction {
    return this.send(run.worker as string, { type: 'run_ack', from: this.opts.name, id, seq: run.acked, exit });
  }

  private release(worker: string): void {
    const w = this.workers.get(worker);
    if (w) w.load = { ...w.load, slotsFree: w.load.slotsFree + 1, slotsBusy: Math.max(0, w.load.slotsBusy - 1) };
  }

  /**
   * `newLife`: the Worker's life now, when that is the news; a run whose yes named that life (or a
   * later one) started on the new life — offered to it before the Monitors told of it — and is
   * not lost. Without it (declared dead), every run there is.
   */
  private loseRuns(worker: string, nowMs: number, newLife?: number): AssignerAction[] {
    const out: AssignerAction[] = [];
    // The runs of the lost life, taken before any is passed over: passing one over offers the
    // next queued run at once, maybe to this Worker's new life, and that offer is not lost.
    const onNewLife = (run: HeldRun) => newLife !== undefined && run.workerLife !== null && run.workerLife >= newLife;
    const gone = [...this.runs.entries()].filter(([, run]) => run.worker === worker && (run.phase === 'offered' || (run.phase === 'running' && !onNewLife(run))));
    for (const [id, run] of gone) {
      if (run.phase === 'offered') out.push(...this.passOver(id, run, nowMs));
      else out.push(...this.lost(id, run, worker, nowMs));
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
      return this.finished(id, run, unmeasuredResult('node_lost', run.spec.language, why), nowMs);
    }
    run.tried.add(worker);
    Object.assign(run, { phase: 'queued', worker: null, workerLife: null, lastPosition: 0, chunks: [], bytes: 0, acked: -1 });
    this.queue.unshift(id);
    return [
      ...this.toGateway(run, { type: 'run_restart', from: this.opts.name, id, attempt: run.attempts + 1 }),
      ...this.toBuddy({ type: 'replica_restart', from: this.opts.name, id, attempts: run.attempts }),
    ];
  }

  /** The run's end: told to the Gateway, copied to the buddy, kept a while for a Gateway failover. */
  private finished(id: string, run: HeldRun, result: RunResultWire, nowMs: number): AssignerAction[] {
    run.phase = 'finished';
    run.result = result;
    run.finishedAtMs = nowMs;
    const qi = this.queue.indexOf(id);
    if (qi >= 0) this.queue.splice(qi, 1);
    const out: AssignerAction[] = this.toGateway(run, { type: 'run_exit', from: this.opts.name, id, result, lastSeq: run.chunks.length - 1 });
    if (this.buddy !== null) out.push(this.send(this.buddy, { type: 'replica_exit', from: this.opts.name, id, result }));
    else if (run.worker) out.push(this.ackWorker(id, run));
    return [...out, ...this.retain(this.runs, id, run, nowMs)];
  }

  private expireArmed = false;
  /** Finished runs (own and copies) in the order they finished: the oldest are forgotten first. */
  private readonly finishedLog: Array<{ map: Map<string, RunOutputLog>; id: string; rec: RunOutputLog }> = [];
  private finishedBytes = 0;

  /** Keeps a finished run for a Gateway failover, within the time, count and byte bounds. */
  private retain(map: Map<string, RunOutputLog>, id: string, rec: RunOutputLog, nowMs: number): AssignerAction[] {
    this.finishedLog.push({ map, id, rec });
    this.finishedBytes += rec.bytes;
    this.forget(nowMs);
    return this.armExpiry(nowMs);
  }

  /** One 'expire' timer while anything finished is kept (it fires every quarter of the retain time). */
  private armExpiry(nowMs: number): AssignerAction[] {
    if (this.expireArmed || this.finishedLog.length === 0) return [];
    this.expireArmed = true;
    return [{ kind: 'timer', key: 'expire', atMs: nowMs + Math.max(1, Math.floor(this.opts.finishedRetainMs / 4)) }];
  }

  private forget(nowMs: number): void {
    while (this.finishedLog.length > 0) {
      const { map, id, rec } = this.finishedLog[0] as (typeof this.finishedLog)[number];
      const stillHeld = map.get(id) === rec && rec.result !== null;
      const due = nowMs - rec.finishedAtMs >= this.opts.finishedRetainMs || this.finishedLog.length > this.opts.finishedRetainCountMax || this.finishedBytes > this.opts.finishedRetainBytesMax;
      if (stillHeld && !due) break;
      this.finishedLog.shift();
      this.finishedBytes -= rec.bytes;
      if (stillHeld) map.delete(id);
    }
  }

  private expire(nowMs: number): AssignerAction[] {
    this.expireArmed = false;
    this.forget(nowMs);
    return this.armExpiry(nowMs);
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
      out.push(this.send(best.name, { type: 'offer', from: this.opts.name, run: run.spec, buddy: this.buddy }));
      out.push({ kind: 'timer', key: `offer|${id}|${run.offerSeq}`, atMs: nowMs + this.opts.offerTimeoutMs });
    }
    this.queue.forEach((id, i) => {
      const run = this.runs.get(id) as HeldRun;
      if (run.lastPosition !== i + 1) {
        run.lastPosition = i + 1;
        out.push(...this.toGateway(run, { type: 'run_queued', from: this.opts.name, id, position: i + 1, buddy: this.buddy }));
      }
    });
    if (retry) out.push({ kind: 'timer', key: 'retry', atMs: nowMs + this.opts.retryAfterMs });
    return out;
  }

  private send(to: string, msg: RunMessage): AssignerAction {
    return { kind: 'send', to, msg };
  }

  private toGateway(run: HeldRun, msg: RunMessage): AssignerAction[] {
    if (run.deferred === null) return [this.send(run.gateway, msg)];
    if (run.deferred.length < DEFERRED_MAX) {
      run.deferred.push(msg);
      return [];
    }
    return this.dropped('id' in msg ? msg.id : '', run, 'deferred_gateway', DEFERRED_MAX);
  }

  /** Counts a drop at a full bound; the first per run and bound becomes an action the driver warns of. */
  private dropped(id: string, run: HeldRun, bound: AssignerDropBound, boundMax: number): AssignerAction[] {
    this.dropCounts[bound]++;
    if (run.droppedAt.has(bound)) return [];
    run.droppedAt.add(bound);
    return [{ kind: 'dropped', bound, run: id, boundMax }];
  }

  /** The buddy holds the run (or there is no buddy any more): what waited goes to the Gateway. */
  private releaseDeferred(run: HeldRun): AssignerAction[] {
    const waiting = run.deferred ?? [];
    run.deferred = null;
    return waiting.map((m) => this.send(run.gateway, m));
  }

  private toBuddy(msg: RunMessage): AssignerAction[] {
    return this.buddy === null ? [] : [this.send(this.buddy, msg)];
  }
}

/** Appends the chunks that continue the record's dense seq run; returns those (the rest were held). */
function appendChunks(r: RunOutputLog, chunks: readonly RunChunkWire[]): RunChunkWire[] {
  const fresh: RunChunkWire[] = [];
  for (const c of chunks) {
    if (c.seq !== r.chunks.length) continue; // already held, or a gap (never sent by a Worker)
    r.chunks.push(c);
    r.bytes += c.data.byteLength;
    fresh.push(c);
  }
  return fresh;
}

/** The record's chunks after afterSeq as messages of at most CHUNKS_PER_MESSAGE_MAX chunks. */
function outputMessages<T extends 'run_output' | 'replica_output'>(from: string, id: string, chunks: readonly RunChunkWire[], afterSeq: number, type: T): Array<Extract<RunMessage, { type: T }>> {
  const out: Array<Extract<RunMessage, { type: T }>> = [];
  for (let i = Math.max(0, afterSeq + 1); i < chunks.length; i += CHUNKS_PER_MESSAGE_MAX) {
    out.push({ type, from, id, chunks: chunks.slice(i, i + CHUNKS_PER_MESSAGE_MAX) } as Extract<RunMessage, { type: T }>);
  }
  return out;
}
