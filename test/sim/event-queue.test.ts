import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EventQueue } from '../../src/sim/event-queue.js';

test('pops by time, and in insertion order within a time', () => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 20 }), { maxLength: 200 }), (times) => {
      const q = new EventQueue<number>();
      times.forEach((t, i) => q.push(t, i));
      const popped: Array<[number, number]> = [];
      for (let e = q.pop(); e !== undefined; e = q.pop()) popped.push([e.atMs, e.item]);
      const expected = times.map((t, i) => [t, i] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      assert.deepEqual(popped, expected);
    }),
  );
});

test('refuses non-finite times', () => {
  assert.throws(() => new EventQueue<number>().push(Number.POSITIVE_INFINITY, 1), /finite/);
});
