// A binary min-heap of events ordered by (time, insertion order): equal times run in the order
// they were scheduled, so a run is deterministic.
export interface Scheduled<T> {
  readonly atMs: number;
  readonly order: number;
  readonly item: T;
}

export class EventHeap<T> {
  private readonly items: Array<Scheduled<T>> = [];
  private order = 0;

  get size(): number {
    return this.items.length;
  }

  push(atMs: number, item: T): void {
    const it = { atMs, order: this.order++, item };
    const a = this.items;
    a.push(it);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  peekTime(): number | undefined {
    return this.items[0]?.atMs;
  }

  pop(): Scheduled<T> | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

function less<T>(x: Scheduled<T>, y: Scheduled<T>): boolean {
  return x.atMs < y.atMs || (x.atMs === y.atMs && x.order < y.order);
}
