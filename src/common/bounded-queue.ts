import assert from 'node:assert/strict';

/**
 * A FIFO with a fixed capacity between one producer and one async consumer.
 * `push` returns false once the queue is full: the producer must stop (pause its stream) and wait
 * for `onDrain`, which is how back-pressure reaches a sandboxed program's write().
 */
export class BoundedQueue<T> implements AsyncIterable<T> {
  readonly capacity: number;
  private readonly items: T[] = [];
  private closed = false;
  private waiter: (() => void) | null = null;
  private drainListeners: Array<() => void> = [];

  /**
   * @param capacity items at which push() starts answering "full".
   * @param overshootMax items a producer may still push after "full": a stream already reading
   *   delivers one more buffer before its pause takes hold. Past capacity + overshootMax is a bug.
   */
  constructor(capacity: number, readonly overshootMax = capacity) {
    assert.ok(Number.isInteger(capacity) && capacity > 0, 'queue capacity must be a positive integer');
    this.capacity = capacity;
  }

  get length(): number {
    return this.items.length;
  }

  get isFull(): boolean {
    return this.items.length >= this.capacity;
  }

  /** Adds an item; false means "full now, stop producing until drain". Never drops. */
  push(item: T): boolean {
    assert.ok(!this.closed, 'push after close');
    assert.ok(this.items.length < this.capacity + this.overshootMax, 'producer ignored back-pressure');
    this.items.push(item);
    this.wake();
    return this.items.length < this.capacity;
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  /** Calls fn once, the next time the queue falls below half its capacity. */
  onDrain(fn: () => void): void {
    this.drainListeners.push(fn);
  }

  /** Takes up to max items that are queued now, without waiting. */
  takeNow(max: number): T[] {
    const items = this.items.splice(0, Math.max(0, max));
    if (items.length > 0) this.maybeDrain();
    return items;
  }

  private maybeDrain(): void {
    if (this.items.length <= this.capacity / 2 && this.drainListeners.length > 0) {
      const listeners = this.drainListeners;
      this.drainListeners = [];
      for (const fn of listeners) fn();
    }
  }

  async shift(): Promise<T | undefined> {
    while (this.items.length === 0) {
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const item = this.items.shift() as T;
    this.maybeDrain();
    return item;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = await this.shift();
      if (item === undefined) return;
      yield item;
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
