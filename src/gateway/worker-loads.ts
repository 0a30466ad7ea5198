import type { TableRow } from '../agent/agent-messages.js';

type RowLoad = TableRow['load'];

/**
 * The Workers' loads as the Gateway shows them. Only a Worker's own Monitor knows its load (its
 * heartbeats carry it; the gossiped table carries Assigners' loads only), and the Gateway asks the
 * Monitors in turn, so a reply from any other Monitor has zeros for that Worker: shown as they came,
 * an idle one-slot Worker flipped between 0/0 and 0/1. This keeps the last load each Worker's own
 * Monitor reported. Pure: no clock, no I/O; bounded by the table (names gone from it are dropped).
 */
export class WorkerLoads {
  private readonly byName = new Map<string, { monitor: string; load: RowLoad }>();

  /** A table reply from Monitor `from`. */
  update(from: string, rows: readonly TableRow[]): void {
    const present = new Set<string>();
    for (const r of rows) {
      if (r.role !== 'worker') continue;
      present.add(r.name);
      const known = this.byName.get(r.name);
      if (r.monitor === from) this.byName.set(r.name, { monitor: from, load: r.load });
      // The Worker moved to another Monitor: what the old one said is no longer kept fresh.
      else if (known && known.monitor !== r.monitor) this.byName.delete(r.name);
    }
    for (const name of this.byName.keys()) if (!present.has(name)) this.byName.delete(name);
  }

  /** The Worker's load from its own Monitor, or null when none has been heard yet. */
  get(name: string): RowLoad | null {
    return this.byName.get(name)?.load ?? null;
  }
}
