import assert from 'node:assert/strict';
import type { Random } from '../cluster/random.js';

/**
 * xoshiro128** (Blackman & Vigna): 128 bits of state, period 2^128 − 1, fast on 32-bit integer
 * maths, which is all JavaScript's bitwise operators give. Seeded through splitmix32 so that
 * neighbouring seeds (1, 2, 3...) start far apart.
 */
export class Xoshiro128 implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    assert.ok(Number.isInteger(seed), 'PRNG seed must be an integer');
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    // An all-zero state would stay zero forever.
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A child generator: gives each simulated node its own stream, so adding a draw in one node
   * does not shift every other node's randomness. */
  fork(): Xoshiro128 {
    return new Xoshiro128(this.nextUint32());
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
