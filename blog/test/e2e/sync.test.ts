// Real processes on loopback: the L1 sync (its 24 hours shortened to seconds) repairs what batches
// did not deliver: an L1 killed with -9 while others wrote, and a batch lost in transit.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, http, sleep, TestWorld } from './harness.js';
import { metric, publish, register, type Writer } from './helpers.js';

const LINK_AGE_MAX_MS = 4_000;
const tw = new TestWorld({
  l2Continents: ['europe', 'asia'],
  intervals: {
    propagationTimeoutMs: 300,
    syncIntervalMs: 5_000,
    // One try per batch, then it is dropped: only the sync can repair it.
    batchRetryMs: 500,
    batchRetriesMax: 1,
    syncPageTimeoutMs: 1_000,
    heartbeatIntervalMs: 200,
    // Generous for a loaded machine: a starved L1 must not look unreachable, nor a slow reply lost.
    l1UnreachableAfterMs: 3_000,
    linkTimeoutMs: 3_000,
    // A message delayed longer than this (a frozen receiver) is refused as stale: really lost.
    linkMessageAgeMaxMs: LINK_AGE_MAX_MS,
    writeTimeoutMs: 5_000,
    fetchTimeoutMs: 4_000,
    catchUpPageTimeoutMs: 1_000,
  },
});
const FR = tw.url('l2-fr-1');
const JP = tw.url('l2-jp-1');
const EU = tw.url('l1-europe');
const AS = tw.url('l1-asia');
let alice: Writer;
let kenji: Writer;

before(async () => {
  await tw.start('l1-europe', 'l1-asia', 'l2-fr-1', 'l2-jp-1');
  alice = await register(FR, 'Alice', 'alice-sync');
  kenji = await register(JP, 'Kenji', 'kenji-sync');
});
after(async () => {
  await tw.stopAll();
  tw.cleanup();
});

async function visibleAt(l2: string, id: string, timeoutMs: number): Promise<void> {
  await eventually(`blog ${id} at ${l2}`, timeoutMs, async () => ((await http('GET', `${l2}/api/blogs/${id}`)).status === 200 ? true : undefined));
}

test('kill -9 of an L1: what it committed survives; what others wrote meanwhile arrives by the sync after its restart', async () => {
  const own = await publish(JP, kenji, 'before the crash', 'committed at l1-asia');
  await tw.kill9('l1-asia');
  const droppedBefore = await metric(EU, 'blog_batches_dropped_total', { peer: 'l1-asia' });
  const id = await publish(FR, alice, 'while Asia was down', 'written in Paris');
  await eventually('l1-europe to give up its batch to the dead l1-asia', 15_000, async () =>
    (await metric(EU, 'blog_batches_dropped_total', { peer: 'l1-asia' })) > droppedBefore ? true : undefined,
  );
  await tw.start('l1-asia');
  await visibleAt(JP, id, 20_000);
  assert.ok((await metric(AS, 'blog_sync_changes_total', { peer: 'l1-europe' })) >= 1, 'the change came in a sync page');
  const r = await http('GET', `${JP}/api/blogs/${own}`);
  assert.equal(r.status, 200, 'the blog l1-asia acknowledged before kill -9 is still there');
});

test('a batch lost in transit is repaired by the next periodic sync', async () => {
  const droppedBefore = await metric(EU, 'blog_batches_dropped_total', { peer: 'l1-asia' });
  const syncedBefore = await metric(AS, 'blog_sync_changes_total', { peer: 'l1-europe' });
  tw.signal('l1-asia', 'SIGSTOP');
  let id: string;
  try {
    id = await publish(FR, alice, 'lost batch', 'this batch never arrives');
    await eventually('the batch to be dropped', 15_000, async () =>
      (await metric(EU, 'blog_batches_dropped_total', { peer: 'l1-asia' })) > droppedBefore ? true : undefined,
    );
    // Past the replay window, the request still queued in the frozen server's socket is stale.
    await sleep(LINK_AGE_MAX_MS + 500);
  } finally {
    tw.signal('l1-asia', 'SIGCONT');
  }
  await visibleAt(JP, id, 25_000);
  // The batch was dropped and anything of it still queued at the frozen server was stale when it
  // woke (refused, or discarded with its closed connection): only a sync page could bring it.
  assert.ok((await metric(AS, 'blog_sync_changes_total', { peer: 'l1-europe' })) > syncedBefore, 'it came in a sync page');
});
