import { onBeat } from '../../common/beat.js';
import { setImmediate as drained } from 'node:timers/promises';
import pino from 'pino';
import type { AssignerSight } from '../../assigner/driver.js';
import type { TableRow } from '../../agent/agent-messages.js';
import type { AssignerState, WireEntry } from '../../cluster/messages.js';
import type { KnownWorker } from '../../cluster/assigner-view.js';
import type { Clock } from '../../common/clock.js';
import { leastLoadedAssigner } from '../../cluster/placement-query.js';
import { randomIntBetween } from '../../cluster/random.js';
import { isGatewayBound, type GatewayBoundMessage } from '../../gateway/bound.js';
import type { RelayOutgoing } from '../../gateway/relay-core.js';
import type { RunEvent } from '../../gateway/run-store.js';
import type { RunMessage } from '../../protocol/run-messages.js';
import { EventQueue } from '../event-queue.js';
import { Xoshiro128 } from '../prng.js';
import { checkRuns, type RunpathViolation } from './checkers.js';
import { SimClient, PATIENCE_MS, type ClientWorld } from './client.js';
import { SimGateway, type ClientRequest } from './gateway-node.js';
import { FifoNet } from './links.js';
import { SIM_ASSIGNER, SimAssigner, SimWorker, SIM_LANGUAGE } from './nodes.js';
import type { RunpathFault, RunpathScenario } from './scenario.js';

/**
 * The run path simulator: real AssignerDrivers/AssignerCores (a buddy pair), real
 * WorkerDrivers/WorkerCores with the sandbox twin, the real RelayCore and RunStore behind a Gateway, and clients, on FIFO links
 * with the faults a TCP stream has (links.ts), crashes and a Gateway failover. Virtual time; the
 * Workers' async pumps run between events (each event that touched a Worker drains the microtasks),
 * so one seed always replays the same way.
 *
 * What stands in for the rest of the cluster (the cluster simulator, src/sim/simulator.ts, covers
 * it with the real Monitor code): one Monitor service 'm1' that never fails, answers the Gateway's
 * table and least-loaded questions from the nodes' true state, declares a crashed node dead after
 * the scenario's detectMs, shows each Assigner's driver the Workers' loads, their deaths and the
 * Assigners' lives (its AssignerSight), and orders the pair to re-form once a dead Assigner is
 * back. Until then the survivor's order still names the dead one (a stale order, as in the lab).
 */

export type RunpathBreakage =
  /** Workers lose the second chunk of every program between the sandbox and the core. */
  | 'worker_drops_chunk'
  /** The Gateway sends every third output message to its client twice. */
  | 'gateway_duplicates'
  /** The Monitors' view says life = incarnation (as before lives existed): a refutation looks like a restart. */
  | 'view_without_life';

export interface RunpathOptions {
  breakage?: RunpathBreakage;
  /** Keep a line per event (for --trace). */
  trace?: boolean;
}

export interface RunpathResult {
  seed: number;
  violations: RunpathViolation[];
  /** FNV-1a over every delivery and client event: equal seeds must give equal hashes. */
  traceHash: string;
  events: number;
  simMs: number;
  accepted: number;
  /** Messages the faults destroyed (resets, crashes, dead receivers): the faults did bite. */
  messagesLost: number;
  statuses: Record<string, number>;
  trace: string[];
}

const MONITOR = 'm1';
const REPAIR_AFTER_MS = 300;
/** Worker deaths an Assigner life holds unread (AssignerView bounds its own likewise). */
const WORKER_DEATHS_MAX = 1024; // the leader orders a new pair a moment after the dead Assigner is back
/** Simulated time after the last client is done (or gave up) and the last fault healed: stragglers settle. */
const SETTLE_MS = 5_000;
/** Hard stop: every client's patience and a retry budget past the last start. */
const SIM_MS_MAX = 4_000 + PATIENCE_MS + 60_000;
const RESUME_KEY = Buffer.alloc(32, 7);
/** Trace lines kept for --trace; a seed that writes more is a runaway, and the rest is cut. */
const TRACE_LINES_MAX = 200_000;

/** What members send each other on the run path. */
type PeerMessage = RunMessage | RelayOutgoing | GatewayBoundMessage;

type Event = { fn: () => void; cancelled: boolean };

interface ClientConn {
  client: SimClient;
  gateway: SimGateway;
  open: boolean;
}

interface ClientWire {
  conn: number;
  req?: ClientRequest;
  event?: RunEvent;
}

/** A message in one short line: type, run, and what tells its effect (chunks, status, acks). */
function describeMessage(msg: PeerMessage): string {
  switch (msg.type) {
    case 'offer':
      return `offer ${msg.run.id}`;
    case 'run_output':
    case 'replica_output':
      return `${msg.type} ${msg.id} ${msg.chunks.map((c) => c.seq).join(',')}`;
    case 'run_exit':
      return `run_exit ${msg.id} ${msg.result.status}`;
    case 'run_ack':
    case 'replica_ack':
      return `${msg.type} ${msg.id} ${msg.seq}${msg.exit ? ' exit' : ''}`;
    case 'offer_reply':
      return `offer_reply ${msg.id} ${msg.accepted ? 'yes' : 'no'}`;
    default:
      return 'id' in msg ? `${msg.type} ${String(msg.id)}` : msg.type;
  }
}

function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** A partition at least this long gets a Worker suspected, and it refutes when heard again
 * (a higher incarnation, the same life); the Monitors' real bound is some heartbeats, under
 * the dead bound (DETECT_MS_MIN), which no partition here reaches. */
const SUSPECT_AFTER_MS = 300;
/** The heartbeat interval: every Assigner's cluster core steps at least this often (src/common/beat.ts). */
const CLUSTER_BEAT_MS = 500;
/** A message's hop on the LAN, from a Monitor's step to the Assigner's. */
const CLUSTER_HOP_MS = 1;
/** The simulations running (their Assigners' warnings are routed by the `sim` binding). */
const running = new Map<number, RunpathSim>();
let simIds = 0;
/** One logger for every sim's Assigners (a pino per Assigner life costs more than its whole poll). */
const ASSIGNER_LOG = pino(
  { level: 'warn', base: null, timestamp: false },
  {
    write: (line: string) => {
      if (!line.includes('"buddy_lost"')) return;
      const w = JSON.parse(line) as { sim: number; taker: string; life: number; assigner: string };
      running.get(w.sim)?.takeover(w.taker, w.life, w.assigner);
    },
  },
);

export class RunpathSim implements ClientWorld {
  private readonly simId = ++simIds;
  private readonly queue = new EventQueue<Event>();
  private now = 0;
  private readonly rng: Xoshiro128;
  private readonly netRng: Xoshiro128;
  private readonly peers: FifoNet<PeerMessage>;
  private readonly wire: FifoNet<ClientWire>;
  private readonly alive = new Set<string>();
  readonly workers = new Map<string, SimWorker>();
  /** Every Worker life, dead ones too: their programs are the checker's ground truth. */
  readonly workerLives: SimWorker[] = [];
  private readonly assigners = new Map<string, SimAssigner>();
  private readonly incarnations = new Map<string, number>();
  /** What the Monitors say: dead once detected, alive again when the node is back. */
  private readonly declaredDead = new Set<string>();
  /** The leader's pair orders: each Assigner's buddy (null: a new life not paired yet). */
  private readonly order = new Map<string, string | null>();
  /** Worker deaths each Assigner life has not read yet (AssignerView.takeDeaths). */
  private readonly deaths = new Map<string, string[]>();
  /** The Assigners' AssignerSight.watch listeners: what a step of their node's cluster core calls. */
  private readonly clusterStepListeners = new Set<() => void>();
  /** Takeovers seen (`taker#life>lost#life`): a life is taken over once by each Assigner life. */
  private readonly takeovers = new Set<string>();
  private gateway: SimGateway | null = null;
  private gatewayEpoch = 0;
  private readonly conns = new Map<number, ClientConn>();
  private nextConn = 0;
  readonly clients: SimClient[] = [];
  private readonly violations: RunpathViolation[] = [];
  private hash = 2166136261;
  private events = 0;
  private touched = false;
  private dupCount = 0;
  readonly trace: string[] = [];

  constructor(
    readonly scenario: RunpathScenario,
    private readonly opts: RunpathOptions = {},
  ) {
    this.rng = new Xoshiro128(scenario.seed ^ 0x5eed);
    this.netRng = this.rng.fork();
    const host = {
      nowMs: () => this.now,
      at: (atMs: number, fn: () => void) => void this.at(atMs, fn),
      isAlive: (n: string) => this.alive.has(n),
    };
    this.peers = new FifoNet({ ...host, arrive: (from, to, msg) => this.arrive(from, to, msg) }, this.netRng);
    this.wire = new FifoNet({ ...host, isAlive: () => true, arrive: (_from, _to, w) => this.arriveWire(w) }, this.netRng.fork());
  }

  nowMs(): number {
    return this.now;
  }

  at(atMs: number, fn: () => void): { cancel(): void } {
    const e: Event = { fn, cancelled: false };
    this.queue.push(Math.max(atMs, this.now), e);
    return { cancel: () => (e.cancelled = true) };
  }

  noticeMs(): number {
    return randomIntBetween(this.rng, 50, 2_000);
  }

  violation(kind: string, client: SimClient, message: string): void {
    this.violations.push({ seed: this.scenario.seed, atMs: this.now, run: client.id ?? '(not accepted)', client: client.name, kind, message });
  }

  private note(line: string): void {
    this.hash = fnv(this.hash, line);
    if (this.opts.trace && this.trace.length < TRACE_LINES_MAX) this.trace.push(`${this.now} ${line}`);
  }

  // ---- nodes ---------------------------------------------------------------------------------

  private startWorker(name: string, slots: number): void {
    const inc = (this.incarnations.get(name) ?? 0) + 1;
    this.incarnations.set(name, inc);
    const w = new SimWorker(name, inc, slots, this, this.peers.transport(name), () => (this.touched = true), this.opts.breakage === 'worker_drops_chunk');
    this.workers.set(name, w);
    this.workerLives.push(w);
    this.alive.add(name);
    this.declaredDead.delete(name);
  }

  private startAssigner(name: string): SimAssigner {
    const inc = (this.incarnations.get(name) ?? 0) + 1;
    this.incarnations.set(name, inc);
    const deaths: string[] = [];
    this.deaths.set(name, deaths);
    const clock: Clock = { nowMs: () => this.now, after: (delayMs, fn) => this.at(this.now + Math.max(0, delayMs), fn) };
    const sight: AssignerSight = {
      view: () => ({ known: () => this.knownWorkers(), takeDeaths: () => deaths.splice(0), assigner: (n) => this.assignerState(n) }),
      buddy: () => this.order.get(name) ?? null,
      liveAssigners: () => this.scenario.assigners.filter((n) => !this.declaredDead.has(n)),
      watch: (listener) => {
        this.clusterStepListeners.add(listener);
        return () => this.clusterStepListeners.delete(listener);
      },
    };
    // Its warnings are read for one thing: a takeover of the same life twice is a finding.
    const log = ASSIGNER_LOG.child({ sim: this.simId, taker: name, life: inc });
    const a = new SimAssigner(name, inc, { clock, links: this.peers.transport(name), sight, log });
    this.assigners.set(name, a);
    this.alive.add(name);
    this.declaredDead.delete(name);
    a.driver.start();
    return a;
  }

  /** A buddy_lost warning of one of this simulation's Assigner lives. */
  takeover(taker: string, inc: number, lost: string): void {
    const key = `${taker}#${inc}>${lost}#${this.incarnations.get(lost) ?? 0}${this.declaredDead.has(lost) ? ' dead' : ''}`;
    this.note(`takeover ${key}`);
    if (this.takeovers.has(key)) {
      this.violations.push({ seed: this.scenario.seed, atMs: this.now, run: '-', client: taker, kind: 'retaken', message: `${taker} took over ${lost}'s runs again (${key})` });
    }
    this.takeovers.add(key);
  }

  private startGateway(): void {
    const name = `g${++this.gatewayEpoch}`;
    const g = new SimGateway(
      { name, epoch: this.gatewayEpoch, resumeKey: RESUME_KEY, monitors: [MONITOR], assigners: this.scenario.assigners, runsRetainedMax: 2000 },
      {
        nowMs: () => this.now,
        at: (atMs, fn) => this.at(atMs, fn),
        sendPeer: (to, msg) => this.peers.send(name, to, msg),
        sendClient: (conn, event) => this.toClient(conn, event),
      },
    );
    this.alive.add(name);
    this.gateway = g;
  }

  private toClient(conn: number, event: RunEvent): void {
    const c = this.conns.get(conn);
    if (!c || !c.open) return;
    this.wire.send(c.gateway.name, c.client.name, { conn, event });
    if (this.opts.breakage === 'gateway_duplicates' && event.type === 'output' && ++this.dupCount % 3 === 0) this.wire.send(c.gateway.name, c.client.name, { conn, event });
  }

  connect(client: SimClient): number | null {
    const g = this.gateway;
    if (!g || !this.alive.has(g.name)) return null;
    const conn = ++this.nextConn;
    this.conns.set(conn, { client, gateway: g, open: true });
    g.onClientOpen(conn);
    return conn;
  }

  send(conn: number, req: ClientRequest): void {
    const c = this.conns.get(conn);
    if (!c || !c.open) return;
    this.wire.send(c.client.name, c.gateway.name, { conn, req });
  }

  private cutConn(conn: number): void {
    const c = this.conns.get(conn);
    if (!c || !c.open) return;
    c.open = false;
    this.wire.reset(c.client.name, c.gateway.name);
    this.wire.reset(c.gateway.name, c.client.name);
    c.gateway.onClientClose(conn);
    c.client.cut(conn);
  }

  private arriveWire(w: ClientWire): void {
    const c = this.conns.get(w.conn);
    if (!c || !c.open) return;
    this.events++;
    if (w.req) {
      this.note(`${c.client.name}>${c.gateway.name} ${w.req.type}`);
      c.gateway.onClientMessage(w.conn, w.req);
    } else if (w.event) {
      this.note(`${c.gateway.name}>${c.client.name} ${w.event.type}${w.event.type === 'output' ? ` ${w.event.seq}` : ''}`);
      c.client.onEvent(w.conn, w.event);
    }
  }

  private arrive(from: string, to: string, msg: PeerMessage): void {
    this.events++;
    this.note(`${from}>${to} ${describeMessage(msg)}`);
    if (to === MONITOR) return this.monitorAnswer(from, msg as RelayOutgoing);
    const a = this.assigners.get(to);
    if (a) return void a.driver.onMessage(from, msg as RunMessage);
    const w = this.workers.get(to);
    if (w) {
      this.touched = true;
      return w.driver.onMessage(from, msg as RunMessage);
    }
    const g = this.gateway;
    if (g && g.name === to && isGatewayBound(msg)) g.onPeerMessage(from, msg);
  }

  // ---- the Monitors --------------------------------------------------------------------------

  private rows(): TableRow[] {
    const status = (n: string): TableRow['status'] => (this.declaredDead.has(n) ? 'dead' : 'alive');
    const rows: TableRow[] = [];
    for (const name of this.scenario.assigners) {
      const a = this.assigners.get(name);
      const held = a && this.alive.has(name) ? Math.min(a.core.runCount, SIM_ASSIGNER.runsMax) : 0;
      rows.push({ name, role: 'assigner', status: status(name), incarnation: this.incarnations.get(name) ?? 0, monitor: MONITOR, load: { psiCpu: 0, psiMemory: 0, psiIo: 0, slotsBusy: held, slotsFree: SIM_ASSIGNER.runsMax - held }, languages: [] });
    }
    for (const [name, w] of this.workers) rows.push({ name, role: 'worker', status: status(name), incarnation: w.incarnation, monitor: MONITOR, load: w.load(), languages: [SIM_LANGUAGE] });
    return rows;
  }

  private monitorAnswer(from: string, msg: RelayOutgoing): void {
    if (msg.type === 'table_request') {
      this.peers.send(MONITOR, from, { type: 'table_reply', from: MONITOR, requestId: msg.requestId, leader: MONITOR, term: 1, rows: this.rows() });
    } else if (msg.type === 'least_loaded_assigner_request') {
      this.peers.send(MONITOR, from, { type: 'least_loaded_assigner_reply', from: MONITOR, requestId: msg.requestId, assigner: leastLoadedAssigner(this.rows() as unknown as WireEntry[]) });
    }
  }

  /** The Workers' loads the Monitors' heartbeats carry: every Worker life not declared dead. A
   * Worker that refuted shows a higher incarnation of the same life. */
  private knownWorkers(): KnownWorker[] {
    return [...this.workers.values()]
      .filter((w) => !this.declaredDead.has(w.name))
      .map((w) => {
        const incarnation = this.incarnations.get(w.name) as number;
        const life = this.opts.breakage === 'view_without_life' ? incarnation : w.incarnation;
        return { name: w.name, incarnation, life, load: w.load(), languages: [SIM_LANGUAGE], monitor: MONITOR, heardAtMs: this.now };
      });
  }

  /** The Monitors' word on an Assigner: its newest life, dead once declared so. */
  private assignerState(name: string): AssignerState | undefined {
    const incarnation = this.incarnations.get(name);
    if (incarnation === undefined || !this.scenario.assigners.includes(name)) return undefined;
    // Assigners do not refute here (no partition reaches them long enough): the life is the incarnation.
    return { name, incarnation, life: incarnation, status: this.declaredDead.has(name) ? 'dead' : 'alive', buddy: this.order.get(name) ?? null };
  }

  /**
   * A step of every Assigner's cluster core, where the real driver reads the view: on every
   * heartbeat beat (its own heartbeat and its Monitors', all on the wall-clock grid), and a
   * message's hop after news (a death goes out in the Monitor's step that declared it; an order
   * is a message).
   */
  private clusterSteps(): void {
    for (const listener of [...this.clusterStepListeners]) listener();
  }

  private clusterStepsSoon(): void {
    this.at(this.now + CLUSTER_HOP_MS, () => this.clusterSteps());
  }

  /** The Monitors declare a crashed node dead: a Worker's death reaches every Assigner's view. */
  private declareDead(node: string, incarnation: number): void {
    if (this.incarnations.get(node) !== incarnation || this.alive.has(node)) return;
    this.declaredDead.add(node);
    this.note(`declared dead ${node}`);
    if (!this.workers.has(node)) return;
    // Bounded as AssignerView bounds its deaths: one entry per Worker death, a handful per seed.
    for (const [name, deaths] of this.deaths) if (this.alive.has(name) && deaths.length < WORKER_DEATHS_MAX) deaths.push(node);
    this.clusterStepsSoon();
  }

  /** The leader orders the pair (re)formed (a message): each driver reads it in its next cluster step. */
  private pair(): void {
    const [x, y] = this.scenario.assigners;
    if (!this.alive.has(x) || !this.alive.has(y)) return;
    this.note(`pair ${x} ${y}`);
    this.order.set(x, y);
    this.order.set(y, x);
    this.clusterStepsSoon();
  }

  // ---- faults --------------------------------------------------------------------------------

  private activeGatewayName(): string {
    return this.gateway?.name ?? 'g1';
  }

  private fault(f: RunpathFault): void {
    this.note(`fault ${JSON.stringify(f)}`);
    switch (f.kind) {
      case 'crash':
        return this.crash(f.node, f.restartAfterMs);
      case 'gateway_crash': {
        const g = this.gateway;
        if (!g || !this.alive.has(g.name)) return;
        g.crash();
        this.alive.delete(g.name);
        this.peers.crash(g.name);
        for (const [conn, c] of this.conns) if (c.gateway === g) this.cutConn(conn);
        this.gateway = null;
        this.at(this.now + f.failoverMs, () => this.startGateway());
        return;
      }
      case 'reset': {
        const name = (n: string) => (n === 'gateway' ? this.activeGatewayName() : n);
        return this.peers.reset(name(f.from), name(f.to));
      }
      case 'partition': {
        const node = f.node === 'gateway' ? this.activeGatewayName() : f.node;
        const id = ++this.nextConn;
        this.peers.addPartition(id, [node]);
        this.at(f.untilMs, () => {
          this.peers.removePartition(id);
          // Cut off past the suspicion bound, a Worker was suspected: heard again, it refutes, so
          // the Monitors' view shows a higher incarnation of the same life (nothing of it is lost).
          const w = this.workers.get(node);
          if (w && this.alive.has(node) && f.untilMs - f.atMs >= SUSPECT_AFTER_MS) {
            const inc = (this.incarnations.get(node) as number) + 1;
            this.incarnations.set(node, inc);
            this.note(`refuted ${node} incarnation ${inc} life ${w.incarnation}`);
          }
        });
        return;
      }
      case 'client_cut': {
        const c = this.clients.find((x) => x.name === f.client);
        for (const [conn, cc] of this.conns) if (cc.client === c && cc.open) this.cutConn(conn);
        return;
      }
      default: {
        const never: never = f;
        throw new Error(`unknown fault ${JSON.stringify(never)}`);
      }
    }
  }

  private crash(node: string, restartAfterMs: number): void {
    if (!this.alive.has(node)) return;
    const inc = this.incarnations.get(node) as number;
    this.alive.delete(node);
    this.peers.crash(node);
    const w = this.workers.get(node);
    if (w) {
      this.touched = true;
      w.driver.stop();
      this.at(this.now + restartAfterMs, () => this.startWorker(node, w.slots));
    }
    const a = this.assigners.get(node);
    if (a) {
      a.driver.stop(); // not alive: the acks it flushes go nowhere
      this.at(this.now + restartAfterMs, () => {
        // Back empty, next incarnation, no order yet: its buddy's driver sees the new life and
        // takes the runs over if the death was not declared yet; then the leader re-pairs them.
        this.order.set(node, null);
        this.startAssigner(node);
        this.at(this.now + REPAIR_AFTER_MS, () => this.pair());
      });
    }
    this.at(this.now + this.scenario.detectMs, () => this.declareDead(node, inc));
  }

  // ---- the run -------------------------------------------------------------------------------

  private quiet(): boolean {
    return this.clients.every((c) => c.settled);
  }

  async run(): Promise<RunpathResult> {
    const s = this.scenario;
    running.set(this.simId, this);
    for (const w of s.workers) this.startWorker(w.name, w.slots);
    for (const a of s.assigners) this.startAssigner(a);
    this.alive.add(MONITOR);
    this.startGateway();
    this.pair();
    // The pair is formed before the first client: each driver reads its order now.
    for (const a of this.assigners.values()) a.driver.pollView();
    const beat = (): void => {
      this.clusterSteps();
      this.at(onBeat(this.now + 1, CLUSTER_BEAT_MS, 0), beat);
    };
    this.at(CLUSTER_BEAT_MS, beat);
    for (const plan of s.clients) {
      const c = new SimClient(plan, this);
      this.clients.push(c);
      this.at(plan.startAtMs, () => c.begin());
    }
    let lastFaultMs = 0;
    for (const f of s.faults) {
      this.at(f.atMs, () => this.fault(f));
      lastFaultMs = Math.max(lastFaultMs, f.kind === 'partition' ? f.untilMs : f.kind === 'crash' ? f.atMs + f.restartAfterMs : f.kind === 'gateway_crash' ? f.atMs + f.failoverMs : f.atMs);
    }
    try {
      await this.loop(lastFaultMs);
    } catch (err) {
      // A broken assertion in a core (or the glue) is a finding like any other: it names its seed.
      this.violations.push({ seed: s.seed, atMs: this.now, run: '-', client: '-', kind: 'exception', message: (err as Error).stack ?? String(err) });
    } finally {
      running.delete(this.simId);
    }
    return this.finish();
  }

  private async loop(lastFaultMs: number): Promise<void> {
    let quietSinceMs: number | null = null;
    while (this.queue.size > 0) {
      const next = this.queue.pop() as { atMs: number; item: Event };
      if (next.atMs > SIM_MS_MAX) break;
      this.now = next.atMs;
      if (next.item.cancelled) continue;
      next.item.fn();
      if (this.touched) {
        this.touched = false;
        // The Workers' pumps and the twins' programs run on promises: let them all settle now,
        // before virtual time moves on.
        await drained();
      }
      if (this.now >= lastFaultMs && this.quiet()) {
        quietSinceMs ??= this.now;
        if (this.now - quietSinceMs >= SETTLE_MS) break;
      } else quietSinceMs = null;
    }
  }

  private finish(): RunpathResult {
    const s = this.scenario;
    const end = this.now;
    this.violations.push(...checkRuns(s.seed, end, this.clients, this.workerLives, (w) => this.workers.get(w.name) !== w || !this.alive.has(w.name)));
    const statuses: Record<string, number> = {};
    let accepted = 0;
    for (const c of this.clients) {
      const key = c.main.status ?? c.phase;
      statuses[key] = (statuses[key] ?? 0) + 1;
      if (c.id !== null) accepted++;
    }
    return { seed: s.seed, violations: this.violations, traceHash: this.hash.toString(16).padStart(8, '0'), events: this.events, simMs: end, accepted, messagesLost: this.peers.counts.lost + this.wire.counts.lost, statuses, trace: this.trace };
  }
}

export function simulateRunpath(scenario: RunpathScenario, opts: RunpathOptions = {}): Promise<RunpathResult> {
  return new RunpathSim(scenario, opts).run();
}
