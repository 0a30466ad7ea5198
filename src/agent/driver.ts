import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { nowMs } from '../common/clock.js';
import type { ClusterEvent, ClusterNode } from '../cluster/node.js';
import type { Load } from '../cluster/messages.js';
import { timerFireAtMs, type PersistentState, type StepOutput, type TimerId } from '../cluster/output.js';
import { processWallOffsetMs } from '../common/beat.js';
import type { Random } from '../cluster/random.js';
import type { FailoverPersistent } from '../cluster/gateway-failover.js';
import type { Logger } from './log.js';
import type { PeerLinks } from './peers.js';
import type { TableRow } from './agent-messages.js';
import type { WireMessage } from './wire-messages.js';

/** The driver's clock: monotonic milliseconds. Cores only ever see this number. */
export { nowMs };

/** A Random seeded from the OS, for real nodes (the simulator passes a seeded one). */
export const osRandom: Random = { nextUint32: () => randomInt(0, 0x100000000 - 1) };

/**
 * Persistent protocol state in a small JSON file, replaced atomically: the cluster core's state,
 * and beside it the Gateway standby protocol's epochs (`gateway`), which this file keeps current
 * whichever of the two writes.
 */
export class StateFile {
  private last: PersistentState | null = null;
  private gateway: FailoverPersistent | null = null;

  constructor(readonly file: string) {}

  private read(): (PersistentState & { gateway?: FailoverPersistent }) | null {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as PersistentState & { gateway?: FailoverPersistent };
    } catch {
      return null;
    }
  }

  load(): PersistentState | null {
    const s = this.read();
    if (!s) return null;
    const { gateway, ...rest } = s;
    if (gateway && this.gateway === null) this.gateway = gateway;
    this.last = rest;
    return rest;
  }

  /** The Gateway standby protocol's persisted epochs, or null on first boot. */
  loadGateway(): FailoverPersistent | null {
    if (this.gateway === null) this.gateway = this.read()?.gateway ?? null;
    return this.gateway;
  }

  save(state: PersistentState): void {
    this.last = state;
    this.write();
  }

  saveGateway(g: FailoverPersistent): void {
    this.gateway = g;
    if (this.last === null) this.last = this.load();
    this.write();
  }

  private write(): void {
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ ...(this.last ?? {}), ...(this.gateway ? { gateway: this.gateway } : {}) }));
    renameSync(tmp, this.file);
  }
}

/**
 * Runs a ClusterNode on real time and sockets: feeds it timer, message and load events, writes
 * its persistent state before sending what the same step produced, sends its messages, keeps one
 * timer per TimerId, and logs its notes.
 */
export class ClusterDriver {
  private readonly timers = new Map<TimerId, { atMs: number; timer: NodeJS.Timeout }>();
  private lastStatuses = new Map<string, string>();
  /** Watch table changes (after each step that changed the table); off for a heartbeat thread. */
  private watchTable = false;
  /** The table last watched and its change-log head then: a step that changed neither is skipped. */
  private watchedTable: { table: object; headSeq: number } | null = null;
  private stopped = false;
  /** Told of every note after it is logged (the agent switches role services on role_changed). */
  onNote: (note: StepOutput['notes'][number]) => void = () => {};
  /** Called after every step (the Gateway standby protocol watches the term and leadership). */
  private readonly stepListeners: Array<() => void> = [];

  constructor(
    readonly node: ClusterNode,
    private readonly peers: PeerLinks<WireMessage>,
    private readonly stateFile: StateFile,
    private readonly log: Logger,
    /** Decides per message whether it may leave now (a Worker's heartbeat thread withholds
     * heartbeats while its communicator does not answer). */
    private readonly gate: (m: StepOutput['messages'][number]) => boolean = () => true,
  ) {
    // The node's periodic timers land on the process's wall-clock beats (src/common/beat.ts):
    // they share one wake-up, and every node of the lab beats at the same instants.
    if (node.grid === null) node.useGrid({ wallOffsetMs: processWallOffsetMs });
  }

  /**
   * Table changes as a Monitor sees them are logged for operators and the multi-process tests,
   * checked after each step that moved the table's change log (no timer: an idle node is not woken
   * for it). watchTable false: a node that never holds a table (a Worker's heartbeat thread).
   */
  start(opts: { watchTable?: boolean } = {}): void {
    this.watchTable = opts.watchTable !== false;
    this.step({ type: 'tick' });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
  }

  receive(from: string, message: Parameters<ClusterNode['step']>[0] extends infer E ? (E extends { type: 'receive'; message: infer M } ? M : never) : never): void {
    this.step({ type: 'receive', from, message });
  }

  setLoad(load: Load): void {
    this.step({ type: 'load', load });
  }

  step(event: ClusterEvent): void {
    if (this.stopped) return;
    const out: StepOutput = this.node.step(event, nowMs());
    if (out.persist) this.stateFile.save(out.persist);
    for (const m of out.messages) if (this.gate(m)) this.peers.send(m.to, m.message);
    for (const t of out.timers) this.arm(t.id, timerFireAtMs(t, this.node.timing, this.node.grid));
    for (const n of out.notes) {
      this.log.info({ note: n }, `cluster: ${n.kind}`);
      this.onNote(n);
    }
    if (this.watchTable) this.logTableChanges();
    for (const listener of [...this.stepListeners]) listener();
  }

  /** Calls listener after every step of the cluster core, from now until stop() or until the
   * returned function is called (a role service that stops). */
  afterEachStep(listener: () => void): () => void {
    this.stepListeners.push(listener);
    return () => {
      const i = this.stepListeners.indexOf(listener);
      if (i >= 0) this.stepListeners.splice(i, 1);
    };
  }

  /**
   * A step asks for every timer again; one whose instant did not move is left as it is (most of
   * them, each step). A moved one is replaced; note that a timer moved later from an I/O callback
   * still wakes the process at its old instant (Node keeps its OS timer there), which costs
   * nothing when that instant is a beat the process wakes for anyway.
   */
  private arm(id: TimerId, atMs: number): void {
    const prev = this.timers.get(id);
    if (prev?.atMs === atMs) return;
    if (prev) clearTimeout(prev.timer);
    const delay = Math.max(0, atMs - nowMs());
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.step({ type: 'timer', id });
    }, delay);
    this.timers.set(id, { atMs, timer });
  }

  /** This Monitor's table, or null when this node is not a Monitor. */
  table(): { rows: TableRow[]; leader: string | null; term: number } | null {
    const m = this.node.monitor;
    if (!m) return null;
    const rows: TableRow[] = [];
    for (const e of m.table.values()) {
      rows.push({ name: e.name, ...(e.pid !== undefined ? { pid: e.pid } : {}), role: e.role, status: e.status, incarnation: e.incarnation, monitor: e.monitor, load: m.loadOf(e.name) ?? e.load, languages: [...e.languages] });
    }
    return { rows, leader: m.election.leader, term: m.election.term };
  }

  private logTableChanges(): void {
    const table = this.node.monitor?.table;
    if (!table) return;
    // Every accepted change (status, role, incarnation, load) moves the head of the change log.
    if (this.watchedTable?.table === table && this.watchedTable.headSeq === table.headSeq) return;
    this.watchedTable = { table, headSeq: table.headSeq };
    const next = new Map<string, string>();
    for (const e of table.values()) {
      const key = `${e.status}/${e.role}`;
      next.set(e.name, key);
      if (this.lastStatuses.get(e.name) !== key) this.log.info({ event: 'table', peer: e.name, status: e.status, incarnation: e.incarnation, role: e.role }, `table: ${e.name} is ${e.status}`);
    }
    this.lastStatuses = next;
  }
}
