import assert from 'node:assert/strict';
import type { AssignerState, Load, MonitorHeartbeat, NodeName } from './messages.js';
import { TABLE_ENTRIES_MAX } from './node-table.js';

// What an Assigner knows of the Workers: the loads its Monitors' heartbeats carry. Each Monitor
// sends only the Workers that report to it, so the Assigner merges the Monitors' partial views.

export const WORKER_LOADS_MAX = TABLE_ENTRIES_MAX;
/** Monitors whose heartbeats an Assigner tracks (for the future "5 missed → elect" rule). */
export const MONITORS_TRACKED_MAX = 128;

export interface KnownWorker {
  name: NodeName;
  incarnation: number;
  life: number;
  load: Load;
  languages: readonly string[];
  monitor: NodeName;
  heardAtMs: number;
}

export class AssignerView {
  private readonly workers = new Map<NodeName, KnownWorker>();
  private readonly monitorHeardAtMs = new Map<NodeName, number>();
  /** Newest leader term any Monitor reported. */
  newestTerm = 0;
  /** What the Monitors last said of every Assigner (the newest incarnation wins). */
  private readonly assigners = new Map<NodeName, AssignerState>();
  /** Workers declared dead: name → the incarnation that died (a higher one is a new life). */
  private readonly deadAt = new Map<NodeName, number>();
  private readonly deaths: NodeName[] = [];

  /** A Worker whose Monitor has not mentioned it for this long is dead or moved: forget it. */
  constructor(private readonly staleAfterMs: number) {
    assert.ok(staleAfterMs > 0);
  }

  onMonitorHeartbeat(heartbeat: MonitorHeartbeat, nowMs: number): void {
    if (this.monitorHeardAtMs.has(heartbeat.from) || this.monitorHeardAtMs.size < MONITORS_TRACKED_MAX) {
      this.monitorHeardAtMs.set(heartbeat.from, nowMs);
    }
    this.newestTerm = Math.max(this.newestTerm, heartbeat.term);
    for (const a of heartbeat.assigners ?? []) {
      const known = this.assigners.get(a.name);
      if (known !== undefined && known.incarnation > a.incarnation) continue;
      if (known === undefined && this.assigners.size >= MONITORS_TRACKED_MAX * 4) continue;
      this.assigners.set(a.name, a);
    }
    for (const d of heartbeat.deadWorkers ?? []) {
      const known = this.workers.get(d.name);
      if (known !== undefined && known.incarnation > d.incarnation) continue; // it came back since
      const had = this.deadAt.get(d.name);
      if (had !== undefined && had >= d.incarnation) continue; // old news
      this.workers.delete(d.name);
      this.deadAt.set(d.name, d.incarnation);
      if (this.deaths.length < WORKER_LOADS_MAX) this.deaths.push(d.name);
      if (this.deadAt.size > WORKER_LOADS_MAX) this.deadAt.delete(this.deadAt.keys().next().value as NodeName);
    }
    for (const w of heartbeat.workers) {
      if ((this.deadAt.get(w.name) ?? 0) >= w.incarnation) continue; // declared dead in this life
      const known = this.workers.get(w.name);
      if (known !== undefined && known.incarnation > w.incarnation) continue; // an older life
      if (known === undefined && this.workers.size >= WORKER_LOADS_MAX) this.expire(nowMs);
      if (known === undefined && this.workers.size >= WORKER_LOADS_MAX) continue; // full: drop the newcomer
      this.workers.set(w.name, { ...w, monitor: heartbeat.from, heardAtMs: nowMs });
    }
  }

  /** Workers a Monitor declared dead since the last call (each reported once). */
  takeDeaths(): NodeName[] {
    return this.deaths.splice(0);
  }

  /** The Monitors' word on one Assigner (undefined: never heard of). */
  assigner(name: NodeName): AssignerState | undefined {
    return this.assigners.get(name);
  }

  lastHeardFromMonitorMs(monitor: NodeName): number | undefined {
    return this.monitorHeardAtMs.get(monitor);
  }

  /** Fresh Workers with a free slot, most free slots first, then lowest CPU pressure, then name. */
  placementOrder(nowMs: number, language?: string): KnownWorker[] {
    this.expire(nowMs);
    return [...this.workers.values()]
      .filter((w) => w.load.slotsFree > 0 && (language === undefined || w.languages.includes(language)))
      .sort((a, b) => b.load.slotsFree - a.load.slotsFree || a.load.psiCpu - b.load.psiCpu || (a.name < b.name ? -1 : 1));
  }

  /** Every fresh Worker, full or not (a full Worker is busy, not gone). */
  known(nowMs: number): KnownWorker[] {
    this.expire(nowMs);
    return [...this.workers.values()];
  }

  private expire(nowMs: number): void {
    for (const [name, w] of this.workers) if (nowMs - w.heardAtMs > this.staleAfterMs) this.workers.delete(name);
  }
}
