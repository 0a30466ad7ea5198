import { periodAfter, type BeatGrid } from '../common/beat.js';
import assert from 'node:assert/strict';
import { AssignerView } from './assigner-view.js';
import { HeartbeatClient } from './heartbeat-client.js';
import { Hydra } from './hydra.js';
import {
  MONITORS_MAX,
  type ClusterMessage,
  type HydraPromote,
  type HydraWon,
  type Load,
  type MonitorAnnounce,
  type NodeName,
  type OrderRole,
  type Role,
} from './bounds.js';
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
  /** Every node of the lab (the config's list): where new Monitors announce themselves when the
   * Hydra replaced every Monitor, so no survivor's acks can tell the nodes. Optional. */
  labNodes?: readonly NodeName[];
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
  /**
   * Where the periodic activities land (src/common/beat.ts): the real driver and the simulator
   * pass the wall-clock grid, so a node's periodic timers share one wake-up and the lab's nodes
   * beat in step. None: every interval from boot (the cores' unit tests).
   */
  grid?: BeatGrid;
}

/** A fresh node; a restart comes back one incarnation higher, so its old "dead" is overridden. */
export function bootState(persisted: PersistentState | null): PersistentState {
  if (persisted === null) return { incarnation: 1, term: 0, votedFor: null, lastTerm: 0, orderTerm: 0, orderSeq: 0, hydraTerm: 0, hydraVotedFor: null };
  // A state file written before the Hydra existed has no Hydra term: it never voted in one.
  return { ...persisted, hydraTerm: persisted.hydraTerm ?? 0, hydraVotedFor: persisted.hydraVotedFor ?? null, incarnation: persisted.incarnation + 1 };
}

/** Intervals for which a Hydra winner repeats its news (hydra_won, hydra_promote, announce). */
export const HYDRA_NEWS_REPEATS = 5;
/**
 * Terms a Monitor made by the Hydra skips in its first campaign, per Hydra term: it skips
 * HYDRA_TERM_GAP × (the Hydra term that made it). It starts at the newest leader term the
 * Assigners knew, L; a live leader of L is simply followed (no campaign). If it has to campaign,
 * the old Monitors may have elected leaders in terms the Assigners never heard of (they died, or
 * live on, cut off from them): starting at L + 1 could elect a second leader in such a term. Old
 * Monitors would need this many unseen elections to reach past the gap, and since one Hydra term
 * has one winner, the groups that two Hydra wins made start their terms that far apart too.
 */
export const HYDRA_TERM_GAP = 100;
/** After that, the winner keeps announcing itself to lab nodes its table still lacks (they were
 * cut off during the news), every this many intervals, for HYDRA_STRAGGLER_ROUNDS rounds. */
export const HYDRA_STRAGGLER_EVERY = 10;
export const HYDRA_STRAGGLER_ROUNDS = 12;

/** What a Hydra winner keeps telling for a few heartbeat intervals after it switched role. */
interface HydraNews {
  won: HydraWon;
  voters: NodeName[];
  promote: HydraPromote | null;
  announce: MonitorAnnounce | null;
  announceTo: readonly NodeName[];
  round: number;
  nextAtMs: number;
}

export class ClusterNode {
  readonly name: NodeName;
  readonly timing: ClusterTiming;
  private readonly config: ClusterNodeConfig;
  private readonly rng: Random;
  private gridOf: BeatGrid;
  private stepped = false;
  private readonly client: HeartbeatClient;
  private monitorCore: MonitorCore | null = null;
  private assignerView: AssignerView | null = null;
  private hydra: Hydra | null = null;
  private hydraNews: HydraNews | null = null;
  /** A Monitor that knows no other live Monitor announces itself to the lab, so Monitors that
   * grew apart (replaced by the Hydra while only cut off, or restarted after it) find each other. */
  private lonelySinceMs: number | null = null;
  private nextLonelyAnnounceMs = 0;
  private persistent: PersistentState;
  private dirty = true; // the boot incarnation must be written before the first heartbeat
  /** Newest leader term heard of, from acks or this node's own election; orders older are void. */
  private knownLeaderTerm = 0;

  constructor(init: ClusterNodeInit) {
    this.config = init.config;
    this.name = init.config.name;
    this.timing = resolveTiming(init.config.timing);
    this.rng = init.rng;
    this.gridOf = init.grid ?? null;
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
      grid: this.gridOf,
    });
    this.enterRole(init.config.role, init.nowMs);
  }

  /** Where this node's periodic activities land (src/common/beat.ts); null: none. */
  get grid(): BeatGrid {
    return this.gridOf;
  }

  /**
   * Puts the node on a beat grid, for a driver given a node built without one (the agent's and
   * the Worker heartbeat thread's): the deadlines already set keep their instant, every beat after
   * them lands on the grid. Before the first step only, so that no step ran on another grid.
   */
  useGrid(grid: BeatGrid): void {
    assert.ok(!this.stepped, 'useGrid must come before the first step');
    this.gridOf = grid;
    this.client.grid = grid;
    this.monitorCore?.useGrid(grid);
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

  /** The life (heartbeat-client.ts): a Worker's communicator names it in its offer replies. */
  get life(): number {
    return this.client.life;
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

  /** Read-only use only (checkers, tests): the Hydra, while this node is an Assigner. */
  get hydraState(): Hydra | null {
    return this.hydra;
  }

  persistentState(): PersistentState {
    return { ...this.persistent };
  }

  step(event: ClusterEvent, nowMs: number): StepOutput {
    this.stepped = true;
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
    return this.finish(out, nowMs);
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
        this.hydra?.onMonitorHeartbeat(message, nowMs, out);
        return;
      case 'hydra_vote_request':
        this.hydra?.onVoteRequest(message, nowMs, out);
        return;
      case 'hydra_vote_reply':
        this.hydra?.onVoteReply(message, nowMs, out);
        return;
      case 'hydra_won':
        this.hydra?.onWon(message, nowMs, out);
        this.client.addCandidates(message.monitors);
        return;
      case 'hydra_won_ack':
        this.hydra?.onWonAck(message, nowMs);
        return;
      case 'hydra_promote':
        this.onHydraPromote(message, nowMs, out);
        return;
      case 'monitor_announce':
        this.monitorCore?.learnMonitors(from, message.monitors, nowMs, out);
        this.client.addCandidates(message.monitors);
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

  /**
   * The buddy of a Hydra winner: become a Monitor too. Fenced like a role order stamped
   * (orderTerm, 0): obeyed only if newer than every order this node obeyed and not older than the
   * newest Monitor leader term it knows.
   */
  private onHydraPromote(msg: HydraPromote, nowMs: number, out: Outbox): void {
    if (msg.target !== this.name || this.client.role === 'monitor') return;
    const p = this.persistent;
    if (msg.term > p.hydraTerm) {
      p.hydraTerm = msg.term;
      p.hydraVotedFor = null;
      this.dirty = true;
    }
    if (msg.orderTerm <= p.orderTerm || msg.orderTerm < this.knownLeaderTerm || this.client.role !== 'assigner') {
      out.notes.push({ kind: 'stale_order', term: msg.orderTerm, seq: 0 });
      return;
    }
    this.becomeMonitorByHydra(msg.term, msg.orderTerm, msg.monitors, nowMs, out);
  }

  /** The Hydra's role change, for the winner and its buddy alike. */
  private becomeMonitorByHydra(hydraTerm: number, orderTerm: number, monitors: readonly NodeName[], nowMs: number, out: Outbox): void {
    const p = this.persistent;
    p.orderTerm = orderTerm;
    p.orderSeq = 0;
    this.knownLeaderTerm = Math.max(this.knownLeaderTerm, orderTerm);
    // The new Monitor's elections start at the newest leader term the winner knew, so that with
    // every old Monitor gone its first leader's term is newer than any they had (and a surviving
    // leader of that term is simply followed). It joins that term as if it had voted for itself:
    // it must not help elect a second leader in a term whose leader the old Monitors elected.
    if (orderTerm - 1 > p.term) {
      p.term = orderTerm - 1;
      p.votedFor = this.name;
    }
    this.dirty = true;
    out.notes.push({ kind: 'role_changed', from: this.client.role, to: 'monitor', term: orderTerm });
    this.client.setRole('monitor');
    this.client.setCandidates(monitors);
    this.enterRole('monitor', nowMs, { seeds: monitors, termGap: HYDRA_TERM_GAP * Math.max(1, hydraTerm) });
  }

  /**
   * This Assigner won a Hydra term: it and its buddy (see Hydra.partner) become Monitors in place
   * of the silent ones.
   *
   * HAND-OFF HOOK: the `hydra_won` note is pushed before `role_changed`, in the same step; a
   * driver that moves the runs of the winner and its buddy to another pair does it on that note.
   * For now the role changes at once.
   */
  private onHydraWin(hydra: Hydra, nowMs: number, out: Outbox): void {
    const won = hydra.won;
    if (won === null) return;
    // Fence: the first order of the Monitor leader term after the newest one this node knows.
    const orderTerm = Math.max(this.knownLeaderTerm, this.persistent.orderTerm, this.assignerView?.newestTerm ?? 0, hydra.leaderTermSeen) + 1;
    // The buddy, unless it answered nothing in the whole election (see Hydra.partner).
    const buddy = won.partner;
    const survivors = hydra.serving(nowMs).filter((m) => !won.replaced.includes(m));
    const newMonitors = buddy === null ? [this.name] : [this.name, buddy];
    const monitors = [...new Set([...survivors, ...newMonitors])].sort().slice(0, MONITORS_MAX);
    out.notes.push({ kind: 'hydra_won', term: won.term, replaced: won.replaced, buddy, voters: won.voters, orderTerm, survivors });
    const voters = won.voters.filter((v) => v !== this.name && v !== buddy);
    this.becomeMonitorByHydra(won.term, orderTerm, monitors, nowMs, out);
    this.hydraNews = {
      won: { type: 'hydra_won', from: this.name, term: won.term, replaced: won.replaced, monitors: newMonitors },
      voters,
      promote: buddy === null ? null : { type: 'hydra_promote', from: this.name, term: won.term, orderTerm, target: buddy, monitors },
      // Every node is told: a surviving Monitor's acks would tell those reporting to it, but the
      // nodes of a replaced one may know no other (one-off: a few messages per lab PC per Hydra).
      announce: { type: 'monitor_announce', from: this.name, monitors: newMonitors },
      announceTo: (this.config.labNodes ?? []).filter((n) => !newMonitors.includes(n)),
      round: 0,
      nextAtMs: nowMs,
    };
  }

  private sendHydraNews(nowMs: number, out: Outbox): void {
    const news = this.hydraNews;
    if (news === null || nowMs < news.nextAtMs) return;
    news.round += 1;
    if (news.round > HYDRA_NEWS_REPEATS) {
      const every = HYDRA_STRAGGLER_EVERY * this.timing.heartbeatIntervalMs;
      news.nextAtMs = periodAfter(nowMs, every, this.gridOf);
      const table = this.monitorCore?.table;
      if (news.announce !== null && table !== undefined) {
        for (const n of news.announceTo) if (table.get(n) === undefined) out.messages.push({ to: n, message: news.announce });
      }
      if (news.round >= HYDRA_NEWS_REPEATS + HYDRA_STRAGGLER_ROUNDS) this.hydraNews = null;
      return;
    }
    // On the heartbeat's beat: the step that sends it is the heartbeat's own (no timer of its own).
    news.nextAtMs = periodAfter(nowMs, this.timing.heartbeatIntervalMs, this.gridOf);
    // Done once the buddy itself says it is a Monitor (its seeded placeholder does not count).
    const row = news.promote === null ? undefined : this.monitorCore?.table.get(news.promote.target);
    const buddyDone = row !== undefined && row.role === 'monitor' && row.incarnation > 0 && row.status === 'alive';
    if (news.promote !== null && !buddyDone) out.messages.push({ to: news.promote.target, message: news.promote });
    for (const v of news.voters) out.messages.push({ to: v, message: news.won });
    if (news.announce !== null) for (const n of news.announceTo) out.messages.push({ to: n, message: news.announce });
  }

  private announceIfLonely(nowMs: number, out: Outbox): void {
    const m = this.monitorCore;
    if (m === null || !m.lonely()) {
      this.lonelySinceMs = null;
      return;
    }
    this.lonelySinceMs ??= nowMs;
    if (nowMs - this.lonelySinceMs < this.timing.adoptionGraceMs || nowMs < this.nextLonelyAnnounceMs) return;
    this.nextLonelyAnnounceMs = nowMs + this.timing.monitorRetryAfterMs;
    const message: MonitorAnnounce = { type: 'monitor_announce', from: this.name, monitors: [this.name] };
    for (const n of this.config.labNodes ?? []) if (n !== this.name) out.messages.push({ to: n, message });
  }

  private enterRole(role: Role, nowMs: number, hydra?: { seeds: readonly NodeName[]; termGap: number }): void {
    this.assignerView = role === 'assigner' ? new AssignerView(3 * this.timing.monitorHeartbeatIntervalMs) : null;
    const p = this.persistent;
    this.hydra = null;
    if (role === 'assigner') {
      this.hydra = new Hydra(
        this.name,
        this.timing,
        { hydraTerm: p.hydraTerm, hydraVotedFor: p.hydraVotedFor },
        this.rng,
        () => this.client.buddy,
        () => Math.max(this.knownLeaderTerm, this.assignerView?.newestTerm ?? 0),
      );
      // An Assigner that (re)starts just before a Monitor dies never hears it, yet must be able
      // to agree that it is silent: the Monitors it knows of count as heard at its start.
      this.hydra.expect(this.client.knownMonitors(), nowMs, this.timing.monitorHeartbeatIntervalMs);
    }
    if (role !== 'monitor') {
      this.monitorCore = null;
      return;
    }
    if (this.monitorCore !== null) return;
    this.monitorCore = new MonitorCore({
      self: this.client.selfEntry(),
      // A Monitor made by the Hydra starts from the Monitors still serving (and its pair), not
      // the config's: those it replaced must not come back as placeholders, nor as voters.
      seedMonitors: hydra?.seeds ?? this.config.seedMonitors,
      ...(hydra !== undefined ? { termGap: hydra.termGap } : {}),
      timing: this.timing,
      election: { term: p.term, votedFor: p.votedFor, lastTerm: p.lastTerm },
      rng: this.rng,
      nowMs,
      ...(this.config.strength ? { strength: this.config.strength } : {}),
      grid: this.gridOf,
    });
  }

  private runDue(nowMs: number, out: Outbox): void {
    const h = this.hydra;
    if (h !== null) {
      h.onTick(nowMs, out);
      if (h.dirty) this.saveHydra(h);
      if (h.won !== null) this.onHydraWin(h, nowMs, out);
    }
    this.sendHydraNews(nowMs, out);
    this.announceIfLonely(nowMs, out);
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
    this.client.refuteAbove(mine.incarnation, mine.version);
    this.markIncarnationChanged();
    m.syncSelf(this.client.selfEntry(), nowMs);
  }

  private saveHydra(h: Hydra): void {
    Object.assign(this.persistent, h.persistent());
    h.dirty = false;
    this.dirty = true;
  }

  private markIncarnationChanged(): void {
    this.persistent.incarnation = this.client.incarnation;
    this.dirty = true;
  }

  private finish(out: Outbox, nowMs: number): StepOutput {
    if (this.hydra?.dirty) this.saveHydra(this.hydra);
    const m = this.monitorCore;
    if (m !== null && m.election.dirty) {
      Object.assign(this.persistent, m.election.persistent());
      m.election.dirty = false;
      this.dirty = true;
    }
    const persist = this.dirty ? { ...this.persistent } : null;
    this.dirty = false;
    return { messages: out.messages, timers: this.timers(nowMs), persist, notes: out.notes };
  }

  private timers(nowMs: number): TimerRequest[] {
    const own: TimerRequest = { id: 'heartbeat', atMs: this.client.nextHeartbeatAtMs };
    const timers = this.monitorCore === null ? [own] : [own, ...this.monitorCore.timers()];
    const hydraDue = this.hydra?.nextDueMs(nowMs) ?? Number.POSITIVE_INFINITY;
    if (Number.isFinite(hydraDue)) timers.push({ id: 'hydra', atMs: hydraDue });
    return timers;
  }
}
