import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedQueue } from '../../src/common/bounded-queue.js';

test('bounded queue signals full and drains in order', async () => {
  const q = new BoundedQueue<number>(4);
  assert.equal(q.push(1), true);
  assert.equal(q.push(2), true);
  assert.equal(q.push(3), true);
  assert.equal(q.push(4), false, 'full at capacity');
  let drained = false;
  q.onDrain(() => (drained = true));
  assert.equal(await q.shift(), 1);
  assert.equal(drained, false);
  assert.equal(await q.shift(), 2);
  assert.equal(drained, true, 'drain fires at half capacity');
  q.close();
  const rest: number[] = [];
  for await (const x of q) rest.push(x);
  assert.deepEqual(rest, [3, 4]);
});

test('bounded queue refuses a producer that ignores back-pressure', () => {
  const q = new BoundedQueue<number>(2, 2);
  q.push(1);
  q.push(2);
  q.push(3);
  q.push(4);
  assert.throws(() => q.push(5), /back-pressure/);
});

test('takeNow removes what is queued without waiting, and signals drain', () => {
  const q = new BoundedQueue<number>(4);
  for (const x of [1, 2, 3, 4]) q.push(x);
  let drained = false;
  q.onDrain(() => (drained = true));
  assert.deepEqual(q.takeNow(3), [1, 2, 3]);
  assert.equal(drained, true);
  assert.deepEqual(q.takeNow(10), [4]);
  assert.deepEqual(q.takeNow(10), []);
});
