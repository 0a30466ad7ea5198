import assert from 'node:assert/strict';
import type { ClusterMessage, NodeName, Role } from '../cluster/messages.js';
import { ClusterNode, type ClusterEvent } from '../cluster/node.js';
import type { StrengthOptions } from '../cluster/strength.js';
import { timerFireAtMs, type PersistentState, type StepOutput, type TimerId } from '../cluster/output.js';
import { randomInt } from '../cluster/random.js';
import { deadBoundMs, resolveTiming, type ClusterTiming } from '../cluster/timing.js';
import {
  contractBounds,
  InvariantChecker,
  type ContractBounds,
  type CrashCheck,
  type MonitorsCheck,
  type SimView,
  type Violation,
} from './checkers.js';
import { EventQueue } from './event-queue.js';
import { faultEndMs, isNetworkFault, NetworkHealth, type Fault } from './faults.js';
import { deliveryBoundMs, SimNetwork, type NetworkOptions } from './network.js';
import { Xoshiro128 } from './prng.js';

// A whole cluster in one process: virtual clock, one event queue, a lossy network, crashes and
// restarts — all drawn from one seeded PRNG, so a seed replays the same run event for event.

/** Nodes in one simulation: the bench's 1,000 plus room. */
export const SIM_NODES_MAX = 2_000;
/** Events one run may process; a run that needs more is looping, not simulating. */
export const SIM_EVENTS_MAX = 50_000_000;
/** Period of the convergence check while settling after durationMs. */
export const SETTLE_CHECK_INTERVAL_MS = 100;

export interface SimNodeSpec {
  name: NodeName;
  role: Role;
  languages?: string[];
}

/** Hooks for measurement (the bench); they must not change the run. */
export interface SimObserver {
  beforeStep?(name: NodeName, event: ClusterEvent): void;
  afterStep?(name: NodeName, node: ClusterNode, out: StepOutput, nowMs: number): void;
  /** A message handed to the network (before loss). */
  onSend?(from: NodeName, to: NodeName, message: ClusterMessage): void;
}

export interface SimulateOptions {
  seed: number;
  nodes: SimNodeSpec[];
  /** Run at least this long; faults should end by then. */
  durationMs: number;
  faults: Fault[];
  network?: Partial<NetworkOptions>;
  /** What the nodes run with. Checkers hold them to `contractTiming` (default: the defaults), so a
   * test can run deliberately broken nodes and see the checkers fail. */
  nodeTiming?: Partial<ClusterTiming>;
  contractTiming?: Partial<ClusterTiming>;
  /** 'amnesia' models a driver that never persists: a restart forgets term, vote and
   * incarnation. Only for proving the checkers catch what persistence prevents. */
  persistence?: 'durable' | 'amnesia';
  /** After durationMs, keep running until the tables converge (b) and every crash check ran. */
  settle?: boolean;
  /** Node-start spread: each node boots at a random time in [0, bootSpreadMs). */
  bootSpreadMs?: number;
  observer?: SimObserver;
  /** The Monitor leader keeps the Assigners at this minimum, in pairs, by promoting Empty nodes
   * (StrengthKeeper); off when absent. */
  strength?: Pick<StrengthOptions, 'assignersMin'> & Partial<StrengthOptions>;
}

export interface SimResult {
  seed: number;
  violations: Violation[];
  /** Hash of every processed event: equal seeds must give equal hashes. */
  traceHash: string;
  events: number;
  endMs: number;
  messagesSent: number;
  messagesLost: number;
  crashChecks: { checked: number; skipped: number };
  /** Hydra wins, and (h) Monitor-count checks run and excused. */
  hydra: { wins: number; checked: number; skipped: number };
  /** Virtual ms from the last fault until the tables converged (null if they never did). */
  settleMs: number | null;
}

type SimEvent =
  | { kind: 'boot'; node: number }
  | { kind: 'deliver'; node: number; from: NodeName; message: ClusterMessage }
  | { kind: 'timer'; node: number; life: number; id: TimerId; atMs: number }
  | { kind: 'fault'; fault: Fault; id: number }
  | { kind: 'heal'; fault: Fault; id: number }
  | { kind: 'crash_check'; check: CrashCheck }
  | { kind: 'monitors_check'; check: MonitorsCheck };

interface SimNode {
  spec: SimNodeSpec;
  index: number;
  node: ClusterNode | null;
  persisted: PersistentState | null;
  /** Bumped on every crash so a dead life's timers are ignored. */
  life: number;
  timerAt: Map<TimerId, number>;
  upSinceMs: number;
  monitorSinceMs: number;
  roleSinceMs: number;
  downSpans: Array<{ fromMs: number; toMs: number }>;
}

const MESSAGE_CODES: Record<ClusterMessage['type'], number> = {
  heartbeat: 1, heartbeat_ack: 2, gossip_push: 3, gossip_pull: 4, gossip_entries: 5, monitor_heartbeat: 6,
  least_loaded_assigner_request: 7, least_loaded_assigner_reply: 8, vote_request: 9, vote_reply: 10,
  leader_heartbeat: 11, leader_heartbeat_reply: 12, order_role: 13,
  hydra_vote_request: 14, hydra_vote_reply: 15, hydra_won: 16, hydra_promote: 17, monitor_announce: 18, hydra_won_ack: 19,
};

export class Simulation implements SimView {
  nowMs = 0;
  readonly names: NodeName[];
  readonly checker: InvariantChecker;
  readonly bounds: ContractBounds;
  readonly health = new NetworkHealth();
  private readonly options: SimulateOptions;
  private readonly rng: Xoshiro128;
  private readonly network: SimNetwork;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly nodes = new Map<NodeName, SimNode>();
  private readonly byIndex: SimNode[] = [];
  private readonly seedMonitors: NodeName[];
  /** Every node that has been a Monitor in this run: the leader check's electorate. */
  private readonly everMonitors = new Set<NodeName>();
  /** Pinned Assigners are paired in the order listed, as the lab config pairs them. */
  private readonly buddies = new Map<NodeName, NodeName>();
  /** When the last pending Monitor-count check falls due. */
  private lastCheckDueMs = 0;
  private h1 = 0x811c9dc5;
  private h2 = 0x01000193;
  private events = 0;
  private nextFaultId = 1;
  private sent = 0;
  private lost = 0;
  lastFaultMs = 0;

  constructor(options: SimulateOptions) {
    assert.ok(options.nodes.length > 0 && options.nodes.length <= SIM_NODES_MAX, 'node count out of range');
    this.options = options;
    this.rng = new Xoshiro128(options.seed);
    this.network = new SimNetwork(options.network ?? {}, this.rng.fork());
    this.names = options.nodes.map((n) => n.name);
    this.seedMonitors = options.nodes.filter((n) => n.role === 'monitor').map((n) => n.name);
    for (const m of this.seedMonitors) this.everMonitors.add(m);
    const assigners = options.nodes.filter((n) => n.role === 'assigner').map((n) => n.name);
    for (let i = 0; i + 1 < assigners.length; i += 2) {
      this.buddies.set(assigners[i] as NodeName, assigners[i + 1] as NodeName);
      this.buddies.set(assigners[i + 1] as NodeName, assigners[i] as NodeName);
    }
    const contract = resolveTiming(options.contractTiming);
    this.bounds = contractBounds(contract, deliveryBoundMs(this.network.options), this.seedMonitors.length);
    this.checker = new InvariantChecker(this, this.health, this.bounds);
    const spread = options.bootSpreadMs ?? contract.heartbeatIntervalMs;
    for (const spec of options.nodes) this.addNode(spec, randomInt(this.rng, Math.max(1, spread)));
    for (const fault of options.faults) this.schedule(fault);
  }

  node(name: NodeName): ClusterNode | null {
    return this.nodes.get(name)?.node ?? null;
  }

  upSinceMs(name: NodeName): number {
    return this.get(name).upSinceMs;
  }

  monitorSinceMs(name: NodeName): number {
    return this.get(name).monitorSinceMs;
  }

  roleSinceMs(name: NodeName): number {
    return this.get(name).roleSinceMs;
  }

  downBetween(name: NodeName, fromMs: number, toMs: number): boolean {
    const n = this.get(name);
    if (n.node === null && n.downSpans.length === 0) return true; // never booted yet
    return n.downSpans.some((s) => s.fromMs <= toMs && s.toMs >= fromMs);
  }

  /** Adds a fault (or an injected message) at its time; may be called while running. */
  schedule(fault: Fault): void {
    assert.ok(fault.atMs >= this.nowMs, 'cannot schedule a fault in the past');
    const id = this.nextFaultId++;
    this.queue.push(fault.atMs, { kind: 'fault', fault, id });
    if (fault.kind === 'partition' || fault.kind === 'drop') {
      assert.ok(fault.untilMs >= fault.atMs, 'fault ends before it starts');
      this.queue.push(fault.untilMs, { kind: 'heal', fault, id });
    }
    if (isNetworkFault(fault)) this.health.add(fault.atMs, fault.untilMs);
    if (fault.kind !== 'load') this.lastFaultMs = Math.max(this.lastFaultMs, faultEndMs(fault));
  }

  /** Processes every event up to and including untilMs; false if a violation stopped it. */
  runUntil(untilMs: number): boolean {
    for (;;) {
      const t = this.queue.peekTime();
      if (t === undefined || t > untilMs) break;
      const ev = this.queue.pop();
      if (ev === undefined) break;
      this.nowMs = ev.atMs;
      this.process(ev.item);
      if (this.checker.violations.length > 0) return false;
    }
    this.nowMs = Math.max(this.nowMs, untilMs);
    return true;
  }

  /** Runs to durationMs, then (with settle) until converged or the quiescence bound passes. */
  run(): SimResult {
    const ok = this.runUntil(this.options.durationMs);
    let settleMs: number | null = null;
    if (ok && this.options.settle !== false) settleMs = this.settle();
    return this.result(settleMs);
  }

  /** Runs until (b) and (e) hold, failing whichever misses its bound; returns the settle time. */
  private settle(): number | null {
    const start = Math.max(this.options.durationMs, this.lastFaultMs + this.bounds.settledMs);
    const convergedBy = this.lastFaultMs + this.bounds.quiescenceMs;
    const leaderBy = convergedBy + this.bounds.electionMs;
    let settleMs: number | null = null;
    for (let t = start; this.runUntil(t); t += SETTLE_CHECK_INTERVAL_MS) {
      const unconverged = this.checker.convergence();
      const leaderless = this.checker.leadership([...this.everMonitors].sort());
      if (unconverged === null && leaderless === null) {
        settleMs = t - this.lastFaultMs;
        break;
      }
      if (unconverged !== null && t >= convergedBy) {
        this.checker.fail('b', `not converged ${t - this.lastFaultMs} ms after the last fault: ${unconverged}`);
        return null;
      }
      if (leaderless !== null && t >= leaderBy) {
        this.checker.fail('e', `no single leader ${t - this.lastFaultMs} ms after the last fault: ${leaderless}`);
        return null;
      }
    }
    // Crash checks still pending fall due within these bounds.
    this.runUntil(Math.max(this.nowMs, this.lastFaultMs + this.bounds.ownerDeadMs + this.bounds.gossipMs + 1, this.lastCheckDueMs + 1));
    return settleMs;
  }

  private result(settleMs: number | null): SimResult {
    return {
      seed: this.options.seed,
      violations: this.checker.violations,
      traceHash: `${(this.h1 >>> 0).toString(16).padStart(8, '0')}${(this.h2 >>> 0).toString(16).padStart(8, '0')}`,
      events: this.events,
      endMs: this.nowMs,
      messagesSent: this.sent,
      messagesLost: this.lost,
      crashChecks: { ...this.checker.crashChecks },
      hydra: { ...this.checker.hydra },
      settleMs,
    };
  }

  private get(name: NodeName): SimNode {
    const n = this.nodes.get(name);
    assert.ok(n !== undefined, `unknown node ${name}`);
    return n;
  }

  private addNode(spec: SimNodeSpec, bootAtMs: number): void {
    assert.ok(!this.nodes.has(spec.name), `duplicate node ${spec.name}`);
    const n: SimNode = {
      spec,
      index: this.byIndex.length,
      node: null,
      persisted: null,
      life: 0,
      timerAt: new Map(),
      upSinceMs: bootAtMs,
      monitorSinceMs: bootAtMs,
      roleSinceMs: bootAtMs,
      downSpans: [],
    };
    this.nodes.set(spec.name, n);
    this.byIndex.push(n);
    this.queue.push(bootAtMs, { kind: 'boot', node: n.index });
  }

  private process(ev: SimEvent): void {
    assert.ok(++this.events <= SIM_EVENTS_MAX, 'simulation event budget exhausted');
    switch (ev.kind) {
      case 'boot':
        return this.boot(this.byIndex[ev.node] as SimNode);
      case 'deliver': {
        const n = this.byIndex[ev.node] as SimNode;
        if (n.node === null) return;
        this.trace(2, n.index, MESSAGE_CODES[ev.message.type]);
        return this.stepNode(n, { type: 'receive', from: ev.from, message: ev.message });
      }
      case 'timer': {
        const n = this.byIndex[ev.node] as SimNode;
        if (n.node === null || n.life !== ev.life || n.timerAt.get(ev.id) !== ev.atMs) return; // superseded
        this.trace(3, n.index, ev.id.length);
        return this.stepNode(n, { type: 'timer', id: ev.id });
      }
      case 'fault':
        return this.applyFault(ev.fault, ev.id);
      case 'heal':
        return this.heal(ev.fault, ev.id);
      case 'crash_check':
        this.trace(6, 0, 0);
        return this.checker.runCrashCheck(ev.check);
      case 'monitors_check':
        this.trace(8, 0, 0);
        return this.checker.runMonitorsCheck(ev.check);
      default: {
        const impossible: never = ev;
        throw new Error(`unknown sim event ${JSON.stringify(impossible)}`);
      }
    }
  }

  private boot(n: SimNode): void {
    this.trace(1, n.index, n.life);
    n.node = new ClusterNode({
      config: {
        name: n.spec.name,
        role: n.spec.role,
        seedMonitors: this.seedMonitors,
        labNodes: this.names,
        buddy: this.buddies.get(n.spec.name) ?? null,
        languages: n.spec.languages ?? ['c', 'python'],
        ...(this.options.strength === undefined
          ? {}
          : {
              strength: {
                nonPromotable: new Set<NodeName>(),
                orderRetryMs: 5_000,
                settleMs: 2 * deadBoundMs(resolveTiming(this.options.nodeTiming)),
                ...this.options.strength,
              },
            }),
        ...(this.options.nodeTiming === undefined ? {} : { timing: this.options.nodeTiming }),
      },
      persisted: n.persisted,
      rng: this.rng.fork(),
      nowMs: this.nowMs,
      // The real nodes' grid (src/agent/driver.ts), with the lab's clocks in perfect step.
      grid: { wallOffsetMs: 0 },
    });
    n.upSinceMs = this.nowMs;
    n.monitorSinceMs = this.nowMs;
    n.roleSinceMs = this.nowMs;
    const open = n.downSpans[n.downSpans.length - 1];
    if (open !== undefined && open.toMs === Number.POSITIVE_INFINITY) open.toMs = this.nowMs;
    this.stepNode(n, { type: 'tick' });
  }

  private stepNode(n: SimNode, event: ClusterEvent): void {
    const node = n.node;
    assert.ok(node !== null, 'step of a crashed node');
    const obs = this.options.observer;
    obs?.beforeStep?.(n.spec.name, event);
    let out: StepOutput;
    try {
      out = node.step(event, this.nowMs);
    } catch (err) {
      this.checker.fail('exception', `${n.spec.name}: ${(err as Error).message}`);
      return;
    }
    obs?.afterStep?.(n.spec.name, node, out, this.nowMs);
    if (out.persist !== null && this.options.persistence !== 'amnesia') n.persisted = out.persist; // durable before anything is sent
    for (const note of out.notes) {
      if (note.kind === 'monitor_changed') n.monitorSinceMs = this.nowMs;
      if (note.kind === 'role_changed') n.roleSinceMs = this.nowMs;
      if (note.kind === 'role_changed' && note.to === 'monitor') this.everMonitors.add(n.spec.name);
    }
    for (const m of out.messages) this.send(n.spec.name, m.to, m.message);
    // As the real driver arms them (src/agent/driver.ts): periodic timers on their beat.
    for (const t of out.timers) this.setTimer(n, t.id, timerFireAtMs(t, node.timing, node.grid));
    this.checker.afterStep(n.spec.name, node, out);
  }

  private setTimer(n: SimNode, id: TimerId, atMs: number): void {
    if (n.timerAt.get(id) === atMs || !Number.isFinite(atMs)) return;
    n.timerAt.set(id, atMs);
    this.queue.push(Math.max(atMs, this.nowMs), { kind: 'timer', node: n.index, life: n.life, id, atMs });
  }

  private send(from: NodeName, to: NodeName, message: ClusterMessage): void {
    this.sent += 1;
    this.options.observer?.onSend?.(from, to, message);
    const target = this.nodes.get(to);
    const delays = target === undefined ? [] : this.network.route(from, to);
    if (delays.length === 0) this.lost += 1;
    for (const d of delays) this.queue.push(this.nowMs + d, { kind: 'deliver', node: (target as SimNode).index, from, message });
  }

  private applyFault(f: Fault, id: number): void {
    this.trace(4, id, f.kind.length);
    switch (f.kind) {
      case 'crash':
        return this.crash(this.get(f.node));
      case 'restart': {
        const n = this.get(f.node);
        if (n.node !== null) return;
        return this.boot(n);
      }
      case 'partition':
        return this.network.addPartition(id, f.side, this.nowMs);
      case 'drop':
        return this.network.addDrop(id, f.probability);
      case 'load': {
        const n = this.get(f.node);
        if (n.node !== null) this.stepNode(n, { type: 'load', load: f.load });
        return;
      }
      case 'inject':
        return this.send(f.from, f.to, f.message);
      default: {
        const impossible: never = f;
        throw new Error(`unknown fault ${JSON.stringify(impossible)}`);
      }
    }
  }

  private heal(f: Fault, id: number): void {
    this.trace(5, id, 0);
    if (f.kind === 'partition') this.network.removePartition(id);
    else if (f.kind === 'drop') this.network.removeDrop(id);
  }

  private crash(n: SimNode): void {
    const node = n.node;
    if (node === null) return;
    for (const c of this.checker.onCrash(n.spec.name, node)) this.queue.push(c.atMs, { kind: 'crash_check', check: c.check });
    const monitors = this.checker.onMonitorCrash(n.spec.name, node);
    if (monitors !== null) {
      this.queue.push(monitors.atMs, { kind: 'monitors_check', check: monitors.check });
      this.lastCheckDueMs = Math.max(this.lastCheckDueMs, monitors.atMs);
    }
    n.node = null;
    n.life += 1;
    n.timerAt.clear();
    n.downSpans.push({ fromMs: this.nowMs, toMs: Number.POSITIVE_INFINITY });
    this.trace(7, n.index, n.life);
  }

  /** The sides of the partitions in force now, with when each began. */
  partitions(): Array<{ side: ReadonlySet<NodeName>; sinceMs: number }> {
    return this.network.activePartitions();
  }

  /** Folds one event into the trace hash (two 32-bit FNV-style lanes). */
  private trace(kind: number, a: number, b: number): void {
    const t = this.nowMs;
    this.h1 = Math.imul(this.h1 ^ t, 0x01000193) ^ Math.imul(kind * 131 + a, 0x85ebca6b) ^ b;
    this.h2 = Math.imul(this.h2 ^ (kind * 7919 + a * 31 + b), 0xc2b2ae35) ^ t;
  }
}

/** Runs one simulation to its end. */
export function simulate(options: SimulateOptions): SimResult {
  return new Simulation(options).run();
}
