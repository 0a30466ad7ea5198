import { periodAfter, type BeatGrid } from '../common/beat.js';
import assert from 'node:assert/strict';
import type { AgentMessage, TableRow } from '../agent/agent-messages.js';
import type { LeastLoadedAssignerRequest, WireEntry } from '../cluster/messages.js';
import { leastLoadedAssigner } from '../cluster/placement-query.js';
import type { RunChunkWire, RunMessage, RunMessageOf } from '../protocol/run-messages.js';
import type { AcceptedRun, AttachedRun, BackendResult } from './backend.js';
import type { GatewayBoundMessage } from './bound.js';
import { WorkerLoads } from './worker-loads.js';

/**
 * The Gateway's relay protocol as a pure state machine, like AssignerCore and WorkerCore: every
 * method takes an event and the time, changes only this object, and returns what to do. It picks
 * the Assigner for a run, waits for its word, numbers and keeps input, orders the output chunks and
 * follows a run to the buddy that takes it over. No sockets, no timers, no promises: the driver
 * (cluster-backend.ts) sends, keeps one wake timer at nextWakeMs(), and answers its callers.
 */

export interface RelayOptions {
  /** This Gateway's node name (the `from` of its messages). */
  name: string;
  /**
   * Unique to this core's life (the driver passes a random one): request ids are `prefix-n`, so a
   * Monitor's late answer to a previous Gateway process's question is never taken for ours.
   */
  requestIdPrefix: string;
  /** Monitors to ask before a table has named the alive ones (the config's). */
  configMonitors: readonly string[];
  /** Assigners to ask for a run before a table has named them (the config's). */
  configAssigners: readonly string[];
  /** How long a Monitor has to name the least-loaded Assigner before the next one is asked. */
  askMonitorTimeoutMs: number;
  /**
   * A Monitor's answer stays good this long: a run within it of the previous answer goes there at
   * once (and the question is asked again beside it) instead of waiting a round trip.
   */
  assignerAnswerTtlMs: number;
  /** How long an Assigner has to say it holds a run (queued or started). */
  ackTimeoutMs: number;
  /** How often the Gateway refreshes its copy of the Monitors' table. */
  tableRefreshMs: number;
  /** How long the Assigners have to say who holds a run a resuming client names (after a failover). */
  attachTimeoutMs: number;
  /** Missing chunks are asked for at most this often per run (a resend takes a round trip). */
  resendAskMs: number;
  /**
   * A run whose Assigner has said nothing this long is asked for what follows its last chunk: the
   * run's last messages (its end) may have gone down with a broken connection, and no later
   * message would show the gap. Checked at each tick (one comes at least every tableRefreshMs).
   */
  silentRunAskMs: number;
  /** Runs relayed at once (being placed, queued or running); past it a submit is refused. */
  runsInFlightMax: number;
  /** Input messages kept per run to send again after a takeover; past it input is dropped. */
  inputsKeptMax: number;
  /** Input bytes kept per run, for the same reason. */
  inputBytesKeptMax: number;
  /**
   * Where the table refresh lands (src/common/beat.ts): on the wall-clock beat, its question
   * reaches the Monitor just after the Monitor's own beat, in the same wake-up, and the Gateway
   * asks in the wake-up of its own heartbeat. The one-off deadlines (a Monitor's or an
   * Assigner's answer) stay exact. None: every tableRefreshMs from the tick that asked.
   */
  grid?: BeatGrid;
}

/**
 * The defaults with their reasons. Each run holds only a few small fields here (its chunks live
 * in the Gateway's run store), so the in-flight bound is about the Assigners, not this process.
 */
export const RELAY_DEFAULTS: Omit<RelayOptions, 'name' | 'requestIdPrefix' | 'configMonitors' | 'configAssigners'> = {
  askMonitorTimeoutMs: 500, // a Monitor answers from memory in well under a LAN's 1 ms; 500 ms is an overloaded one
  assignerAnswerTtlMs: 250, // loads move with each run placed; a quarter second keeps bursts off the Monitors
  ackTimeoutMs: 3_000, // an Assigner waits for its buddy to hold the run first: a round trip, or a buddy's death
  tableRefreshMs: 500, // the dashboard's and the fallback placement's freshness
  attachTimeoutMs: 2_000, // every Assigner answers from memory; a resuming client waits this long at worst
  resendAskMs: 1_000, // a resend answers within a round trip; asking more often only duplicates it
  silentRunAskMs: 5_000, // as a Worker resends an unacknowledged end (END_RESEND_MS): one small ask per quiet run
  runsInFlightMax: 10_000, // the Assigners' queues (runsMax each) bound what they take long before this
  inputsKeptMax: 4096, // a student types lines, not thousands of them
  inputBytesKeptMax: 1024 * 1024,
};

/** Input numbers start at epoch × this: a Gateway that took over numbers above everything the old
 * one sent, so a Worker (which drops numbers it has seen) never mistakes new input for a resend. */
export const INPUT_NUMBERS_PER_EPOCH = 1_000_000_000;

/** What the Gateway sends on a run's behalf, or to learn the cluster. */
export type RelayOutgoing = RunMessage | LeastLoadedAssignerRequest | Extract<AgentMessage, { type: 'table_request' }>;

/** A run's progress for its client's sink (RunSink), in the order it must be told. */
export type SinkEvent =
  | { kind: 'queued'; position: number }
  | { kind: 'started'; worker: string | null; assigner: string }
  | { kind: 'output'; chunk: RunChunkWire }
  | { kind: 'restarted'; attempt: number }
  | { kind: 'reassigned'; assigner: string }
  | { kind: 'exit'; result: BackendResult };

/** Why a submit was not taken; each code is a retryable start error (backend.ts, protocol/errors.ts). */
export type RefusalCode = 'QUEUE_FULL' | 'NO_CAPACITY' | 'ASSIGNER_TIMEOUT';

/** What the Gateway logs; the driver words it (a union, so a new kind cannot go unlogged). */
export type RelayNote =
  | { what: 'gap'; run: string; afterSeq: number; assigner: string }
  | { what: 'takeover'; run: string; from: string; to: string }
  | { what: 'input_dropped'; run: string; inputsMax: number; bytesMax: number }
  | { what: 'monitor_silent'; monitor: string; requestId: string };

export type RelayAction =
  | { kind: 'send'; to: string; msg: RelayOutgoing }
  /** Tell the run's client (its sink). */
  | { kind: 'deliver'; id: string; event: SinkEvent }
  /** The submit is held by an Assigner (queued or started): the caller's start() resolves. */
  | { kind: 'accepted'; id: string }
  /** The submit is refused: the run is forgotten and its sink will hear nothing more. */
  | { kind: 'refused'; id: string; code: RefusalCode; message: string }
  /** An Assigner holds the run a resuming client named: make its sink now (its chunks come next). */
  | { kind: 'attached'; id: string; found: AttachedRun }
  /** Nobody said they hold the run in time (or it is known here already): attach() resolves false. */
  | { kind: 'not_attached'; id: string }
  | { kind: 'note'; note: RelayNote };

/** One question to the Monitors: for a run's placement (`run`), or the refresh of the kept answer (null). */
interface Ask {
  run: string | null;
  /** Whether the run asks after its first Assigner was silent (then a second silence is final). */
  second: boolean;
  monitor: string;
  monitorsLeft: number;
  deadlineMs: number;
}

/** A submit not yet answered by its Assigner. */
interface Submit {
  run: AcceptedRun;
  /** The first Assigner was silent past the ack window: this is the last try. */
  second: boolean;
  /** Waiting for the Monitor's answer (requestId), or for the Assigner's word until deadlineMs. */
  wait: { kind: 'monitor'; requestId: string } | { kind: 'ack'; deadlineMs: number };
}

interface InFlight {
  assigner: string;
  /** The Assigner's buddy: the only one that may take the run over. */
  buddy: string | null;
  /** The Worker running it (for the per-node counts); null while queued. */
  worker: string | null;
  queued: boolean;
  /** The newest chunk passed to the client: anything at or below it is a resend. */
  lastSeq: number;
  /** Every input message sent (numbered from 1 in this epoch), kept so a takeover loses no keystroke. */
  inputs: Array<RunMessageOf<'run_input'> | RunMessageOf<'run_eof'>>;
  inputBytes: number;
  /** When this Gateway last asked for missing chunks. */
  resendAskedMs: number;
  /** When its Assigner last spoke of it, or it was last asked after a silence (-1: not yet timed). */
  heardMs: number;
}

function inFlight(assigner: string, queued: boolean, worker: string | null): InFlight {
  return { assigner, buddy: null, worker, queued, lastSeq: -1, inputs: [], inputBytes: 0, resendAskedMs: -Infinity, heardMs: -1 };
}

type RunStreamMessage = RunMessageOf<'run_queued' | 'run_started' | 'run_output' | 'run_exit' | 'run_refused' | 'run_restart'>;

export class RelayCore {
  private readonly runs = new Map<string, InFlight>();
  private readonly submits = new Map<string, Submit>();
  private readonly asks = new Map<string, Ask>();
  /** Runs asked of the Assigners (run_attach) and not found yet: id → when to give up. */
  private readonly attaching = new Map<string, number>();
  private table: { rows: TableRow[]; leader: string | null; term: number } | null = null;
  private readonly workerLoads = new WorkerLoads();
  private lastAnswer: { assigner: string; atMs: number } | null = null;
  private monitorCursor = 0;
  private requestSeq = 0;
  private nextTableAskMs = 0;
  /**
   * No later than the earliest deadline: lowered as each is set, recomputed exactly only by onTick
   * (a scan of every pending deadline), so a message costs O(1) here and not O(runs being placed).
   */
  private wakeMs = 0;
  /** A question to refresh the kept answer is out (one at a time). */
  private refreshing = false;
  /** The Gateway epoch this core serves under: input numbers start above the previous Gateway's. */
  epoch = 1;

  constructor(private readonly opts: RelayOptions) {
    assert.ok(opts.runsInFlightMax > 0 && opts.inputsKeptMax > 0, 'relay bounds must be positive');
  }

  /** Time passed: Monitors and Assigners silent past their deadlines, and the table's refresh. */
  onTick(nowMs: number): RelayAction[] {
    const out: RelayAction[] = [];
    if (nowMs >= this.nextTableAskMs) {
      this.nextTableAskMs = periodAfter(nowMs, this.opts.tableRefreshMs, this.opts.grid ?? null);
      const monitor = this.nextMonitor();
      if (monitor !== null) out.push({ kind: 'send', to: monitor, msg: { type: 'table_request', from: this.opts.name, requestId: 'table' } });
    }
    for (const [requestId, ask] of [...this.asks]) if (nowMs >= ask.deadlineMs) this.askTimedOut(requestId, ask, nowMs, out);
    for (const [id, s] of [...this.submits]) if (s.wait.kind === 'ack' && nowMs >= s.wait.deadlineMs) this.ackTimedOut(id, s, nowMs, out);
    for (const [id, deadlineMs] of [...this.attaching]) {
      if (nowMs < deadlineMs) continue;
      this.attaching.delete(id);
      out.push({ kind: 'not_attached', id });
    }
    this.askSilentRuns(nowMs, out);
    let at = this.nextTableAskMs;
    for (const a of this.asks.values()) at = Math.min(at, a.deadlineMs);
    for (const s of this.submits.values()) if (s.wait.kind === 'ack') at = Math.min(at, s.wait.deadlineMs);
    for (const d of this.attaching.values()) at = Math.min(at, d);
    this.wakeMs = at;
    return out;
  }

  /**
   * When to call onTick: never later than the earliest deadline, sometimes earlier (one met since
   * it was set: that tick does nothing but find the next). Never null today (the table's refresh
   * is always due); null would mean nothing pending.
   */
  nextWakeMs(): number | null {
    return this.wakeMs;
  }

  /** A deadline was set: the next wake comes no later. */
  private due(atMs: number): number {
    this.wakeMs = Math.min(this.wakeMs, atMs);
    return atMs;
  }

  /** A client's run: placed on the least-loaded Assigner; answered by `accepted` or `refused`. */
  submit(run: AcceptedRun, nowMs: number): RelayAction[] {
    assert.ok(!this.runs.has(run.id) && !this.submits.has(run.id), `run ${run.id} submitted twice`);
    if (this.inFlightCount() >= this.opts.runsInFlightMax) {
      return [{ kind: 'refused', id: run.id, code: 'QUEUE_FULL', message: `the gateway relays ${this.opts.runsInFlightMax} runs already` }];
    }
    const out: RelayAction[] = [];
    const last = this.lastAnswer;
    if (last && nowMs - last.atMs < this.opts.assignerAnswerTtlMs) {
      this.submitTo(run, last.assigner, false, nowMs, out);
      // Asked again for the next run, after this one's submit has left, once at a time.
      if (!this.refreshing) this.ask(null, false, nowMs, out);
      return out;
    }
    this.ask(run, false, nowMs, out);
    return out;
  }

  /** A message for the Gateway: Monitors' answers and the runs' streams from Assigners. */
  onMessage(from: string, msg: GatewayBoundMessage, nowMs: number): RelayAction[] {
    switch (msg.type) {
      case 'table_reply':
        this.table = { rows: msg.rows, leader: msg.leader, term: msg.term };
        this.workerLoads.update(from, msg.rows);
        return [];
      case 'least_loaded_assigner_reply': {
        const ask = this.asks.get(msg.requestId);
        if (!ask) return []; // late: the next Monitor was asked already
        this.asks.delete(msg.requestId);
        return this.answered(ask, msg.assigner, nowMs);
      }
      case 'run_attached':
        return this.onAttached(from, msg);
      case 'run_queued':
      case 'run_started':
      case 'run_output':
      case 'run_exit':
      case 'run_refused':
      case 'run_restart':
        return this.onRunMessage(from, msg, nowMs);
      case 'run_takeover':
        return this.onTakeover(from, msg.id);
      default: {
        const never: never = msg;
        return never;
      }
    }
  }

  /**
   * A resuming client names a run this Gateway has no record of (another Gateway accepted it):
   * every Assigner is asked; answered by `attached` (then its whole output follows) or `not_attached`.
   */
  attach(id: string, nowMs: number): RelayAction[] {
    if (this.runs.has(id) || this.submits.has(id) || this.attaching.has(id) || this.inFlightCount() >= this.opts.runsInFlightMax) {
      return [{ kind: 'not_attached', id }];
    }
    this.attaching.set(id, this.due(nowMs + this.opts.attachTimeoutMs));
    // All chunks (-1): the Gateway keeps the whole output for GET and later resumes; each client
    // still gets only what its own last_seq lacks.
    return this.assigners().map((a): RelayAction => ({ kind: 'send', to: a, msg: { type: 'run_attach', from: this.opts.name, id, afterSeq: -1 } }));
  }

  /** Input is numbered and kept (bounded) so that a takeover can send it again. */
  input(id: string, msg: { type: 'run_input'; data: string } | { type: 'run_eof' }): RelayAction[] {
    const r = this.runs.get(id);
    if (!r) return [];
    const bytes = msg.type === 'run_input' ? Buffer.byteLength(msg.data) : 0;
    if (r.inputs.length >= this.opts.inputsKeptMax || r.inputBytes + bytes > this.opts.inputBytesKeptMax) {
      return [{ kind: 'note', note: { what: 'input_dropped', run: id, inputsMax: this.opts.inputsKeptMax, bytesMax: this.opts.inputBytesKeptMax } }];
    }
    const m = { ...msg, from: this.opts.name, id, n: this.epoch * INPUT_NUMBERS_PER_EPOCH + r.inputs.length + 1 };
    r.inputs.push(m);
    r.inputBytes += bytes;
    return [{ kind: 'send', to: r.assigner, msg: m }];
  }

  kill(id: string): RelayAction[] {
    const r = this.runs.get(id);
    return r ? [{ kind: 'send', to: r.assigner, msg: { type: 'run_kill', from: this.opts.name, id } }] : [];
  }

  /**
   * The Gateway stops serving. `keepRuns` (a step-down): the runs go on for the next Gateway to
   * attach; else they are killed. Submits and attaches still waiting are answered now.
   */
  close(keepRuns: boolean): RelayAction[] {
    const out: RelayAction[] = [];
    for (const id of this.submits.keys()) out.push({ kind: 'refused', id, code: 'NO_CAPACITY', message: 'this gateway is closing' });
    for (const id of this.attaching.keys()) out.push({ kind: 'not_attached', id });
    if (!keepRuns) for (const id of this.runs.keys()) out.push(...this.kill(id));
    this.submits.clear();
    this.attaching.clear();
    this.asks.clear();
    this.refreshing = false;
    this.runs.clear();
    return out;
  }

  /** The Monitors' table as last heard (null before the first answer). */
  tableView(): { rows: readonly TableRow[]; leader: string | null; term: number } | null {
    return this.table;
  }

  /** A Worker's load from its own Monitor (see WorkerLoads), or null when none has been heard yet. */
  workerLoad(name: string): TableRow['load'] | null {
    return this.workerLoads.get(name);
  }

  queueLength(): number {
    let n = 0;
    for (const r of this.runs.values()) if (r.queued) n++;
    return n;
  }

  /** Runs this Gateway relays: per Assigner, per Worker running one, and all of them under its own name. */
  runsOn(): Map<string, number> {
    const on = new Map<string, number>([[this.opts.name, this.runs.size]]);
    const add = (name: string) => on.set(name, (on.get(name) ?? 0) + 1);
    for (const r of this.runs.values()) {
      add(r.assigner);
      if (r.worker !== null && !r.queued) add(r.worker);
    }
    return on;
  }

  /** Runs relayed, being placed, or being looked for (an attach): what runsInFlightMax bounds. */
  private inFlightCount(): number {
    let placing = 0;
    for (const id of this.submits.keys()) if (!this.runs.has(id)) placing++;
    return this.runs.size + placing + this.attaching.size;
  }

  private monitors(): string[] {
    const fromTable = (this.table?.rows ?? []).filter((r) => r.role === 'monitor' && r.status === 'alive').map((r) => r.name);
    return fromTable.length > 0 ? fromTable : [...this.opts.configMonitors];
  }

  private nextMonitor(): string | null {
    const ms = this.monitors();
    return ms.length === 0 ? null : (ms[this.monitorCursor++ % ms.length] as string);
  }

  /** The Assigners as the table has them (the config's before the first table arrives). */
  private assigners(): string[] {
    if (this.table) return this.table.rows.filter((r) => r.role === 'assigner' && r.status !== 'dead').map((r) => r.name);
    return [...this.opts.configAssigners];
  }

  /** Asks a Monitor for the least-loaded Assigner, for `run` (null: to refresh the kept answer). */
  private ask(run: AcceptedRun | null, second: boolean, nowMs: number, out: RelayAction[]): void {
    const requestId = `${this.opts.requestIdPrefix}-${++this.requestSeq}`;
    if (!run) this.refreshing = true;
    if (run) this.submits.set(run.id, { run, second, wait: { kind: 'monitor', requestId } });
    const monitor = this.nextMonitor();
    if (monitor === null) {
      this.answered({ run: run?.id ?? null, second, monitor: '', monitorsLeft: 0, deadlineMs: nowMs }, this.fromOwnTable(), nowMs, out);
      return;
    }
    this.asks.set(requestId, { run: run?.id ?? null, second, monitor, monitorsLeft: Math.max(1, this.monitors().length) - 1, deadlineMs: this.due(nowMs + this.opts.askMonitorTimeoutMs) });
    out.push({ kind: 'send', to: monitor, msg: { type: 'least_loaded_assigner_request', from: this.opts.name, requestId } });
  }

  private askTimedOut(requestId: string, ask: Ask, nowMs: number, out: RelayAction[]): void {
    this.asks.delete(requestId);
    out.push({ kind: 'note', note: { what: 'monitor_silent', monitor: ask.monitor, requestId } });
    const monitor = ask.monitorsLeft > 0 ? this.nextMonitor() : null;
    if (monitor === null) {
      // No Monitor answered in time (they may be overloaded): the Gateway's own copy of the
      // table, at most tableRefreshMs old, names one as well.
      this.answered(ask, this.fromOwnTable(), nowMs, out);
      return;
    }
    const next = `${this.opts.requestIdPrefix}-${++this.requestSeq}`;
    this.asks.set(next, { ...ask, monitor, monitorsLeft: ask.monitorsLeft - 1, deadlineMs: this.due(nowMs + this.opts.askMonitorTimeoutMs) });
    const s = ask.run === null ? undefined : this.submits.get(ask.run);
    if (s) s.wait = { kind: 'monitor', requestId: next };
    out.push({ kind: 'send', to: monitor, msg: { type: 'least_loaded_assigner_request', from: this.opts.name, requestId: next } });
  }

  private fromOwnTable(): string | null {
    return leastLoadedAssigner((this.table?.rows ?? []) as unknown as WireEntry[]);
  }

  /** The Monitors (or the Gateway's table) named `assigner` for this question. */
  private answered(ask: Ask, assigner: string | null, nowMs: number, out: RelayAction[] = []): RelayAction[] {
    if (assigner) this.lastAnswer = { assigner, atMs: nowMs };
    if (ask.run === null) this.refreshing = false;
    const s = ask.run === null ? undefined : this.submits.get(ask.run);
    if (!s) return out; // the refresh, or a run closed meanwhile
    this.submitTo(s.run, assigner, ask.second, nowMs, out);
    return out;
  }

  /** Sends the run to `assigner` and waits for its first word of it (queued, started, ...). */
  private submitTo(run: AcceptedRun, assigner: string | null, second: boolean, nowMs: number, out: RelayAction[]): void {
    const held = this.runs.get(run.id);
    if (held && held.assigner !== assigner) {
      // The first, silent Assigner may have got the run after all: it must not run it beside the
      // second's copy.
      out.push({ kind: 'send', to: held.assigner, msg: { type: 'run_kill', from: this.opts.name, id: run.id } });
      this.runs.delete(run.id);
    }
    if (!assigner) {
      this.runs.delete(run.id);
      this.submits.delete(run.id);
      out.push({ kind: 'refused', id: run.id, code: 'NO_CAPACITY', message: "no Assigner is alive to take the run (none in the Monitors' table)" });
      return;
    }
    // Named again, the silent Assigner is alive and may hold the run already, waiting for its buddy
    // (one that just died and is not declared dead yet): submitting again is harmless (a run is
    // taken once per id), and the run's record stays, so nothing it sends meanwhile is lost.
    if (!this.runs.has(run.id)) this.runs.set(run.id, inFlight(assigner, false, null));
    this.submits.set(run.id, { run, second, wait: { kind: 'ack', deadlineMs: this.due(nowMs + this.opts.ackTimeoutMs) } });
    out.push({ kind: 'send', to: assigner, msg: { type: 'run_submit', from: this.opts.name, run } });
  }

  private ackTimedOut(id: string, s: Submit, nowMs: number, out: RelayAction[]): void {
    const r = this.runs.get(id);
    assert.ok(r, `run ${id} waits for an ack without a record`);
    if (!s.second) {
      // The Assigner named a moment ago did not answer: ask a Monitor afresh, once.
      this.ask(s.run, true, nowMs, out);
      return;
    }
    this.submits.delete(id);
    this.runs.delete(id);
    out.push({ kind: 'refused', id, code: 'ASSIGNER_TIMEOUT', message: `assigner ${r.assigner} did not take the run within ${this.opts.ackTimeoutMs} ms` });
  }

  /** Runs held (not still being submitted: their ack timer watches them) whose Assigner has been quiet too long. */
  private askSilentRuns(nowMs: number, out: RelayAction[]): void {
    for (const [id, r] of this.runs) {
      if (r.heardMs < 0) r.heardMs = nowMs;
      if (this.submits.has(id) || nowMs - r.heardMs < this.opts.silentRunAskMs) continue;
      r.heardMs = nowMs;
      out.push({ kind: 'send', to: r.assigner, msg: { type: 'run_attach', from: this.opts.name, id, afterSeq: r.lastSeq } });
    }
  }

  /** The run's Assigner died; its buddy holds the run: stream from it, and send the input again. */
  private onTakeover(from: string, id: string): RelayAction[] {
    const r = this.runs.get(id);
    // From the buddy after a death, or from the Assigner the run was handed to.
    if (!r || from === r.assigner) return [];
    const out: RelayAction[] = [{ kind: 'note', note: { what: 'takeover', run: id, from: r.assigner, to: from } }];
    r.assigner = from;
    r.buddy = null;
    r.heardMs = -1;
    out.push({ kind: 'deliver', id, event: { kind: 'reassigned', assigner: from } });
    out.push({ kind: 'send', to: from, msg: { type: 'run_attach', from: this.opts.name, id, afterSeq: r.lastSeq } });
    for (const m of r.inputs) out.push({ kind: 'send', to: from, msg: m });
    return out;
  }

  /** A new Gateway asking around adopts the run; after a takeover this Gateway still holds the
   * run's record, and the stream that follows is enough. */
  private onAttached(from: string, msg: RunMessageOf<'run_attached'>): RelayAction[] {
    if (msg.spec.id !== msg.id || !this.attaching.has(msg.id)) return [];
    this.attaching.delete(msg.id);
    this.runs.set(msg.id, inFlight(from, msg.phase === 'queued', msg.phase === 'running' ? msg.worker : null));
    return [{ kind: 'attached', id: msg.id, found: { run: msg.spec, phase: msg.phase, worker: msg.worker, assigner: from, attempt: msg.attempt ?? 1 } }];
  }

  /**
   * Chunks are missing (a link to the Assigner dropped messages): ask it for everything after the
   * last one the client got; the chunks in between are ignored until the resend fills the gap.
   */
  private askResend(id: string, r: InFlight, nowMs: number, out: RelayAction[]): void {
    if (nowMs - r.resendAskedMs < this.opts.resendAskMs) return;
    r.resendAskedMs = nowMs;
    out.push({ kind: 'note', note: { what: 'gap', run: id, afterSeq: r.lastSeq, assigner: r.assigner } });
    out.push({ kind: 'send', to: r.assigner, msg: { type: 'run_attach', from: this.opts.name, id, afterSeq: r.lastSeq } });
  }

  private onRunMessage(from: string, msg: RunStreamMessage, nowMs: number): RelayAction[] {
    const r = this.runs.get(msg.id);
    if (!r || r.assigner !== from) return [];
    r.heardMs = nowMs;
    const out: RelayAction[] = [];
    // Any word of the run from its Assigner answers a submit still waiting, even one being asked
    // about again after a silence: an Assigner speaks of a run only once its buddy holds it too.
    const waiting = this.submits.get(msg.id);
    if (waiting) {
      this.submits.delete(msg.id);
      if (waiting.wait.kind === 'monitor') this.asks.delete(waiting.wait.requestId);
    }
    const acked = waiting !== undefined;
    const deliver = (event: SinkEvent) => out.push({ kind: 'deliver', id: msg.id, event });
    switch (msg.type) {
      case 'run_refused':
        this.runs.delete(msg.id);
        if (acked) out.push({ kind: 'refused', id: msg.id, code: msg.code === 'QUEUE_FULL' ? 'QUEUE_FULL' : 'NO_CAPACITY', message: msg.message });
        return out;
      case 'run_queued':
        if (acked) out.push({ kind: 'accepted', id: msg.id });
        if (msg.buddy !== undefined) r.buddy = msg.buddy;
        r.queued = true;
        r.worker = null;
        deliver({ kind: 'queued', position: msg.position });
        return out;
      case 'run_restart':
        if (acked) out.push({ kind: 'accepted', id: msg.id });
        r.queued = true;
        r.worker = null;
        r.lastSeq = -1;
        deliver({ kind: 'restarted', attempt: msg.attempt });
        return out;
      case 'run_started':
        if (acked) out.push({ kind: 'accepted', id: msg.id });
        if (msg.buddy !== undefined) r.buddy = msg.buddy;
        r.queued = false;
        r.worker = msg.worker;
        deliver({ kind: 'started', worker: msg.worker, assigner: from });
        return out;
      case 'run_output':
        if (acked) out.push({ kind: 'accepted', id: msg.id });
        for (const c of msg.chunks) {
          if (c.seq <= r.lastSeq) continue; // sent again after a takeover: the client has it
          if (c.seq > r.lastSeq + 1) {
            this.askResend(msg.id, r, nowMs, out); // a link dropped some
            return out;
          }
          r.lastSeq = c.seq;
          deliver({ kind: 'output', chunk: c });
        }
        return out;
      case 'run_exit':
        if (acked) out.push({ kind: 'accepted', id: msg.id });
        if (msg.lastSeq !== undefined && msg.lastSeq > r.lastSeq) {
          this.askResend(msg.id, r, nowMs, out);
          return out;
        }
        this.runs.delete(msg.id);
        deliver({ kind: 'exit', result: msg.result });
        return out;
      default: {
        const never: never = msg;
        return never;
      }
    }
  }
}
