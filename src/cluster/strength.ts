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

export class StrengthKeeper {
  private seq = 0;
  private seqTerm = -1;
  private termSinceMs = 0;
  /** Orders in flight: node → when it was ordered. Bounded by the nodes in the table. */
  private readonly pending = new Map<NodeName, number>();

  constructor(private readonly opts: StrengthOptions) {}

  /** Called on the leader's periodic check; appends at most the orders that restore the minimum. */
  check(self: NodeName, term: number, table: NodeTable, nowMs: number, out: Outbox): void {
    if (term !== this.seqTerm) {
      this.seqTerm = term;
      this.termSinceMs = nowMs;
      this.seq = 0;
      this.pending.clear();
    }
    if (nowMs - this.termSinceMs < this.opts.settleMs) return;
    let assigners = 0;
    const empties: NodeName[] = [];
    for (const e of table.values()) {
      // A suspect Assigner still counts: a suspicion may be refuted, a promotion is not undone.
      if (e.role === 'assigner' && e.status !== 'dead') assigners++;
      else if (e.role === 'empty' && e.status === 'alive' && !this.opts.nonPromotable.has(e.name)) empties.push(e.name);
    }
    for (const [name, at] of this.pending) {
      if (table.get(name)?.role === 'assigner' || nowMs - at > this.opts.orderRetryMs) this.pending.delete(name);
    }
    const wanted = Math.max(this.opts.assignersMin, assigners % 2 === 0 ? assigners : assigners + 1);
    let missing = wanted - assigners - this.pending.size;
    for (const name of empties.sort()) {
      if (missing <= 0) break;
      if (this.pending.has(name)) continue;
      this.seq++;
      const order: OrderRole = { type: 'order_role', from: self, term, seq: this.seq, target: name, role: 'assigner' };
      out.messages.push({ to: name, message: order });
      this.pending.set(name, nowMs);
      missing--;
    }
  }
}
