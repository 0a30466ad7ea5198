import assert from 'node:assert/strict';
import type { NodeName } from '../cluster/messages.js';
import { randomFloat, randomIntBetween, type Random } from '../cluster/random.js';

// The simulated LAN: every send becomes zero, one or two deliveries at random later times.

export interface NetworkOptions {
  latencyMinMs: number;
  latencyMaxMs: number;
  /** Chance a message is delivered twice (each copy with its own latency, so also reordered). */
  duplicateProbability: number;
  /** Chance a message is held back by up to reorderDelayMaxMs more, overtaking later ones. */
  reorderProbability: number;
  reorderDelayMaxMs: number;
}

export const DEFAULT_NETWORK: Readonly<NetworkOptions> = Object.freeze({
  latencyMinMs: 1,
  latencyMaxMs: 15,
  duplicateProbability: 0.02,
  reorderProbability: 0.05,
  reorderDelayMaxMs: 30,
});

/** Longest time a sent message can take to arrive. */
export function deliveryBoundMs(n: NetworkOptions): number {
  return n.latencyMaxMs + n.reorderDelayMaxMs;
}

export class SimNetwork {
  readonly options: NetworkOptions;
  /** Active drop faults by id: each loses its share of messages independently. */
  private readonly drops = new Map<number, number>();
  /** Active partitions by id: one side is cut off from everyone else. */
  private readonly partitions = new Map<number, ReadonlySet<NodeName>>();
  private readonly partitionSince = new Map<number, number>();

  constructor(
    options: Partial<NetworkOptions>,
    private readonly rng: Random,
  ) {
    this.options = { ...DEFAULT_NETWORK, ...options };
    assert.ok(this.options.latencyMinMs >= 0 && this.options.latencyMinMs <= this.options.latencyMaxMs, 'latency range');
  }

  addPartition(id: number, side: readonly NodeName[], nowMs = 0): void {
    this.partitions.set(id, new Set(side));
    this.partitionSince.set(id, nowMs);
  }

  removePartition(id: number): void {
    this.partitions.delete(id);
    this.partitionSince.delete(id);
  }

  activePartitions(): Array<{ side: ReadonlySet<NodeName>; sinceMs: number }> {
    return [...this.partitions].map(([id, side]) => ({ side, sinceMs: this.partitionSince.get(id) ?? 0 }));
  }

  addDrop(id: number, probability: number): void {
    assert.ok(probability >= 0 && probability <= 1, 'drop probability');
    this.drops.set(id, probability);
  }

  removeDrop(id: number): void {
    this.drops.delete(id);
  }

  /** Delivery delays for one send: empty when lost. */
  route(from: NodeName, to: NodeName): number[] {
    for (const side of this.partitions.values()) if (side.has(from) !== side.has(to)) return [];
    for (const p of this.drops.values()) if (randomFloat(this.rng) < p) return [];
    const delays = [this.delay()];
    if (randomFloat(this.rng) < this.options.duplicateProbability) delays.push(this.delay());
    return delays;
  }

  private delay(): number {
    const o = this.options;
    let d = randomIntBetween(this.rng, o.latencyMinMs, o.latencyMaxMs);
    if (randomFloat(this.rng) < o.reorderProbability) d += randomIntBetween(this.rng, 0, o.reorderDelayMaxMs);
    return d;
  }
}
