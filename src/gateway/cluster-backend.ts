import { randomUUID } from 'node:crypto';
import type { AgentContext } from '../agent/context.js';
import type { AgentMessage, TableRow } from '../agent/agent-messages.js';
import type { ClusterMessage, WireEntry } from '../cluster/messages.js';
import { leastLoadedAssigner } from '../cluster/placement-query.js';
import type { RunMessage, RunMessageOf } from '../protocol/run-messages.js';
import { availableLanguages, type LanguageInfo } from '../sandbox/languages.js';
import type { ClusterView, NodeView } from './api-types.js';
import type { GatewayBoundMessage } from './bound.js';
import { WorkerLoads } from './worker-loads.js';
import { AssignerTimeoutError, NoCapacityError, QueueFullError, type AcceptedRun, type AttachedRun, type RunBackend, type RunSink } from './backend.js';

/** How long a Monitor has to name the least-loaded Assigner before the next one is asked. */
const ASK_MONITOR_TIMEOUT_MS = 500;
/**
 * A Monitor's answer stays good this long: each run asks again, but a run that comes within this
 * time of the previous answer uses it at once instead of waiting a round trip for the next one.
 */
const ASSIGNER_ANSWER_TTL_MS = 250;
/** How long an Assigner has to say it holds a run (queued or started). */
const ACK_TIMEOUT_MS = 3_000;
/** How often the Gateway refreshes its copy of the Monitors' table. */
const TABLE_REFRESH_MS = 500;
/** How long the Assigners have to say who holds a run a resuming client names (after a failover). */
const ATTACH_TIMEOUT_MS = 2_000;
/** Runs the Gateway relays at once; each holds only a few closures (the chunks live in the store). */
const RUNS_IN_FLIGHT_MAX = 10_000;

/** Input lines the Gateway keeps per run to send again after an Assigner takeover. */
const INPUTS_KEPT_MAX = 4096;
const INPUT_BYTES_KEPT_MAX = 1024 * 1024;
/** Input numbers start at epoch × this: a Gateway that took over numbers above everything the old
 * one sent, so a Worker (which drops numbers it has seen) never mistakes new input for a resend. */
const INPUT_NUMBERS_PER_EPOCH = 1_000_000_000;

interface InFlight {
  assigner: string;
  /** The Assigner's buddy: the only one that may take the run over. */
  buddy: string | null;
  sink: RunSink;
  ack: ((err: Error | null) => void) | null;
  queued: boolean;
  /** The newest chunk passed to the client: anything at or below it is a resend. */
  lastSeq: number;
  /** Every input message sent (numbered from 1), kept so a takeover loses no keystroke. */
  inputs: Array<RunMessageOf<'run_input'> | RunMessageOf<'run_eof'>>;
  inputBytes: number;
  /** When this Gateway last asked for missing chunks. */
  resendAskedMs: number;
}

/** A run this Gateway starts relaying: nothing received, no input sent yet. */
function inFlight(assigner: string, sink: RunSink, queued: boolean): InFlight {
  return { assigner, buddy: null, sink, ack: null, queued, lastSeq: -1, inputs: [], inputBytes: 0, resendAskedMs: -Infinity };
}

/** Missing chunks are asked for at most this often per run. */
const RESEND_ASK_MS = 1_000;

/**
 * The lab's backend: a Monitor names the least-loaded Assigner, the run goes there, and the
 * Assigner streams it back. The Gateway knows the cluster through a Monitor's table.
 */
export class ClusterBackend implements RunBackend {
  private readonly runs = new Map<string, InFlight>();
  private readonly asks = new Map<string, (assigner: string | null) => void>();
  private table: { rows: TableRow[]; leader: string | null; term: number; atMs: number } | null = null;
  private readonly refresh: NodeJS.Timeout;
  private readonly workerLoads = new WorkerLoads();
  private monitorCursor = 0;
  private localLanguages: LanguageInfo[] = [];
  private lastAnswer: { assigner: string; atMs: number } | null = null;
  /** The Gateway epoch this backend serves under (set when the API starts serving). */
  epoch = 1;
  /** The Gateway standby this Gateway heartbeats to (set by the failover service; for the dashboard). */
  standby: string | null = null;
  /** Runs asked of the Assigners (run_attach) and not found yet: id → what to do with the answer. */
  private readonly attaching = new Map<string, (from: string, msg: RunMessageOf<'run_attached'>) => void>();
  /** Set when this Gateway steps down: closing must not kill the runs the next Gateway attaches. */
  keepRunsOnClose = false;

  constructor(private readonly ctx: AgentContext) {
    this.refresh = setInterval(() => this.askTable(), TABLE_REFRESH_MS);
    this.askTable();
    void availableLanguages().then((l) => (this.localLanguages = l));
  }

  private monitors(): string[] {
    const fromTable = (this.table?.rows ?? []).filter((r) => r.role === 'monitor' && r.status === 'alive').map((r) => r.name);
    return fromTable.length > 0 ? fromTable : this.ctx.config.nodes.filter((n) => n.role === 'monitor').map((n) => n.name);
  }

  private nextMonitor(): string {
    const ms = this.monitors();
    return ms[this.monitorCursor++ % ms.length] as string;
  }

  private askTable(): void {
    this.ctx.peers.send(this.nextMonitor(), { type: 'table_request', from: this.ctx.self.name, requestId: 'table' });
  }

  /** Messages for the Gateway: Monitors' answers and the runs' streams from Assigners. */
  handle(from: string, msg: GatewayBoundMessage): void {
    switch (msg.type) {
      case 'table_reply':
        this.table = { rows: msg.rows, leader: msg.leader, term: msg.term, atMs: Date.now() };
        this.workerLoads.update(from, msg.rows);
        return;
      case 'least_loaded_assigner_reply':
        this.asks.get(msg.requestId)?.(msg.assigner);
        return;
      case 'run_attached':
        // A new Gateway asking around adopts the run; after a takeover this Gateway still holds
        // the run's record, and the stream that follows is enough.
        if (msg.spec.id === msg.id) this.attaching.get(msg.id)?.(from, msg);
        return;
      case 'run_queued':
      case 'run_started':
      case 'run_output':
      case 'run_exit':
      case 'run_refused':
      case 'run_restart':
        return this.onRunMessage(from, msg);
      case 'run_takeover':
        return this.onTakeover(from, msg.id);
      default: {
        const never: never = msg;
        return never;
      }
    }
  }

  /**
   * Chunks are missing (a link to the Assigner dropped messages): ask it for everything after the
   * last one the client got; the chunks in between are ignored until the resend fills the gap.
   */
  private askResend(id: string, r: InFlight): void {
    const now = Date.now();
    if (now - r.resendAskedMs < RESEND_ASK_MS) return;
    r.resendAskedMs = now;
    this.ctx.log.warn({ event: 'gap', run: id, after: r.lastSeq }, `run ${id}: chunks after ${r.lastSeq} missing; asking assigner ${r.assigner} again`);
    this.ctx.peers.send(r.assigner, { type: 'run_attach', from: this.ctx.self.name, id, afterSeq: r.lastSeq });
  }

  /** The run's Assigner died; its buddy holds the run: stream from it, and send the input again. */
  private onTakeover(from: string, id: string): void {
    const r = this.runs.get(id);
    // From the buddy after a death, or from the Assigner the run was handed to.
    if (!r || from === r.assigner) return;
    this.ctx.log.info({ event: 'takeover', run: id, from: r.assigner, to: from }, `run ${id} taken over by assigner ${from}`);
    r.assigner = from;
    r.buddy = null;
    r.sink.reassigned(from);
    this.ctx.peers.send(from, { type: 'run_attach', from: this.ctx.self.name, id, afterSeq: r.lastSeq });
    for (const m of r.inputs) this.ctx.peers.send(from, m);
  }

  private onRunMessage(from: string, msg: Extract<RunMessage, { type: 'run_queued' | 'run_started' | 'run_output' | 'run_exit' | 'run_refused' | 'run_restart' }>): void {
    const r = this.runs.get(msg.id);
    if (!r || r.assigner !== from) return;
    const ack = r.ack;
    r.ack = null;
    switch (msg.type) {
      case 'run_refused':
        this.runs.delete(msg.id);
        ack?.(msg.code === 'QUEUE_FULL' ? new QueueFullError(msg.message) : new NoCapacityError(msg.message));
        return;
      case 'run_queued':
        if (msg.buddy !== undefined) r.buddy = msg.buddy;
        r.queued = true;
        ack?.(null);
        r.sink.queued(msg.position);
        return;
      case 'run_restart':
        ack?.(null);
        r.queued = true;
        r.lastSeq = -1;
        r.sink.restarted(msg.attempt);
        return;
      case 'run_started':
        if (msg.buddy !== undefined) r.buddy = msg.buddy;
        r.queued = false;
        ack?.(null);
        r.sink.started({ worker: msg.worker, assigner: from });
        return;
      case 'run_output':
        ack?.(null);
        for (const c of msg.chunks) {
          if (c.seq <= r.lastSeq) continue; // sent again after a takeover: the client has it
          if (c.seq > r.lastSeq + 1) return this.askResend(msg.id, r); // a link dropped some
          r.lastSeq = c.seq;
          r.sink.output({ seq: c.seq, stream: c.stream, data: Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength) });
        }
        return;
      case 'run_exit':
        ack?.(null);
        if (msg.lastSeq !== undefined && msg.lastSeq > r.lastSeq) return this.askResend(msg.id, r);
        this.runs.delete(msg.id);
        r.sink.exit(msg.result);
        return;
      default: {
        const never: never = msg;
        return never;
      }
    }
  }

  private askAssigner(): Promise<string | null> {
    const tryOne = (monitor: string) =>
      new Promise<string | null | undefined>((resolve) => {
        const requestId = randomUUID();
        const timer = setTimeout(() => {
          this.asks.delete(requestId);
          resolve(undefined);
        }, ASK_MONITOR_TIMEOUT_MS);
        this.asks.set(requestId, (a) => {
          clearTimeout(timer);
          this.asks.delete(requestId);
          resolve(a);
        });
        this.ctx.peers.send(monitor, { type: 'least_loaded_assigner_request', from: this.ctx.self.name, requestId });
      });
    return (async () => {
      for (let i = 0; i < Math.max(1, this.monitors().length); i++) {
        const a = await tryOne(this.nextMonitor());
        if (a !== undefined) return a;
      }
      // No Monitor answered in time (they may be overloaded): the Gateway's own copy of the
      // table, at most TABLE_REFRESH_MS old, names one as well.
      return leastLoadedAssigner((this.table?.rows ?? []) as unknown as WireEntry[]);
    })();
  }

  /** The least-loaded Assigner by a Monitor's answer: the last one if it is fresh, else a new one. */
  private async pickAssigner(fresh: boolean): Promise<string | null> {
    const last = this.lastAnswer;
    if (!fresh && last && Date.now() - last.atMs < ASSIGNER_ANSWER_TTL_MS) {
      // Asked again for the next run, after this one's submit has left (off its path), once at a time.
      if (!this.refreshing) {
        this.refreshing = true;
        setImmediate(() => void this.askAndKeep().finally(() => (this.refreshing = false)));
      }
      return last.assigner;
    }
    return this.askAndKeep();
  }

  private refreshing = false;

  private askAndKeep(): Promise<string | null> {
    return this.askAssigner().then((a) => {
      if (a) this.lastAnswer = { assigner: a, atMs: Date.now() };
      return a;
    });
  }

  async start(run: AcceptedRun, sink: RunSink): Promise<void> {
    if (this.runs.size >= RUNS_IN_FLIGHT_MAX) throw new QueueFullError(`the gateway relays ${RUNS_IN_FLIGHT_MAX} runs already`);
    const first = await this.pickAssigner(false);
    let entry = this.track(run.id, first, sink);
    try {
      try {
        await this.submit(run, entry, entry.assigner);
      } catch (err) {
        if (!(err instanceof AssignerTimeoutError)) throw err;
        // The Assigner named a moment ago did not answer: ask a Monitor afresh, once. Named again,
        // it is alive and may hold the run already, waiting for its buddy to hold it too (a buddy
        // that just died and is not declared dead yet): submitting again is harmless (a run is
        // taken once per id) and the run's record stays, so nothing it sends meanwhile is lost.
        const second = await this.pickAssigner(true);
        if (second !== first) {
          // If the first got the run after all, it must not run it beside the second's copy.
          this.ctx.peers.send(entry.assigner, { type: 'run_kill', from: this.ctx.self.name, id: run.id });
          entry = this.track(run.id, second, sink);
        }
        await this.submit(run, entry, entry.assigner);
      }
    } catch (err) {
      this.runs.delete(run.id);
      throw err;
    }
  }

  /** The run's record, relayed through this Assigner (none: no Assigner is alive). */
  private track(id: string, assigner: string | null, sink: RunSink): InFlight {
    if (!assigner) {
      this.runs.delete(id);
      throw new NoCapacityError('no Assigner is alive to take the run (none in the Monitors\' table)');
    }
    const entry = inFlight(assigner, sink, false);
    this.runs.set(id, entry);
    return entry;
  }

  /** Sends the run to the Assigner and waits for its first word of it (queued, started, ...). */
  private submit(run: AcceptedRun, entry: InFlight, assigner: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        entry.ack = null;
        reject(new AssignerTimeoutError(`assigner ${assigner} did not take the run within ${ACK_TIMEOUT_MS} ms`));
      }, ACK_TIMEOUT_MS);
      entry.ack = (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      this.ctx.peers.send(assigner, { type: 'run_submit', from: this.ctx.self.name, run });
    });
  }

  /** The Assigners as the table has them (the config's before the first table arrives). */
  private assigners(): string[] {
    if (this.table) return this.table.rows.filter((r) => r.role === 'assigner' && r.status !== 'dead').map((r) => r.name);
    return this.ctx.config.nodes.filter((n) => n.role === 'assigner').map((n) => n.name);
  }

  attach(id: string, adopt: (found: AttachedRun) => RunSink): Promise<boolean> {
    if (this.runs.has(id) || this.attaching.has(id)) return Promise.resolve(false);
    if (this.runs.size >= RUNS_IN_FLIGHT_MAX) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.attaching.delete(id);
        resolve(false);
      }, ATTACH_TIMEOUT_MS);
      this.attaching.set(id, (from, msg) => {
        clearTimeout(timer);
        this.attaching.delete(id);
        // The sink exists before the Assigner's replayed chunks (next on the same link) arrive.
        const sink = adopt({ run: msg.spec, phase: msg.phase, worker: msg.worker, assigner: from });
        this.runs.set(id, inFlight(from, sink, msg.phase === 'queued'));
        resolve(true);
      });
      // All chunks (-1): the Gateway keeps the whole output for GET and later resumes; each client
      // still gets only what its own last_seq lacks.
      for (const a of this.assigners()) this.ctx.peers.send(a, { type: 'run_attach', from: this.ctx.self.name, id, afterSeq: -1 });
    });
  }

  private toAssigner(id: string, msg: RunMessage): void {
    const r = this.runs.get(id);
    if (r) this.ctx.peers.send(r.assigner, msg);
  }

  /** Input is numbered and kept (bounded) so that a takeover can send it again. */
  private input(id: string, msg: { type: 'run_input'; data: string } | { type: 'run_eof' }): void {
    const r = this.runs.get(id);
    if (!r) return;
    const m = { ...msg, from: this.ctx.self.name, id, n: this.epoch * INPUT_NUMBERS_PER_EPOCH + r.inputs.length + 1 };
    const bytes = msg.type === 'run_input' ? Buffer.byteLength(msg.data) : 0;
    if (r.inputs.length >= INPUTS_KEPT_MAX || r.inputBytes + bytes > INPUT_BYTES_KEPT_MAX) {
      this.ctx.log.warn({ event: 'input_dropped', run: id }, `run ${id}: over ${INPUTS_KEPT_MAX} input lines or ${INPUT_BYTES_KEPT_MAX} bytes; input dropped`);
      return;
    }
    r.inputs.push(m);
    r.inputBytes += bytes;
    this.ctx.peers.send(r.assigner, m);
  }

  write(id: string, data: string): void {
    this.input(id, { type: 'run_input', data });
  }

  endInput(id: string): void {
    this.input(id, { type: 'run_eof' });
  }

  kill(id: string): void {
    this.toAssigner(id, { type: 'run_kill', from: this.ctx.self.name, id });
  }

  async languages(): Promise<LanguageInfo[]> {
    const offered = new Set((this.table?.rows ?? []).filter((r) => r.role === 'worker' && r.status === 'alive').flatMap((r) => r.languages));
    // Versions come from this machine's probe: lab PCs share one image. With no Worker up yet,
    // list what the image has; runs wait in the queue until a Worker comes.
    return offered.size === 0 ? this.localLanguages : this.localLanguages.filter((l) => offered.has(l.id));
  }

  queueLength(): number {
    let n = 0;
    for (const r of this.runs.values()) if (r.queued) n++;
    return n;
  }

  /** Runs this Gateway relays, per Assigner, and all of them under its own name (the dashboard's "runs"). */
  private runsPerNode(): Map<string, number> {
    const runsOn = new Map<string, number>([[this.ctx.self.name, this.runs.size]]);
    for (const r of this.runs.values()) runsOn.set(r.assigner, (runsOn.get(r.assigner) ?? 0) + 1);
    return runsOn;
  }

  cluster(): ClusterView {
    const runsOn = this.runsPerNode();
    const nodes: NodeView[] = (this.table?.rows ?? []).map((r) => {
      const endpoint = this.ctx.book.resolve(r.name);
      const isGateway = r.name === this.ctx.self.name;
      // A Worker's load only from its own Monitor (see WorkerLoads); null until it has answered.
      const load = r.role === 'worker' ? this.workerLoads.get(r.name) : r.load;
      return {
        name: r.name,
        address: endpoint ? `${endpoint.host}:${endpoint.port}` : '',
        pid: r.pid ?? (isGateway ? process.pid : null),
        role: isGateway ? 'gateway' : (r.role as NodeView['role']),
        state: r.status,
        load: load ? { psi_cpu: load.psiCpu, psi_memory: load.psiMemory, psi_io: load.psiIo, slots_free: load.slotsFree, slots_busy: load.slotsBusy } : null,
        runs: r.role === 'worker' ? load?.slotsBusy ?? 0 : runsOn.get(r.name) ?? 0,
      };
    });
    return { nodes, queue_length: this.queueLength(), leader: this.table?.leader ?? null, term: this.table?.term ?? 0 };
  }

  async close(): Promise<void> {
    clearInterval(this.refresh);
    if (!this.keepRunsOnClose) for (const id of this.runs.keys()) this.kill(id);
  }
}
