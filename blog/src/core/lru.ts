// A bounded least-recently-used map: each L2's own cache (the design's "independent cache per
// server"). Map keeps insertion order, so re-inserting on access makes the first key the LRU one.
import assert from 'node:assert/strict';

export class Lru<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly entriesMax: number) {
    assert.ok(Number.isInteger(entriesMax) && entriesMax > 0, `LRU entriesMax must be a positive integer, got ${entriesMax}`);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.entriesMax) {
      const oldest = this.map.keys().next().value as K;
      this.map.delete(oldest);
    }
  }

  delete(key: K): void {
    this.map.delete(key);
  }
}
