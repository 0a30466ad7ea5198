import assert from 'node:assert/strict';
import { AssignerView } from './assigner-view.js';
import { HeartbeatClient } from './heartbeat-client.js';
import type { ClusterMessage, Load, NodeName, OrderRole, Role } from './messages.js';
import { MonitorCore } from './monitor.js';
import type { StrengthOptions } from './strength.js';
import { newOutbox, type Outbox, type PersistentState, type StepOutput, type TimerId, type TimerRequest } from './output.js';
import type { Random } from './random.js';
import { resolveTiming, type ClusterTiming } from './timing.js';

// One node agent's cluster state machine: every role heartbeats to its Monitor; a Monitor also
// runs the table, detector, gossip and election; an Assigner also keeps the Workers' loads.
//
// Driver contract (the simulator does exactly this; a real driver does it with sockets):
//   1. Boot: `new ClusterNode({ config, persisted: readPersisted() ?? null, rng, nowMs })`, then
//      `step({ type: 'tick' }, now)`.
//   2. For every StepOutput, in this order: if `persist` is non-null write it durably; send each
//      of `messages` to its `to`; for each of `timers`, (re)arm the one timer of that id to fire
//      at `atMs`, replacing the previous one; log or count `notes`.
//   3. Feed events: a timer firing → `{ type: 'timer', id }`; a frame from an authenticated peer
//      → `parseClusterMessage(decoded, peer)`, and if ok `{ type: 'receive', from: peer, message }`;
//      a PSI/slot sample → `{ type: 'load', load }`. A `tick` at any time is harmless.
// The node reads no clock and draws no randomness except `nowMs` and `rng`.

export type ClusterEvent =
  /** Run whatever is due (the driver may tick at any rate; timers say when something is due). */
  | { type: 'tick' }
  | { type: 'timer'; id: TimerId }
  /** A validated message from an authenticated peer (see parseClusterMessage). */
  | { type: 'receive'; from: NodeName; message: ClusterMessage }
  /** A fresh PSI/slot sample from the machine. */
  | { type: 'load'; load: Load };

export interface ClusterNodeConfig {
  name: NodeName;
  role: Role;
  /** An Assigner's buddy at boot: the lab config pairs its pinned Assigners in order. */
  buddy?: NodeName | null;
  /** The Monitors named in the lab config: where a booting node first reports. */
  seedMonitors: readonly NodeName[];
  /** The agent's process id, for the cluster view. */
  pid?: number;
  /** Elastic strength for this node's Monitor role (the simulator leaves it out). */
  strength?: StrengthOptions;
  languages: readonly string[];
  timing?: Partial<ClusterTiming>;
}

export interface ClusterNodeInit {
  config: ClusterNodeConfig;
  /** What the driver persisted before the last crash, or null on first boot. */
  persisted: PersistentState | null;
  rng: Random;
  nowMs: number;
  /** When to send the first heartbeat; defaults to nowMs. The simulator staggers it. */
  firstHeartbeatAtMs?: number;
}

/** A fresh node; a restart comes back one incarnation higher, so its old "dead" is overridden. */
export function bootState(persisted: PersistentState | null): PersistentState {
  if (persisted === null) return { incarnation: 1, term: 0, votedFor: null, lastTerm: 0, orderTerm: 0, orderSeq: 0 };
  return { ...persisted, incarnation: persisted.incarnation + 1 };
}

export class ClusterNode {
  readonly name: NodeName;
  readonly timing: ClusterTiming;
  private readonly config: ClusterNodeConfig;
  private readonly rng: Random;
  private readonly client: HeartbeatClient;
  private monitorCore: MonitorCore | null = null;
  private assignerView: AssignerView | null = null;
  private persistent: PersistentState;
  private dirty = true; // the boot incarnation must be written before the first heartbeat
  /** Newest leader term heard of, from acks or this node's own election; orders older are void. */
  private knownLeaderTerm = 0;

  constructor(init: ClusterNodeInit) {
    this.config = init.config;
    this.name = init.config.name;
    this.timing = resolveTiming(init.config.timing);
    this.rng = init.rng;
    this.persistent = bootState(init.persisted);
    this.knownLeaderTerm = this.persistent.orderTerm;
    this.client = new HeartbeatClient({
      ...(init.config.pid !== undefined ? { pid: init.config.pid } : {}),
      name: this.name,
      role: init.config.role,
      buddy: init.config.buddy ?? null,
      incarnation: this.persistent.incarnation,
      seedMonitors: init.config.seedMonitors,
      languages: init.config.languages,
      timing: this.timing,
      firstHeartbeatAtMs: init.firstHeartbeatAtMs ?? init.nowMs,
    });
    this.enterRole(init.config.role, init.nowMs);
  }

  get role(): Role {
    return this.client.role;
  }

  /** The Assigner this one replicates its runs to, by the newest order (null: unpaired). */
  get buddy(): NodeName | null {
    return this.client.buddy;
  }

  get incarnation(): number {
    return this.client.incarnation;
  }

  /** Bumped with every change to what this node advertises (role, Monitor, load). */
  get version(): number {
    return this.client.version;
  }

  /** The Monitor this node reports to now. */
  get reportsTo(): NodeName | null {
    return this.client.monitor;
  }

  /** Read-only use only (checkers, dashboards): the Monitor role's state, if this is a Monitor. */
  get monitor(): MonitorCore | null {
    return this.monitorCore;
  }

  get assigner(): AssignerView | null {
    return this.assignerView;
  }

  persistentState(): PersistentState {
    return { ...this.persistent };
  }

  step(event: ClusterEvent, nowMs: number): StepOutput {
    const out = newOutbox();
    switch (event.type) {
      case 'tick':
      case 'timer':
        break; // whatever is due runs below
      case 'receive':
        this.receive(event.from, event.message, nowMs, out);
        break;
      case 'load':
        this.client.setLoad(event.load);
        break;
      default: {
        const impossible: never = event;
        throw new Error(`unknown event ${JSON.stringify(impossible)}`);
      }
    }
    this.runDue(nowMs, out);
    return this.finish(out);
  }

  private receive(from: NodeName, message: ClusterMessage, nowMs: number, out: Outbox): void {
    if (message.from !== from) return; // one node may not speak for another
    switch (message.type) {
      case 'heartbeat':
        this.monitorCore?.onHeartbeat(message, nowMs, out);
        return;
      case 'heartbeat_ack':
        if (message.leader !== null) this.knownLeaderTerm = Math.max(this.knownLeaderTerm, message.leader.term);
        if (this.client.onAck(from, message, nowMs, out)) this.markIncarnationChanged();
        return;
      case 'monitor_heartbeat':
        this.assignerView?.onMonitorHeartbeat(message, nowMs);
        return;
      case 'least_loaded_assigner_reply':
        return; // answers go to the Gateway, which is not a cluster-protocol role yet
      case 'order_role':
        this.onOrder(message, nowMs, out);
        return;
      case 'gossip_push':
      case 'gossip_pull':
      case 'gossip_entries':
      case 'least_loaded_assigner_request':
      case 'vote_request':
      case 'vote_reply':
      case 'leader_heartbeat':
      case 'leader_heartbeat_reply':
        this.monitorCore?.onMessage(from, message, nowMs, out);
        return;
      default: {
        const impossible: never = message;
        throw new Error(`unknown message ${JSON.stringify(impossible)}`);
      }
    }
  }

  /** Role orders obey only the newest (term, seq): a leader from before a partition is void. */
  private onOrder(order: OrderRole, nowMs: number, out: Outbox): void {
    if (order.target !== this.name) return;
    const p = this.persistent;
    const newer = order.term > p.orderTerm || (order.term === p.orderTerm && order.seq > p.orderSeq);
    if (!newer || order.term < this.knownLeaderTerm) {
      out.notes.push({ kind: 'stale_order', term: order.term, seq: order.seq });
      return;
    }
    p.orderTerm = order.term;
    p.orderSeq = order.seq;
    this.knownLeaderTerm = order.term;
    this.dirty = true;
    if (order.role !== this.client.role) {
      out.notes.push({ kind: 'role_changed', from: this.client.role, to: order.role, term: order.term });
      this.client.setRole(order.role);
      this.enterRole(order.role, nowMs);
    }
    if (order.role === 'assigner' && order.buddy !== undefined && order.buddy !== this.client.buddy) {
      out.notes.push({ kind: 'buddy_changed', from: this.client.buddy, to: order.buddy, term: order.term });
      this.client.setBuddy(order.buddy);
    }
  }

  private enterRole(role: Role, nowMs: number): void {
    this.assignerView = role === 'assigner' ? new AssignerView(3 * this.timing.monitorHeartbeatIntervalMs) : null;
    if (role !== 'monitor') {
      this.monitorCore = null;
      return;
    }
    if (this.monitorCore !== null) return;
    const p = this.persistent;
    this.monitorCore = new MonitorCore({
      self: this.client.selfEntry(),
      seedMonitors: this.config.seedMonitors,
      timing: this.timing,
      election: { term: p.term, votedFor: p.votedFor, lastTerm: p.lastTerm },
      rng: this.rng,
      nowMs,
      ...(this.config.strength ? { strength: this.config.strength } : {}),
    });
  }

  private runDue(nowMs: number, out: Outbox): void {
    const m = this.monitorCore;
    if (m !== null) this.client.setCandidates(m.table.knownMonitors());
    this.client.onTick(nowMs, out);
    if (m === null) return;
    m.syncSelf(this.client.selfEntry(), nowMs);
    m.runDue(nowMs, out);
    this.refuteFromTable(m, nowMs);
    this.knownLeaderTerm = Math.max(this.knownLeaderTerm, m.election.role === 'leader' ? m.election.term : 0);
  }

  /** Gossip may carry a suspicion of this Monitor itself: refute it like any node would. */
  private refuteFromTable(m: MonitorCore, nowMs: number): void {
    const mine = m.table.get(this.name);
    assert.ok(mine !== undefined, 'a Monitor always holds its own row');
    const suspected =
      mine.incarnation === this.client.incarnation && (mine.status !== 'alive' || mine.version > this.client.version);
    if (!suspected && mine.incarnation <= this.client.incarnation) return;
    this.client.refuteAbove(mine.incarnation);
    this.markIncarnationChanged();
    m.syncSelf(this.client.selfEntry(), nowMs);
  }

  private markIncarnationChanged(): void {
    this.persistent.incarnation = this.client.incarnation;
    this.dirty = true;
  }

  private finish(out: Outbox): StepOutput {
    const m = this.monitorCore;
    if (m !== null && m.election.dirty) {
      Object.assign(this.persistent, m.election.persistent());
      m.election.dirty = false;
      this.dirty = true;
    }
    const persist = this.dirty ? { ...this.persistent } : null;
    this.dirty = false;
    return { messages: out.messages, timers: this.timers(), persist, notes: out.notes };
  }

  private timers(): TimerRequest[] {
    const own: TimerRequest = { id: 'heartbeat', atMs: this.client.nextHeartbeatAtMs };
    return this.monitorCore === null ? [own] : [own, ...this.monitorCore.timers()];
  }
}
