import assert from 'node:assert/strict';
import { rendezvousOwner } from './hash.js';
import type { Load, NodeName, Status } from './messages.js';
import { statusRank, type NodeEntry, type NodeTable } from './node-table.js';
import type { Outbox } from './output.js';
import type { ClusterTiming } from './timing.js';

// The Monitor's half of SWIM-style failure detection. Each node heartbeats to ONE Monitor, so a
// Monitor watches only its own nodes (≈ nodes ÷ Monitors of them) and gossip tells the rest.

export type DetectorTiming = Pick<ClusterTiming, 'heartbeatIntervalMs' | 'suspectAfterMissed' | 'missedLimit' | 'adoptionGraceMs'>;

/** Whole heartbeat intervals elapsed since the node was last heard. */
export function missedIntervals(lastHeardMs: number, nowMs: number, intervalMs: number): number {
  assert.ok(intervalMs > 0, 'intervalMs must be positive');
  return nowMs <= lastHeardMs ? 0 : Math.floor((nowMs - lastHeardMs) / intervalMs);
}

export function verdict(missed: number, timing: DetectorTiming): Status {
  if (missed >= timing.missedLimit) return 'dead';
  if (missed >= timing.suspectAfterMissed) return 'suspect';
  return 'alive';
}

/**
 * Whether Monitor `self` must detect this node's failure: the node names `self` as its Monitor,
 * or its Monitor is gone and `self` is the rendezvous owner among the live Monitors — which is
 * the Monitor the node itself fails over to, so node and owner meet without a message.
 */
export function isWatchedBy(
  entry: NodeEntry,
  self: NodeName,
  liveMonitors: readonly NodeName[],
  liveSet: ReadonlySet<NodeName>,
): boolean {
  if (entry.name === self || entry.status === 'dead') return false;
  if (entry.monitor === self) return true;
  if (entry.monitor !== null && liveSet.has(entry.monitor)) return false;
  const candidates = liveMonitors.filter((m) => m !== entry.name);
  return rendezvousOwner(entry.name, candidates) === self;
}

interface Watch {
  lastHeardMs: number;
  /** The exact load of the last heartbeat (the table keeps a quantized copy for gossip). */
  load: Load;
  /** The life watched: a newer one learned by gossip (a restart reporting elsewhere) is not
   * judged by the old life's silence. */
  incarnation: number;
}

export class FailureDetector {
  private readonly watched = new Map<NodeName, Watch>();

  constructor(
    private readonly self: NodeName,
    private readonly timing: DetectorTiming,
  ) {}

  /** A heartbeat arrived; the table must already hold the node (the table bounds this map). */
  heard(name: NodeName, load: Load, nowMs: number, incarnation: number): void {
    this.watched.set(name, { lastHeardMs: nowMs, load, incarnation });
  }

  liveLoad(name: NodeName): Load | undefined {
    return this.watched.get(name)?.load;
  }

  watchedNames(): IterableIterator<NodeName> {
    return this.watched.keys();
  }

  /**
   * Raises suspect/dead for watched nodes that stopped heartbeating; starts watching new ones.
   * Touches only the nodes reporting here and orphans, so its cost follows nodes ÷ Monitors.
   */
  check(table: NodeTable, nowMs: number, out: Outbox): void {
    const live = table.liveMonitors();
    const liveSet = new Set(live);
    for (const name of this.watched.keys()) {
      const entry = table.get(name);
      if (entry === undefined || !isWatchedBy(entry, this.self, live, liveSet)) this.watched.delete(name);
    }
    for (const name of this.candidates(table, liveSet)) {
      const entry = table.get(name);
      if (entry === undefined || !isWatchedBy(entry, this.self, live, liveSet)) continue;
      let watch = this.watched.get(name);
      if (watch !== undefined && watch.incarnation < entry.incarnation) {
        this.watched.delete(name);
        watch = undefined;
      }
      // Watched but never heard here (an adopted orphan, or this Monitor restarted): the clock
      // starts after a grace, so a node that moved to another Monitor is not declared dead
      // before gossip says so. A heartbeat ends the grace at once.
      if (watch === undefined) {
        this.watched.set(name, { lastHeardMs: nowMs + this.timing.adoptionGraceMs, load: entry.load, incarnation: entry.incarnation });
        continue;
      }
      this.judge(table, entry, watch, nowMs, out);
    }
  }

  /** Nodes reporting here, then nodes reporting to a Monitor that is not live (orphans). */
  private *candidates(table: NodeTable, liveSet: ReadonlySet<NodeName>): Generator<NodeName> {
    yield* table.reportingTo(this.self);
    for (const monitor of [...table.reportedMonitors()]) {
      if (monitor === null || !liveSet.has(monitor)) yield* [...table.reportingTo(monitor)];
    }
  }

  private judge(table: NodeTable, entry: NodeEntry, watch: Watch, nowMs: number, out: Outbox): void {
    const v = verdict(missedIntervals(watch.lastHeardMs, nowMs, this.timing.heartbeatIntervalMs), this.timing);
    if (v === 'alive' || statusRank(v) <= statusRank(entry.status)) return;
    table.declare(entry.name, v, nowMs);
    out.notes.push({ kind: 'declared', name: entry.name, status: v, incarnation: entry.incarnation });
    if (v === 'dead') this.watched.delete(entry.name);
  }
}
