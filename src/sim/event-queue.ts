import assert from 'node:assert/strict';

/** Simulated events pending at once; a run that exceeds it has a runaway loop, not a workload. */
export const EVENT_QUEUE_MAX = 1_000_000;

interface Slot<T> {
  atMs: number;
  /** Insertion order breaks time ties, so equal-time events replay in the same order. */
  seq: number;
  item: T;
}

/** Binary min-heap ordered by (atMs, insertion order). */
export class EventQueue<T> {
  private readonly heap: Slot<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(atMs: number, item: T): void {
    assert.ok(Number.isFinite(atMs), 'event time must be finite');
    assert.ok(this.heap.length < EVENT_QUEUE_MAX, 'event queue overflow');
    this.heap.push({ atMs, seq: this.seq++, item });
    this.siftUp(this.heap.length - 1);
  }

  peekTime(): number | undefined {
    return this.heap[0]?.atMs;
  }

  pop(): { atMs: number; item: T } | undefined {
    const top = this.heap[0];
    if (top === undefined) return undefined;
    const last = this.heap.pop() as Slot<T>;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return { atMs: top.atMs, item: top.item };
  }

  private less(i: number, j: number): boolean {
    const a = this.heap[i] as Slot<T>;
    const b = this.heap[j] as Slot<T>;
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const t = this.heap[i] as Slot<T>;
    this.heap[i] = this.heap[j] as Slot<T>;
    this.heap[j] = t;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
