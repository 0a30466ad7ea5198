import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomInt, shuffleInPlace } from '../../src/cluster/random.js';
import { Xoshiro128 } from '../../src/sim/prng.js';

test('same seed, same stream; neighbouring seeds, different streams', () => {
  const draw = (seed: number) => Array.from({ length: 5 }, ((r) => () => r.nextUint32())(new Xoshiro128(seed)));
  assert.deepEqual(draw(42), draw(42));
  assert.notDeepEqual(draw(42), draw(43));
  assert.ok(draw(0).some((x) => x !== 0), 'seed 0 is not a dead state');
});

test('output is uniform enough for scheduling (chi-square over 16 buckets)', () => {
  const r = new Xoshiro128(7);
  const buckets = new Array(16).fill(0) as number[];
  const n = 160_000;
  for (let i = 0; i < n; i++) buckets[randomInt(r, 16)]! += 1;
  const expected = n / 16;
  const chi2 = buckets.reduce((s, b) => s + (b - expected) ** 2 / expected, 0);
  assert.ok(chi2 < 37.7, `chi-square ${chi2.toFixed(1)} (p=0.001 cut-off for 15 degrees of freedom)`);
});

test('shuffle is a permutation and forks are independent of later parent draws', () => {
  const r = new Xoshiro128(3);
  assert.deepEqual(shuffleInPlace(r, [1, 2, 3, 4, 5, 6]).sort(), [1, 2, 3, 4, 5, 6]);
  const a = new Xoshiro128(9);
  const childA = a.fork();
  const b = new Xoshiro128(9);
  const childB = b.fork();
  b.nextUint32();
  assert.equal(childA.nextUint32(), childB.nextUint32());
});
