import { periodAfter, type BeatGrid } from '../common/beat.js';
import { Election, type ElectionPersistent } from './election.js';
import { StrengthKeeper, type StrengthOptions } from './strength.js';
import { FailureDetector } from './failure-detector.js';
import { Gossip } from './gossip.js';
import { hashNames, rendezvousOwner } from './hash.js';
import {
  ASSIGNERS_MAX,
  MONITOR_HEARTBEAT_WORKERS_MAX,
  MONITORS_MAX,
  ZERO_LOAD,
  type ClusterMessage,
  type Heartbeat,
  type HeartbeatAck,
  type Load,
  type MonitorHeartbeat,
  type NodeName,
  type WireEntry,
  type WorkerLoad,
  type AssignerState,
} from './bounds.js';
import { NodeTable, tableLoad } from './node-table.js';

/** How long a Monitor keeps telling the Assigners about a Worker it declared dead. */
const DEAD_WORKER_NEWS_MS = 30_000;
import { failureCheckPhaseMs, type Outbox, type TimerRequest } from './output.js';
import { answerLeastLoaded } from './placement-query.js';
import type { Random } from './random.js';
import type { ClusterTiming } from './timing.js';

// The Monitor role: the table, the failure detector for the nodes reporting here, gossip with the
// other Monitors, the leader election, placement queries and the Workers' loads for Assigners.

export type MonitorMessage = Extract<
  ClusterMessage,
  {
    type:
      | 'gossip_push'
      | 'gossip_pull'
      | 'gossip_entries'
      | 'least_loaded_assigner_request'
      | 'vote_request'
      | 'vote_reply'
      | 'leader_heartbeat'
      | 'leader_heartbeat_reply';
  }
>;

export interface MonitorInit {
  self: WireEntry;
  seedMonitors: readonly NodeName[];
  timing: ClusterTiming;
  election: ElectionPersistent;
  rng: Random;
  nowMs: number;
  /** Terms its first campaign skips (a Monitor made by the Hydra; see HYDRA_TERM_GAP). */
  termGap?: number;
  /** When set, this Monitor, while leader, promotes Empty nodes to keep the Assigner minimum. */
  strength?: StrengthOptions;
  /** Where the periodic activities land (src/common/beat.ts); none: every interval from boot. */
  grid?: BeatGrid;
}

/** A seed Monitor nobody has heard from: incarnation 0 loses to any real heartbeat, and if the
 * seed never appears its rendezvous owner declares the placeholder dead like any silent node. */
function placeholder(name: NodeName): WireEntry {
  return { name, role: 'monitor', incarnation: 0, life: 0, status: 'alive', version: 0, monitor: null, load: ZERO_LOAD, languages: [] };
}

export class MonitorCore {
  readonly self: NodeName;
  readonly table = new NodeTable();
  readonly detector: FailureDetector;
  readonly gossip: Gossip;
  readonly election: Election;
  private readonly timing: ClusterTiming;
  private nextFailureCheckAtMs: number;
  private nextMonitorHeartbeatAtMs: number;
  /** A Worker or Assigner was declared dead: the Assigners hear it in this step, off the beat. */
  private monitorHeartbeatNow = false;
  private grid: BeatGrid;
  /** Where the next monitor_heartbeat starts when this Monitor owns more Workers than fit. */
  private workerCursor = 0;
  /** Per-node preferred Monitor and the live list's hash, valid while the live list is the same
   * array (NodeTable replaces it on any Monitor change): saves a rendezvous pass per heartbeat. */
  private preferredFor = new Map<NodeName, NodeName | null>();
  private preferredOf: readonly NodeName[] = [];
  private liveHash = 0;
  /** Per node, the last ack sent it without news: when, and the leader term it named. */
  private readonly acked = new Map<NodeName, { atMs: number; leaderTerm: number }>();
  private readonly strength: StrengthKeeper | null;

  constructor(init: MonitorInit) {
    this.strength = init.strength ? new StrengthKeeper(init.strength) : null;
    this.self = init.self.name;
    this.timing = init.timing;
    this.grid = init.grid ?? null;
    this.table.merge(init.self, init.nowMs);
    for (const seed of init.seedMonitors) if (seed !== this.self) this.table.merge(placeholder(seed), init.nowMs);
    this.detector = new FailureDetector(this.self, init.timing);
    this.gossip = new Gossip({
      self: this.self,
      table: this.table,
      rng: init.rng,
      gossipIntervalMs: init.timing.gossipIntervalMs,
      gossipToTheDeadMs: init.timing.gossipToTheDeadMs,
      firstRoundAtMs: periodAfter(init.nowMs, init.timing.gossipIntervalMs, this.grid),
      grid: this.grid,
    });
    this.election = new Election(this.self, init.timing, init.election, init.rng, init.nowMs, init.termGap ?? 0, this.grid);
    this.nextFailureCheckAtMs = this.nextFailureCheck(init.nowMs);
    this.nextMonitorHeartbeatAtMs = periodAfter(init.nowMs, init.timing.monitorHeartbeatIntervalMs, this.grid);
  }

  /** Monitors this one was told of (monitor_announce): unknown ones join the table as
   * placeholders, as config seeds do, so gossip and heartbeats reach them and two tables that
   * grew apart (the Hydra replaced Monitors that were only cut off) merge again. */
  learnMonitors(from: NodeName, names: readonly NodeName[], nowMs: number, out: Outbox): void {
    for (const name of names) if (name !== this.self && this.table.get(name) === undefined) this.table.merge(placeholder(name), nowMs);
    // The announcer may be in this table as something else, or dead: one gossip exchange now
    // brings its own row (and ours to it), after which ordinary gossip rounds include it.
    if (from !== this.self) out.messages.push({ to: from, message: this.gossip.buildPush(from) });
  }

  /** True when no other Monitor in the table is both not dead and really heard of. */
  lonely(): boolean {
    for (const m of this.table.knownMonitors()) {
      const e = this.table.get(m);
      if (m !== this.self && e !== undefined && e.status !== 'dead' && e.incarnation > 0) return false;
    }
    return true;
  }

  onHeartbeat(hb: Heartbeat, nowMs: number, out: Outbox): void {
    const outcome = this.table.merge(
      {
        name: hb.from,
        role: hb.role,
        incarnation: hb.incarnation,
        life: hb.life,
        status: 'alive',
        version: hb.version,
        monitor: hb.monitor,
        load: tableLoad(hb.role, hb.load),
        languages: hb.languages,
        ...(hb.pid !== undefined ? { pid: hb.pid } : {}),
        ...(hb.buddy ? { buddy: hb.buddy } : {}),
      },
      nowMs,
    );
    if (outcome === 'full') {
      // No ack: the node fails over to a Monitor that has room.
      out.notes.push({ kind: 'table_full', name: hb.from });
      return;
    }
    this.detector.heard(hb.from, hb.load, nowMs, hb.incarnation);
    const entry = this.table.get(hb.from);
    if (entry === undefined) return;
    const live = this.table.liveMonitors();
    const preferredMonitor = this.preferredMonitor(hb.from, live);
    // Repeating the list in every ack would cost O(Monitors) bytes per heartbeat.
    const monitors = hb.monitorsHash === this.liveHash ? [] : live.slice(0, MONITORS_MAX);
    const leader = this.election.leader === null ? null : { name: this.election.leader, term: this.election.term };
    const news =
      entry.status !== 'alive' ||
      entry.incarnation !== hb.incarnation ||
      entry.version !== hb.version ||
      monitors.length > 0 ||
      hb.monitor !== this.self ||
      (preferredMonitor !== null && preferredMonitor !== this.self);
    const last = this.acked.get(hb.from);
    const leaderTerm = leader?.term ?? 0;
    // Half an interval of slack: heartbeats on a fixed beat arrive a little early or late.
    const due = last === undefined || nowMs - last.atMs >= (this.timing.ackEveryIntervals - 0.5) * this.timing.heartbeatIntervalMs || leaderTerm > last.leaderTerm;
    if (!news && !due) return;
    this.rememberAck(hb.from, nowMs, leaderTerm);
    const ack: HeartbeatAck = {
      type: 'heartbeat_ack',
      from: this.self,
      yourIncarnation: entry.incarnation,
      yourStatus: entry.status,
      yourVersion: entry.version,
      preferredMonitor,
      monitors,
      leader,
    };
    out.messages.push({ to: hb.from, message: ack });
  }

  /** Bounded by the table: names that left it are dropped when the map outgrows it. */
  private rememberAck(node: NodeName, atMs: number, leaderTerm: number): void {
    this.acked.set(node, { atMs, leaderTerm });
    if (this.acked.size > 2 * this.table.size + 16) {
      for (const name of this.acked.keys()) if (this.table.get(name) === undefined) this.acked.delete(name);
    }
  }

  private preferredMonitor(node: NodeName, live: readonly NodeName[]): NodeName | null {
    if (live !== this.preferredOf) {
      this.preferredOf = live;
      this.preferredFor = new Map();
      this.liveHash = hashNames(live);
    }
    let preferred = this.preferredFor.get(node);
    if (preferred === undefined) {
      preferred = rendezvousOwner(node, live.filter((m) => m !== node));
      this.preferredFor.set(node, preferred);
    }
    return preferred;
  }

  onMessage(from: NodeName, message: MonitorMessage, nowMs: number, out: Outbox): void {
    const voters = this.table.knownMonitors();
    switch (message.type) {
      case 'gossip_push':
        return this.gossip.onPush(from, message, out);
      case 'gossip_pull':
        return this.gossip.onPull(from, message, nowMs, out);
      case 'gossip_entries':
        return this.gossip.onEntries(from, message, nowMs);
      case 'least_loaded_assigner_request':
        return answerLeastLoaded(this.self, message, this.assignerEntries(), out);
      case 'vote_request':
        return this.election.onVoteRequest(message, nowMs, voters, out);
      case 'vote_reply':
        return this.election.onVoteReply(message, nowMs, voters, out);
      case 'leader_heartbeat':
        return this.election.onLeaderHeartbeat(message, nowMs, voters, out);
      case 'leader_heartbeat_reply':
        return this.election.onLeaderHeartbeatReply(message, nowMs, out);
      default: {
        const impossible: never = message;
        throw new Error(`unhandled monitor message ${JSON.stringify(impossible)}`);
      }
    }
  }

  /**
   * A node's freshest load as this Monitor knows it: the last heartbeat's exact load for nodes
   * reporting here, else the table's row (which carries load for Assigners only; see
   * advertisesLoad). For dashboards: ask each node's own Monitor for its Workers' loads.
   */
  loadOf(name: NodeName): Load | undefined {
    return this.detector.liveLoad(name) ?? this.table.get(name)?.load;
  }

  /** Keeps this Monitor's own row current (the node's advertised state changed). */
  syncSelf(entry: WireEntry, nowMs: number): void {
    this.table.merge(entry, nowMs);
  }

  runDue(nowMs: number, out: Outbox): void {
    if (nowMs >= this.nextFailureCheckAtMs) {
      this.nextFailureCheckAtMs = this.nextFailureCheck(nowMs);
      const before = out.notes.length;
      this.detector.check(this.table, nowMs, out);
      // A Worker or Assigner declared dead: the Assigners hear it now, not at the next beat (the
      // time to tell a client node_lost, or for a buddy to take over).
      for (const n of out.notes.slice(before)) {
        if (n.kind !== 'declared' || n.status !== 'dead') continue;
        const role = this.table.get(n.name)?.role;
        if (role === 'worker') this.noteDeadWorker(n.name, n.incarnation, nowMs);
        // Sent now without moving the beat: the next one stays on the grid.
        if (role === 'worker' || role === 'assigner') this.monitorHeartbeatNow = true;
      }
      if (this.election.role === 'leader') this.strength?.check(this.self, this.election.term, this.table, nowMs, out);
    }
    this.gossip.onTick(nowMs, out);
    this.election.onTick(nowMs, this.table.knownMonitors(), out);
    const beat = nowMs >= this.nextMonitorHeartbeatAtMs;
    if (beat) this.nextMonitorHeartbeatAtMs = periodAfter(nowMs, this.timing.monitorHeartbeatIntervalMs, this.grid);
    if (beat || this.monitorHeartbeatNow) {
      this.monitorHeartbeatNow = false;
      this.sendMonitorHeartbeats(out, nowMs);
    }
  }

  /** The failure check after now: on the grid, half a check off the heartbeats' beat (see
   * timerBeat in output.ts for why). */
  private nextFailureCheck(nowMs: number): number {
    const interval = this.timing.failureCheckIntervalMs;
    const phased: BeatGrid = this.grid === null ? null : { wallOffsetMs: this.grid.wallOffsetMs - failureCheckPhaseMs(this.timing) };
    return periodAfter(nowMs, interval, phased);
  }

  /** Puts the periodic activities on the grid from their next beat on (see ClusterNode.useGrid). */
  useGrid(grid: BeatGrid): void {
    this.grid = grid;
    this.gossip.grid = grid;
    this.election.grid = grid;
  }

  timers(): TimerRequest[] {
    const electionId = this.election.role === 'leader' ? 'leader_heartbeat' : 'election';
    return [
      { id: 'failure_check', atMs: this.nextFailureCheckAtMs },
      { id: 'gossip', atMs: this.gossip.nextRoundAtMs },
      { id: electionId, atMs: this.election.nextDueMs() },
      { id: 'monitor_heartbeat', atMs: this.nextMonitorHeartbeatAtMs },
    ];
  }

  private *assignerEntries(): Generator<WireEntry> {
    for (const name of this.table.withRole('assigner')) {
      const e = this.table.get(name);
      if (e !== undefined) yield e;
    }
  }

  private assignerStates(): AssignerState[] {
    const all: AssignerState[] = [];
    for (const e of this.assignerEntries()) {
      if (all.length >= ASSIGNERS_MAX) break;
      all.push({ name: e.name, incarnation: e.incarnation, life: e.life, status: e.status, buddy: e.buddy ?? null });
    }
    return all;
  }

  /** Workers declared dead here lately, oldest first: sent in monitor_heartbeats for a while. */
  private readonly deadWorkers = new Map<NodeName, { incarnation: number; atMs: number }>();

  private noteDeadWorker(name: NodeName, incarnation: number, nowMs: number): void {
    this.deadWorkers.delete(name);
    this.deadWorkers.set(name, { incarnation, atMs: nowMs });
    while (this.deadWorkers.size > MONITOR_HEARTBEAT_WORKERS_MAX) this.deadWorkers.delete(this.deadWorkers.keys().next().value as NodeName);
  }

  private recentDeadWorkers(nowMs: number): Array<{ name: NodeName; incarnation: number }> {
    for (const [name, d] of this.deadWorkers) if (nowMs - d.atMs > DEAD_WORKER_NEWS_MS) this.deadWorkers.delete(name);
    return [...this.deadWorkers].map(([name, d]) => ({ name, incarnation: d.incarnation }));
  }

  /** The Workers reporting here, with their latest exact load, rotating past the message bound. */
  private ownWorkers(): WorkerLoad[] {
    const all: WorkerLoad[] = [];
    for (const name of this.table.reportingTo(this.self)) {
      const e = this.table.get(name);
      if (e === undefined || e.role !== 'worker' || e.status !== 'alive' || e.monitor !== this.self) continue;
      all.push({ name, incarnation: e.incarnation, life: e.life, load: this.detector.liveLoad(name) ?? e.load, languages: e.languages });
    }
    if (all.length <= MONITOR_HEARTBEAT_WORKERS_MAX) return all;
    const start = this.workerCursor % all.length;
    this.workerCursor = start + MONITOR_HEARTBEAT_WORKERS_MAX;
    return all.slice(start, start + MONITOR_HEARTBEAT_WORKERS_MAX).concat(all.slice(0, Math.max(0, start + MONITOR_HEARTBEAT_WORKERS_MAX - all.length)));
  }

  private sendMonitorHeartbeats(out: Outbox, nowMs: number): void {
    const workers = this.ownWorkers();
    const message: MonitorHeartbeat = {
      type: 'monitor_heartbeat',
      from: this.self,
      term: this.election.term,
      intervalMs: this.timing.monitorHeartbeatIntervalMs,
      workers,
      deadWorkers: this.recentDeadWorkers(nowMs),
      assigners: this.assignerStates(),
    };
    for (const name of this.table.withRole('assigner')) {
      // Suspects too: a Monitor that stopped sending to an Assigner it merely suspects would look
      // silent to it, and enough such Assigners would elect a replacement for a live Monitor.
      if (this.table.get(name)?.status !== 'dead') out.messages.push({ to: name, message });
    }
  }
}
