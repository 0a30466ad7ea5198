import type { NodeName, OrderRole } from './messages.js';
import type { NodeTable } from './node-table.js';
import type { Outbox } from './output.js';

/**
 * The Monitor leader's half of elastic strength: it keeps the Assigners at or above their minimum
 * and in pairs by promoting Empty nodes, with role orders stamped (term, seq) so a node obeys only
 * the newest leader. Pure: it reads the table and appends orders to the outbox.
 */
export interface StrengthOptions {
  /** Assigners wanted at least (even: they work in buddy pairs). */
  assignersMin: number;
  /** Nodes never promoted (the Gateway's PC runs as an Empty member). */
  nonPromotable: ReadonlySet<NodeName>;
  /** An ordered node that has not changed role by then is ordered again (or another is picked). */
  orderRetryMs: number;
  /** A new leader waits this long before its first order: nodes booting with it have not all
   * reported yet, and a missing Assigner may only be late, not dead. */
  settleMs: number;
  /** Worker hosts wanted at least (0: the leader never promotes Worker hosts). */
  workerHostsMin?: number;
  /** Which table rows are Worker hosts (a host's Worker processes have rows of role worker too). */
  isHost?: (name: NodeName) => boolean;
  /** Worker hosts the config pins: never given back to Empty. */
  pinnedWorkerHosts?: ReadonlySet<NodeName>;
  /** Runs queued at the Assigners this long without a break: one more Empty node becomes a Worker host. */
  growAfterMs?: number;
  /** No run held by any Assigner this long: one Worker host promoted for load goes back to Empty. */
  shrinkAfterMs?: number;
}

interface Pending {
  atMs: number;
  role: 'assigner' | 'worker' | 'empty';
  buddy: NodeName | null;
}

export class StrengthKeeper {
  private seq = 0;
  private seqTerm = -1;
  private termSinceMs = 0;
  /** Orders in flight: node → what it was ordered and when. Bounded by the nodes in the table. */
  private readonly pending = new Map<NodeName, Pending>();
  /** Since when runs have been queued at some Assigner (null: none queued at the last check). */
  private queuedSinceMs: number | null = null;
  /** Since when no Assigner has held a run. */
  private idleSinceMs: number | null = null;
  /** When the last elastic order (grow or shrink) went out: one step per period, hysteresis. */
  private lastElasticMs = -Infinity;

  constructor(private readonly opts: StrengthOptions) {}

  /**
   * Called on the leader's periodic check; appends the orders that pair every unpaired Assigner
   * (with another unpaired one, else with a promoted Empty node) and restore the minimum.
   */
  check(self: NodeName, term: number, table: NodeTable, nowMs: number, out: Outbox): void {
    if (term !== this.seqTerm) {
      this.seqTerm = term;
      this.termSinceMs = nowMs;
      this.seq = 0;
      this.pending.clear();
    }
    if (nowMs - this.termSinceMs < this.opts.settleMs) return;
    for (const [name, p] of this.pending) {
      const e = table.get(name);
      const done = e?.role === p.role && (p.role !== 'assigner' || (e.buddy ?? null) === p.buddy);
      if (done || nowMs - p.atMs > this.opts.orderRetryMs || e?.status === 'dead') this.pending.delete(name);
    }
    // A suspect Assigner still counts: a suspicion may be refuted, a promotion is not undone.
    const live = (name: NodeName | null | undefined) => {
      const e = name ? table.get(name) : undefined;
      return e !== undefined && e.role === 'assigner' && e.status !== 'dead' ? e : undefined;
    };
    const assigners: NodeName[] = [];
    const empties: NodeName[] = [];
    for (const e of table.values()) {
      if (live(e.name)) assigners.push(e.name);
      else if (e.role === 'empty' && e.status === 'alive' && !this.opts.nonPromotable.has(e.name) && !this.pending.has(e.name)) empties.push(e.name);
    }
    empties.sort();
    const orphans = assigners
      .filter((name) => {
        if (this.pending.has(name)) return false;
        // Its buddy's order is still in flight (this table may show one of the pair before the
        // other): not an orphan yet.
        const buddyName = table.get(name)?.buddy;
        if (buddyName && this.pending.has(buddyName)) return false;
        const buddy = live(buddyName);
        return buddy === undefined || (buddy.buddy ?? null) !== name;
      })
      .sort();
    const order = (target: NodeName, buddy: NodeName) => {
      this.seq++;
      out.messages.push({ to: target, message: { type: 'order_role', from: self, term, seq: this.seq, target, role: 'assigner', buddy } satisfies OrderRole });
      this.pending.set(target, { atMs: nowMs, role: 'assigner', buddy });
    };
    while (orphans.length >= 2) {
      const [a, b] = orphans.splice(0, 2) as [NodeName, NodeName];
      order(a, b);
      order(b, a);
    }
    const [orphan] = orphans;
    if (orphan !== undefined) {
      const e = empties.shift();
      if (e !== undefined) {
        order(e, orphan);
        order(orphan, e);
      }
    }
    let promoted = [...this.pending].filter(([n, p]) => p.role === 'assigner' && table.get(n)?.role !== 'assigner').length;
    while (assigners.length + promoted < this.opts.assignersMin && empties.length >= 2) {
      const [a, b] = empties.splice(0, 2) as [NodeName, NodeName];
      order(a, b);
      order(b, a);
      promoted += 2;
    }
    this.workerHosts(self, term, table, nowMs, empties, out);
  }

  /**
   * Worker hosts: at least the minimum; one more while runs stay queued (growAfterMs), one fewer
   * (of those promoted for load, never a pinned one) once no run has been held for shrinkAfterMs.
   * One step per period either way, so the count does not flap.
   */
  private workerHosts(self: NodeName, term: number, table: NodeTable, nowMs: number, empties: NodeName[], out: Outbox): void {
    const isHost = this.opts.isHost;
    if (!isHost) return;
    const hosts: NodeName[] = [];
    let queued = 0;
    let held = 0;
    for (const e of table.values()) {
      if (e.status === 'dead') continue;
      if (e.role === 'worker' && isHost(e.name)) hosts.push(e.name);
      if (e.role === 'assigner') {
        queued += e.load.queued ?? 0;
        held += e.load.slotsBusy;
      }
    }
    this.queuedSinceMs = queued > 0 ? (this.queuedSinceMs ?? nowMs) : null;
    this.idleSinceMs = held === 0 ? (this.idleSinceMs ?? nowMs) : null;
    const becoming = [...this.pending].filter(([n, p]) => p.role === 'worker' && table.get(n)?.role !== 'worker').length;
    const seq = (target: NodeName, role: 'worker' | 'empty') => {
      this.seq++;
      out.messages.push({ to: target, message: { type: 'order_role', from: self, term, seq: this.seq, target, role } satisfies OrderRole });
      this.pending.set(target, { atMs: nowMs, role, buddy: null });
    };
    let count = hosts.length + becoming;
    while (count < (this.opts.workerHostsMin ?? 0) && empties.length > 0) {
      seq(empties.shift() as NodeName, 'worker');
      count++;
    }
    if (nowMs - this.lastElasticMs < Math.min(this.opts.growAfterMs ?? Infinity, this.opts.shrinkAfterMs ?? Infinity)) return;
    const grow = this.opts.growAfterMs !== undefined && this.queuedSinceMs !== null && nowMs - this.queuedSinceMs >= this.opts.growAfterMs;
    if (grow && becoming === 0 && empties.length > 0) {
      seq(empties.shift() as NodeName, 'worker');
      this.lastElasticMs = nowMs;
      this.queuedSinceMs = nowMs;
      return;
    }
    const shrink = this.opts.shrinkAfterMs !== undefined && this.idleSinceMs !== null && nowMs - this.idleSinceMs >= this.opts.shrinkAfterMs;
    const spare = hosts.filter((h) => !this.opts.pinnedWorkerHosts?.has(h) && !this.pending.has(h)).sort();
    if (shrink && spare.length > 0 && hosts.length > (this.opts.workerHostsMin ?? 0)) {
      seq(spare[spare.length - 1] as NodeName, 'empty');
      this.lastElasticMs = nowMs;
      this.idleSinceMs = nowMs;
    }
  }
}
