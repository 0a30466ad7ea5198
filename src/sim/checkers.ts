import { majority } from '../cluster/election.js';
import type { NodeName } from '../cluster/messages.js';
import type { ClusterNode } from '../cluster/node.js';
import type { StepOutput } from '../cluster/output.js';
import { deadBoundMs, type ClusterTiming } from '../cluster/timing.js';
import type { NetworkHealth } from './faults.js';

// The invariants every simulated run must keep, checked as the run goes:
//   a) at most one Monitor leader per term;
//   b) once the network has healed, every live node is alive, in its current role, incarnation
//      and version, in the table of every live Monitor (checked at the run's quiescent end);
//   c) a crashed node is dead in its Monitor's table within (missedLimit + 1) × heartbeat +
//      network delay, and in every live Monitor's table within that plus a gossip bound;
//   d) no live node is declared dead while the network is healthy.
//   e) once quiet, with a majority of the Monitors up, one leader is followed by every live Monitor
//      (liveness, so the safety checks above cannot pass by a cluster that does nothing).
//   f) at most one Hydra winner per Hydra term;
//   g) a Hydra win needs a majority of its voters on the winner's side of every partition that
//      was in force for the whole election (a minority side makes no role change);
//   h) after a Monitor crash, with ≥ 2 Assigners of which a majority stay up and a healthy
//      network, there are again ≥ MONITORS_MIN live Monitors within the Hydra bound.
// (c) and (d) only apply when no network fault came near: with loss, false suspicions and slow
// news are allowed, and (b) then proves they heal.

export type Invariant = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g' | 'h' | 'exception';

/** The lab config's default (and least) Monitor count, which the Hydra must restore. */
export const MONITORS_MIN = 2;

export interface Violation {
  invariant: Invariant;
  atMs: number;
  message: string;
}

export interface ContractBounds {
  /** Crash → dead at the crashed node's own Monitor. */
  ownerDeadMs: number;
  /** Owner's "dead" → every live Monitor: the owner's shuffled round-robin reaches every peer
   * within 2 × (Monitors − 1) rounds, plus a round of phase and three message legs. */
  gossipMs: number;
  /** How long after a network fault its effects (false suspicions, adoptions) may still show. */
  faultShadowMs: number;
  /** After the last fault, how long the tables may take to settle before (b) must hold. */
  quiescenceMs: number;
  /** After (b)'s bound, how much longer a leader may take: randomised timeouts can split votes
   * a few times in a row, each costing at most one maximum timeout. */
  electionMs: number;
  /** A node must have reported to the same Monitor this long for (c) to hold it to the bound:
   * its first heartbeat there must have arrived. */
  settledMs: number;
  /** Monitor crash → a replacement serving: missedLimit + 1 of its heartbeats to be silent at
   * every Assigner, then up to twelve Hydra timeouts of retries (split votes, voters detecting an
   * interval later, commits that lost a race). */
  hydraMs: number;
  /** How far back a Hydra win's votes may date: its campaign and commit each end within a
   * timeout (a commit is resent after one), so a partition older than that cut every vote. */
  hydraElectionMs: number;
}

export function contractBounds(t: ClusterTiming, deliveryBoundMs: number, monitorCount: number): ContractBounds {
  const ownerDeadMs = deadBoundMs(t) + deliveryBoundMs;
  const gossipMs = (2 * Math.max(1, monitorCount - 1) + 1) * t.gossipIntervalMs + 3 * deliveryBoundMs;
  const faultShadowMs = ownerDeadMs + t.adoptionGraceMs + gossipMs;
  return {
    ownerDeadMs,
    gossipMs,
    faultShadowMs,
    quiescenceMs: faultShadowMs + 2 * gossipMs + 2 * t.heartbeatIntervalMs,
    settledMs: 2 * t.heartbeatIntervalMs + deliveryBoundMs,
    electionMs: 10 * t.electionTimeoutMaxMs,
    hydraMs: (t.missedLimit + 1) * t.monitorHeartbeatIntervalMs + 12 * t.hydraTimeoutMaxMs + 4 * deliveryBoundMs,
    hydraElectionMs: 2 * t.hydraTimeoutMaxMs + 4 * deliveryBoundMs,
  };
}

/** What the checkers may look at in the running simulation. */
export interface SimView {
  readonly nowMs: number;
  readonly names: readonly NodeName[];
  /** The running node, or null while crashed. */
  node(name: NodeName): ClusterNode | null;
  /** True if the node was down at any moment of [fromMs, toMs]. */
  downBetween(name: NodeName, fromMs: number, toMs: number): boolean;
  upSinceMs(name: NodeName): number;
  /** When the node last switched the Monitor it reports to (its boot if never). */
  monitorSinceMs(name: NodeName): number;
  /** When the node last changed role (its boot if never): a Monitor made after a crash is still
   * catching up on the table, so (c) does not hold it to the crash's bound. */
  roleSinceMs(name: NodeName): number;
  /** The partitions in force now. */
  partitions(): Array<{ side: ReadonlySet<NodeName>; sinceMs: number }>;
}

export interface MonitorsCheck {
  monitor: NodeName;
  crashedAtMs: number;
  /** The Assigners up when the Monitor crashed: the Hydra's electorate. */
  assigners: NodeName[];
}

export interface CrashCheck {
  kind: 'owner' | 'everyone';
  name: NodeName;
  crashedAtMs: number;
  incarnation: number;
  reportsTo: NodeName | null;
}

export class InvariantChecker {
  readonly violations: Violation[] = [];
  private readonly leaderOfTerm = new Map<number, NodeName>();
  private readonly hydraWinnerOfTerm = new Map<number, NodeName>();
  /** Hydra wins seen, and Monitor-count checks run/excused, for tests and reports. */
  hydra = { wins: 0, checked: 0, skipped: 0 };
  /** How many crash obligations were checked, and how many had to be skipped (faults nearby). */
  crashChecks = { checked: 0, skipped: 0 };

  constructor(
    private readonly view: SimView,
    private readonly health: NetworkHealth,
    readonly bounds: ContractBounds,
  ) {}

  fail(invariant: Invariant, message: string): void {
    this.violations.push({ invariant, atMs: this.view.nowMs, message });
  }

  /** (a) and (d), after every step of every node. */
  afterStep(name: NodeName, node: ClusterNode, out: StepOutput): void {
    const election = node.monitor?.election;
    if (election !== undefined && election.role === 'leader') {
      const other = this.leaderOfTerm.get(election.term);
      if (other === undefined) this.leaderOfTerm.set(election.term, name);
      else if (other !== name) this.fail('a', `two leaders in term ${election.term}: ${other} and ${name}`);
    }
    for (const note of out.notes) {
      if (note.kind === 'declared' && note.status === 'dead') this.checkFalseDead(name, note.name, note.incarnation);
      if (note.kind === 'hydra_won') this.checkHydraWin(name, note.term, note.voters);
    }
  }

  /** (f) and (g). */
  private checkHydraWin(name: NodeName, term: number, voters: readonly NodeName[]): void {
    this.hydra.wins += 1;
    const other = this.hydraWinnerOfTerm.get(term);
    if (other === undefined) this.hydraWinnerOfTerm.set(term, name);
    else if (other !== name) this.fail('f', `two Hydra winners in term ${term}: ${other} and ${name}`);
    const now = this.view.nowMs;
    for (const p of this.view.partitions()) {
      if (p.sinceMs > now - this.bounds.hydraElectionMs) continue; // votes may predate the cut
      const mine = p.side.has(name);
      const reachable = voters.filter((v) => p.side.has(v) === mine).length;
      if (reachable < majority(voters.length)) {
        this.fail('g', `${name} won Hydra term ${term} with ${reachable} of ${voters.length} voters on its side of a partition`);
      }
    }
  }

  /** (h)'s obligation when a Monitor crashes, or null when there is nothing to hold it to. */
  onMonitorCrash(name: NodeName, node: ClusterNode): { atMs: number; check: MonitorsCheck } | null {
    if (node.role !== 'monitor') return null;
    const assigners = this.view.names.filter((n) => this.view.node(n)?.role === 'assigner');
    if (assigners.length < 2) return null;
    return { atMs: this.view.nowMs + this.bounds.hydraMs, check: { monitor: name, crashedAtMs: this.view.nowMs, assigners } };
  }

  runMonitorsCheck(c: MonitorsCheck): void {
    const now = this.view.nowMs;
    const stayedUp = c.assigners.filter((a) => !this.view.downBetween(a, c.crashedAtMs, now)).length;
    if (this.health.faultyBetween(c.crashedAtMs - this.bounds.settledMs, now) || stayedUp < majority(c.assigners.length)) {
      this.hydra.skipped += 1;
      return;
    }
    this.hydra.checked += 1;
    const monitors = this.view.names.filter((n) => this.view.node(n)?.role === 'monitor');
    if (monitors.length < MONITORS_MIN) {
      this.fail('h', `${c.monitor} crashed at ${c.crashedAtMs} ms; ${now - c.crashedAtMs} ms later only ${monitors.join(',') || 'no one'} serve(s) as Monitor`);
    }
  }

  private checkFalseDead(monitor: NodeName, target: NodeName, incarnation: number): void {
    const live = this.view.node(target);
    if (live === null || live.incarnation !== incarnation) return; // really dead, or an older life
    const now = this.view.nowMs;
    if (this.health.faultyBetween(now - this.bounds.faultShadowMs, now)) return;
    this.fail('d', `${monitor} declared live node ${target} (incarnation ${incarnation}) dead on a healthy network`);
  }

  /** The two (c) obligations a crash creates, with the times they fall due. */
  onCrash(name: NodeName, node: ClusterNode): Array<{ atMs: number; check: CrashCheck }> {
    const base = { name, crashedAtMs: this.view.nowMs, incarnation: node.incarnation, reportsTo: node.reportsTo };
    const ownerAt = this.view.nowMs + this.bounds.ownerDeadMs;
    return [
      { atMs: ownerAt, check: { kind: 'owner', ...base } },
      { atMs: ownerAt + this.bounds.gossipMs, check: { kind: 'everyone', ...base } },
    ];
  }

  runCrashCheck(c: CrashCheck): void {
    const now = this.view.nowMs;
    const owner = c.reportsTo;
    const ownerAt = c.crashedAtMs + this.bounds.ownerDeadMs;
    const excused =
      owner === null ||
      this.view.node(c.name) !== null || // restarted: a new life, judged on its own
      this.view.monitorSinceMs(c.name) > c.crashedAtMs - this.bounds.settledMs ||
      this.view.downBetween(owner, c.crashedAtMs - this.bounds.settledMs, ownerAt) ||
      this.health.faultyBetween(c.crashedAtMs - this.bounds.settledMs, now);
    if (excused) {
      this.crashChecks.skipped += 1;
      return;
    }
    this.crashChecks.checked += 1;
    const monitors =
      c.kind === 'owner'
        ? [owner]
        : this.view.names.filter((n) => !this.view.downBetween(n, c.crashedAtMs, now) && this.view.roleSinceMs(n) <= c.crashedAtMs);
    for (const m of monitors) {
      const core = this.view.node(m)?.monitor;
      if (core === undefined || core === null) continue;
      const entry = core.table.get(c.name);
      if (entry?.status === 'dead') continue;
      const what = entry === undefined ? 'absent' : `${entry.status}@${entry.incarnation}`;
      this.fail('c', `${c.name} crashed at ${c.crashedAtMs} ms but is ${what} at ${m} after ${now - c.crashedAtMs} ms (${c.kind} bound)`);
    }
  }

  /** (e): null when one leader is followed by all live Monitors, or too few Monitors are up. */
  leadership(voters: readonly NodeName[]): string | null {
    const up = voters.filter((m) => this.view.node(m)?.monitor != null);
    if (2 * up.length <= voters.length) return null;
    const elections = up.map((m) => (this.view.node(m)?.monitor as NonNullable<ClusterNode['monitor']>).election);
    const leaders = up.filter((_, i) => elections[i]?.role === 'leader');
    if (leaders.length !== 1) return `${leaders.length} leaders among ${up.join(',')}`;
    const stray = up.find((_, i) => elections[i]?.leader !== leaders[0]);
    return stray === undefined ? null : `${stray} does not follow leader ${leaders[0]}`;
  }

  /** (b): null when converged, else the first disagreement found. */
  convergence(): string | null {
    for (const m of this.view.names) {
      const core = this.view.node(m)?.monitor;
      if (core === undefined || core === null) continue;
      for (const n of this.view.names) {
        const live = this.view.node(n);
        if (live === null) continue;
        const e = core.table.get(n);
        if (e === undefined) return `${m} does not know live node ${n}`;
        if (e.status !== 'alive' || e.role !== live.role || e.incarnation !== live.incarnation || e.version !== live.version) {
          return `${m} holds ${n} as ${e.role} ${e.status}@${e.incarnation}v${e.version}, but it is ${live.role} alive@${live.incarnation}v${live.version}`;
        }
      }
    }
    return null;
  }
}
