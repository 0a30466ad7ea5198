import assert from 'node:assert/strict';
import test from 'node:test';
import { Worker } from 'node:worker_threads';
import { PingAnswers } from '../../src/worker/ping-answer.js';

const load = (n: number) => ({ psiCpu: n / 100, psiMemory: 0.25, psiIo: 0, slotsFree: n % 3, slotsBusy: 1 });

test('no answer before the first; then the newest whole answer', () => {
  const a = PingAnswers.create();
  assert.equal(a.read(), null);
  a.write(1, load(1));
  assert.deepEqual(a.read(), { seq: 1, load: load(1) });
  a.write(7, load(7));
  assert.deepEqual(new PingAnswers(a.buffer).read(), { seq: 7, load: load(7) }, 'another view of the same memory reads it');
});

test('an answer being written is not read (odd version): the reader keeps its previous one', () => {
  const a = PingAnswers.create();
  a.write(3, load(3));
  const control = new Int32Array(a.buffer, 0, 2);
  Atomics.add(control, 0, 1); // as if the writer stopped between its two version bumps
  assert.equal(a.read(), null);
  Atomics.add(control, 0, 1);
  assert.deepEqual(a.read(), { seq: 3, load: load(3) });
});

test('a buffer too small is refused with the size it needs', () => {
  assert.throws(() => new PingAnswers(new SharedArrayBuffer(8)), /needs 48 bytes, got 8/);
});

test('across threads: a reader never sees a torn answer while the writer writes', async () => {
  const a = PingAnswers.create();
  // The writer thread writes answers whose fields all derive from the ping number.
  const writer = new Worker(
    `const { workerData } = require('node:worker_threads');
     const c = new Int32Array(workerData, 0, 2), v = new Float64Array(workerData, 8, 5);
     for (let seq = 1; seq <= 200000; seq++) {
       const ver = Atomics.load(c, 0); Atomics.store(c, 0, ver + 1); Atomics.store(c, 1, seq);
       v[0] = seq; v[1] = seq * 2; v[2] = seq * 3; v[3] = seq % 7; v[4] = seq % 11;
       Atomics.store(c, 0, ver + 2);
     }`,
    { eval: true, workerData: a.buffer },
  );
  const done = new Promise((resolve, reject) => writer.on('exit', resolve).on('error', reject));
  let reads = 0;
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) {
    const r = a.read();
    if (r !== null) {
      reads += 1;
      const s = r.seq;
      assert.deepEqual(r.load, { psiCpu: s, psiMemory: s * 2, psiIo: s * 3, slotsFree: s % 7, slotsBusy: s % 11 }, `answer ${s} is whole`);
    }
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(reads > 0, 'the reader read answers while the writer ran');
});
