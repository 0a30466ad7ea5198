import assert from 'node:assert/strict';

/**
 * The only source of randomness a protocol core may use. The simulator passes a seeded PRNG so a
 * run replays exactly; a real driver passes one seeded from crypto.randomInt at boot.
 */
export interface Random {
  /** A uniformly distributed integer in [0, 2^32). */
  nextUint32(): number;
}

const TWO_POW_32 = 4294967296;

/** A float in [0, 1). */
export function randomFloat(rng: Random): number {
  return rng.nextUint32() / TWO_POW_32;
}

/** An integer in [0, maxExclusive). Bias is below 2^-20 for the small ranges cores use. */
export function randomInt(rng: Random, maxExclusive: number): number {
  assert.ok(Number.isInteger(maxExclusive) && maxExclusive > 0 && maxExclusive <= 1 << 20, 'randomInt range');
  return Math.floor(randomFloat(rng) * maxExclusive);
}

/** An integer in [min, max], both inclusive. */
export function randomIntBetween(rng: Random, min: number, max: number): number {
  assert.ok(min <= max, 'randomIntBetween: min > max');
  return min + randomInt(rng, max - min + 1);
}

/** Fisher–Yates; the array is small (bounded by its caller). */
export function shuffleInPlace<T>(rng: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}
