import { fixedBeatAfter, type BeatGrid } from '../common/beat.js';
import assert from 'node:assert/strict';
import { hashNames, rendezvousOrder } from './hash.js';
import {
  MONITORS_MAX,
  ZERO_LOAD,
  type HeartbeatAck,
  type Load,
  type NodeName,
  type Role,
  type WireEntry,
} from './bounds.js';
import { advertisesLoad, quantizeLoad, sameLoad, tableLoad } from './node-table.js';
import type { Outbox } from './output.js';
import type { ClusterTiming } from './timing.js';

// The node's half of failure detection: heartbeat to one Monitor, fail over when it stops
// answering, and refute a suspicion by raising the incarnation (SWIM).

/** Heartbeats still sent to the Monitor a node moved away from, so it stops watching at once
 * instead of declaring the node dead; two so that one lost packet does not matter. */
export const FAREWELL_HEARTBEATS = 2;

export interface HeartbeatClientInit {
  name: NodeName;
  role: Role;
  /** An Assigner's buddy at boot (the config pairs pinned Assigners in order). */
  buddy?: NodeName | null;
  incarnation: number;
  seedMonitors: readonly NodeName[];
  languages: readonly string[];
  /** The agent's process id, shown in the cluster view; absent in the simulator. */
  pid?: number;
  timing: ClusterTiming;
  /** First heartbeat (at boot: at once). The simulator staggers it; the beats after it land on
   * the grid when there is one. */
  firstHeartbeatAtMs: number;
  /**
   * Where the heartbeats land (src/common/beat.ts). On the wall-clock grid every node of the lab
   * heartbeats in step, on purpose: a Monitor reads its nodes' heartbeats in the wake-up of its
   * own timers instead of one wake-up each. The cost is a burst (~100 nodes × ~200 bytes within
   * a millisecond at 600 nodes, ~20 KB: a LAN and a switch's buffers take it in well under a
   * millisecond). None: every interval from the first (the cores' unit tests).
   */
  grid?: BeatGrid;
}

export class HeartbeatClient {
  readonly name: NodeName;
  incarnation: number;
  /**
   * This life's first incarnation. A refutation raises the incarnation and keeps the life (the
   * same process, its runs still there); a boot, or learning of a higher incarnation of ours that
   * this process never had (state lost in a restart), starts a new life. Assigners lose a node's
   * runs on a higher life only: on a higher incarnation they lost a Worker's runs, and took over an
   * Assigner's, every time a busy node was suspected and refuted.
   */
  life: number;
  /** Bumped whenever what the node advertises (role, Monitor, quantized load) changes. */
  version = 0;
  role: Role;
  /** The Assigner this one replicates its runs to (null: unpaired, or not an Assigner). */
  buddy: NodeName | null;
  monitor: NodeName | null = null;
  private candidates: NodeName[];
  private candidatesHash: number;
  /** The array the candidates were copied from, to skip re-hashing an unchanged list. */
  private candidatesSource: readonly NodeName[] | null = null;
  private readonly avoidUntilMs = new Map<NodeName, number>();
  private lastAckMs: number;
  private farewell: { to: NodeName; remaining: number } | null = null;
  private exactLoad: Load = ZERO_LOAD;
  private advertisedLoad: Load = ZERO_LOAD;
  private readonly languages: string[];
  private readonly pid: number | undefined;
  private readonly timing: ClusterTiming;
  /** Set at construction, or by ClusterNode.useGrid before the node's first step. */
  grid: BeatGrid;
  nextHeartbeatAtMs: number;

  constructor(init: HeartbeatClientInit) {
    assert.ok(init.incarnation >= 1, 'a live node has incarnation >= 1 (0 is a placeholder)');
    this.name = init.name;
    this.role = init.role;
    this.buddy = init.role === 'assigner' ? init.buddy ?? null : null;
    this.incarnation = init.incarnation;
    this.life = init.incarnation;
    this.candidates = init.seedMonitors.slice(0, MONITORS_MAX);
    this.candidatesHash = hashNames(this.candidates);
    this.languages = [...init.languages];
    this.pid = init.pid;
    this.timing = init.timing;
    this.nextHeartbeatAtMs = init.firstHeartbeatAtMs;
    this.grid = init.grid ?? null;
    this.lastAckMs = init.firstHeartbeatAtMs;
    this.monitor = this.choose(init.firstHeartbeatAtMs);
  }

  setBuddy(buddy: NodeName | null): void {
    if (buddy === this.buddy) return;
    this.buddy = buddy;
    this.version += 1;
  }

  setRole(role: Role): void {
    if (role === this.role) return;
    this.role = role;
    if (role !== 'assigner') this.buddy = null;
    this.advertisedLoad = tableLoad(role, this.exactLoad);
    this.version += 1;
  }

  /** Every heartbeat carries the exact load; the version (gossip) moves only for roles whose
   * load the table carries, and only when its quantized value changes. */
  setLoad(load: Load): void {
    this.exactLoad = load;
    if (!advertisesLoad(this.role)) return;
    const q = quantizeLoad(load);
    if (!sameLoad(q, this.advertisedLoad)) {
      this.advertisedLoad = q;
      this.version += 1;
    }
  }

  /**
   * A Monitor's own table is a better list of Monitors than the acks it receives. It includes
   * Monitors it holds dead: after a partition each side may hold the other dead, and only a
   * heartbeat across (answered with "you are dead", then refuted) joins the two again.
   */
  setCandidates(monitors: readonly NodeName[]): void {
    if (monitors === this.candidatesSource) return;
    this.candidatesSource = monitors;
    this.candidates = monitors.slice(0, MONITORS_MAX);
    this.candidatesHash = hashNames(this.candidates);
  }

  /** The Monitors this node may report to (from acks, announcements or the config). */
  knownMonitors(): readonly NodeName[] {
    return this.candidates;
  }

  /** Monitors this node was told of outside an ack (the Hydra's new Monitors): added to the
   * candidates, so a node whose Monitors all died finds the new ones; acks of a surviving
   * Monitor later replace the list with its table's live Monitors. */
  addCandidates(monitors: readonly NodeName[]): void {
    const extra = monitors.filter((m) => m !== this.name && !this.candidates.includes(m));
    if (extra.length === 0) return;
    this.candidatesSource = null;
    this.candidates = [...extra, ...this.candidates].slice(0, MONITORS_MAX);
    this.candidatesHash = hashNames(this.candidates);
  }

  /**
   * Someone holds an incarnation of ours at least this high as suspect/dead (or higher).
   * `version`: the version they hold with it. Anything this process never sent — a higher
   * incarnation, or a higher version at its own — is a life it forgot (a restart that lost its
   * state file): the refutation then starts a new life as well.
   */
  refuteAbove(incarnation: number, version: number): boolean {
    if (incarnation < this.incarnation) return false;
    const forgotten = incarnation > this.incarnation || version > this.version;
    this.incarnation = incarnation + 1;
    if (forgotten) this.life = this.incarnation;
    this.version += 1;
    return true;
  }

  selfEntry(): WireEntry {
    return {
      name: this.name,
      role: this.role,
      incarnation: this.incarnation,
      life: this.life,
      status: 'alive',
      version: this.version,
      monitor: this.monitor,
      load: this.advertisedLoad,
      languages: this.languages,
      ...(this.pid !== undefined ? { pid: this.pid } : {}),
      ...(this.buddy !== null ? { buddy: this.buddy } : {}),
    };
  }

  onTick(nowMs: number, out: Outbox): void {
    if (nowMs < this.nextHeartbeatAtMs) return;
    // A fixed beat, not "now + interval": a late tick must not stretch the gap the Monitor sees.
    this.nextHeartbeatAtMs = fixedBeatAfter(this.nextHeartbeatAtMs, nowMs, this.timing.heartbeatIntervalMs, this.grid);
    if (this.monitor !== null && nowMs - this.lastAckMs >= this.timing.ackMissLimit * this.timing.heartbeatIntervalMs) {
      this.avoid(this.monitor, nowMs);
      this.switchTo(this.choose(nowMs), nowMs, out);
      this.lastAckMs = nowMs; // a fresh window for the new (or, with no alternative, the same) Monitor
    } else if (this.monitor === null) {
      this.switchTo(this.choose(nowMs), nowMs, out);
    }
    this.sendHeartbeats(out);
  }

  /** Returns true when the incarnation changed (the driver must persist it). */
  onAck(from: NodeName, ack: HeartbeatAck, nowMs: number, out: Outbox): boolean {
    if (ack.monitors.length > 0) this.setCandidates(ack.monitors);
    // Refute a suspicion of this life, and also any sign of a life we do not remember (a higher
    // incarnation, or a newer version of ours): that was us before a restart that lost state.
    const sameLife = ack.yourIncarnation === this.incarnation;
    const refuted =
      (sameLife && (ack.yourStatus !== 'alive' || ack.yourVersion > this.version)) || ack.yourIncarnation > this.incarnation;
    if (refuted) {
      this.refuteAbove(ack.yourIncarnation, ack.yourVersion);
      out.notes.push({ kind: 'refuted', incarnation: this.incarnation });
    }
    if (from !== this.monitor) return refuted; // a farewell's ack: only its refutation news counts
    this.lastAckMs = nowMs;
    const preferred = ack.preferredMonitor;
    if (preferred !== null && preferred !== this.monitor && preferred !== this.name && !this.avoided(preferred, nowMs)) {
      this.switchTo(preferred, nowMs, out);
    }
    // A refutation goes out at once: every interval spent suspected brings "dead" closer.
    if (refuted) this.sendHeartbeats(out);
    return refuted;
  }

  private sendHeartbeats(out: Outbox): void {
    if (this.monitor === null) return;
    const message = { type: 'heartbeat' as const, from: this.name, ...this.advertised(), monitor: this.monitor };
    out.messages.push({ to: this.monitor, message });
    if (this.farewell !== null) {
      out.messages.push({ to: this.farewell.to, message });
      this.farewell.remaining -= 1;
      if (this.farewell.remaining <= 0) this.farewell = null;
    }
  }

  private advertised() {
    return {
      incarnation: this.incarnation,
      life: this.life,
      version: this.version,
      role: this.role,
      load: this.exactLoad,
      languages: this.languages,
      monitorsHash: this.candidatesHash,
      ...(this.pid !== undefined ? { pid: this.pid } : {}),
      ...(this.buddy !== null ? { buddy: this.buddy } : {}),
    };
  }

  private switchTo(next: NodeName | null, nowMs: number, out: Outbox): void {
    if (next === null || next === this.monitor) return;
    const previous = this.monitor;
    this.farewell = previous === null ? null : { to: previous, remaining: FAREWELL_HEARTBEATS };
    this.monitor = next;
    this.version += 1;
    this.lastAckMs = nowMs;
    out.notes.push({ kind: 'monitor_changed', from: previous, to: next });
  }

  /**
   * Rendezvous order over the known Monitors, skipping ones that recently stopped answering; if
   * every one did, the one avoided longest ago, so a node cut off from all of them keeps cycling
   * through them and finds whichever comes back first.
   */
  private choose(nowMs: number): NodeName | null {
    const order = rendezvousOrder(this.name, this.candidates.filter((m) => m !== this.name));
    const fresh = order.find((m) => !this.avoided(m, nowMs));
    if (fresh !== undefined) return fresh;
    let best: NodeName | null = null;
    for (const m of order) if (best === null || (this.avoidUntilMs.get(m) ?? 0) < (this.avoidUntilMs.get(best) ?? 0)) best = m;
    return best;
  }

  private avoid(monitor: NodeName, nowMs: number): void {
    if (this.avoidUntilMs.size >= MONITORS_MAX) {
      for (const [m, until] of this.avoidUntilMs) if (until <= nowMs) this.avoidUntilMs.delete(m);
    }
    if (this.avoidUntilMs.size < MONITORS_MAX) this.avoidUntilMs.set(monitor, nowMs + this.timing.monitorRetryAfterMs);
  }

  private avoided(monitor: NodeName, nowMs: number): boolean {
    return (this.avoidUntilMs.get(monitor) ?? 0) > nowMs;
  }
}
