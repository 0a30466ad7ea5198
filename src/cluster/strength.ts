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
}

interface Pending {
  atMs: number;
  role: 'assigner';
  buddy: NodeName;
}

export class StrengthKeeper {
  private seq = 0;
  private seqTerm = -1;
  private termSinceMs = 0;
  /** Orders in flight: node → what it was ordered and when. Bounded by the nodes in the table. */
  private readonly pending = new Map<NodeName, Pending>();

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
      const done = e?.role === p.role && (e.buddy ?? null) === p.buddy;
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
    let promoted = [...this.pending.keys()].filter((n) => table.get(n)?.role !== 'assigner').length;
    while (assigners.length + promoted < this.opts.assignersMin && empties.length >= 2) {
      const [a, b] = empties.splice(0, 2) as [NodeName, NodeName];
      order(a, b);
      order(b, a);
      promoted += 2;
    }
  }
}
