// Real processes on loopback: publish in one continent and read it in another after the batch
// timeout; kill -9 an L2 in the middle of writes and restart it; cut an L2 off from its L1.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, http, TestWorld } from './harness.js';
import { bearer, metric, publish, register, reqId, type Writer } from './helpers.js';

const PROPAGATION_MS = 1_500;
const tw = new TestWorld({
  l2Continents: ['europe', 'asia'],
  intervals: {
    propagationTimeoutMs: PROPAGATION_MS,
    // No periodic sync during this file: what reaches another continent came by batch.
    syncIntervalMs: 600_000,
    heartbeatIntervalMs: 200,
    // Generous for a loaded machine: a starved L1 must not look unreachable, nor a slow reply lost.
    l1UnreachableAfterMs: 3_000,
    linkTimeoutMs: 3_000,
    writeTimeoutMs: 5_000,
    fetchTimeoutMs: 4_000,
    catchUpPageTimeoutMs: 1_000,
  },
});
const FR1 = tw.url('l2-fr-1');
const FR2 = tw.url('l2-fr-2');
const JP = tw.url('l2-jp-1');
const EU = tw.url('l1-europe');
let alice: Writer;

before(async () => {
  await tw.start('l1-europe', 'l1-asia', 'l2-fr-1', 'l2-fr-2', 'l2-jp-1');
  alice = await register(FR1, 'Alice', 'alice-in-paris');
});
after(async () => {
  await tw.stopAll();
  tw.cleanup();
});

test('a blog published in Europe is read in Asia once the batch has travelled, not before', async () => {
  // A batch leaves when its OLDEST change has waited the timeout: wait until Alice's registration
  // has travelled, so the blog starts a batch of its own.
  await eventually("Alice's registration in Asia", 20_000, async () => ((await http('GET', `${JP}/api/users/${alice.userId}`)).status === 200 ? true : undefined));
  const t0 = Date.now();
  const id = await publish(FR1, alice, 'Bonjour', 'a post from Paris');
  const early = await http('GET', `${JP}/api/blogs/${id}`);
  // The batch cannot have left l1-europe before its timeout: an earlier read must miss.
  if (Date.now() < t0 + PROPAGATION_MS) assert.equal(early.status, 404, JSON.stringify(early.body));
  // Read-your-writes at the writer's own L2, and the L1 pushed it to the continent's other L2.
  assert.equal((await http('GET', `${FR1}/api/blogs/${id}`)).status, 200);
  await eventually('the push to l2-fr-2', 10_000, async () => ((await http('GET', `${FR2}/api/blogs/${id}`)).status === 200 ? true : undefined));
  const seenAt = await eventually('the blog at l2-jp-1', 20_000, async () => {
    const r = await http('GET', `${JP}/api/blogs/${id}`);
    return r.status === 200 ? Date.now() : undefined;
  });
  assert.ok(seenAt >= t0 + PROPAGATION_MS, `seen in Asia ${seenAt - t0} ms after publishing, before the ${PROPAGATION_MS} ms batch timeout`);
  const profile = await http('GET', `${JP}/api/users/${alice.userId}`);
  assert.equal(profile.status, 200);
  assert.equal(profile.body.blogCount, 1);
  const found = await http('GET', `${JP}/api/search?q=paris`);
  assert.deepEqual(found.body.blogs.map((b: { id: string }) => b.id), [id]);
  assert.ok((await metric(EU, 'blog_batch_changes_count', { peer: 'l1-asia' })) >= 1, 'l1-europe sent a batch to l1-asia');
});

test('kill -9 of an L2 in the middle of writes: after a restart nothing acknowledged is lost or committed twice', async () => {
  const committedBefore = await metric(EU, 'blog_changes_committed_total');
  const bob = await register(FR1, 'Bob', 'bob-writes');
  const ids = Array.from({ length: 24 }, () => reqId());
  const acked = new Map<string, string>(); // requestId -> blog id
  const failed: string[] = [];
  let killed = false;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const rid = ids[next++]!;
      try {
        const r = await http('POST', `${FR1}/api/blogs`, { title: `post ${rid}`, body: 'x'.repeat(2_000), requestId: rid }, bearer(bob));
        if (r.status === 201) acked.set(rid, r.body.blog.id);
        else failed.push(rid);
      } catch {
        failed.push(rid); // the connection died with the server
      }
      if (acked.size >= 8 && !killed) {
        killed = true;
        await tw.kill9('l2-fr-1');
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  assert.ok(killed && acked.size >= 8 && failed.length > 0, `acked ${acked.size}, failed ${failed.length}`);
  // While l2-fr-1 is down, a German writer publishes (through the other French L2).
  const hans = await http('POST', `${FR2}/api/users`, { name: 'Hans', slug: 'hans-schreibt', country: 'de' });
  assert.equal(hans.status, 201);
  const hansBlog = await publish(FR2, { userId: hans.body.user.id, token: hans.body.token, publicationId: hans.body.publication.id }, 'Hallo', 'aus Berlin');
  await tw.start('l2-fr-1');
  // The writer retries what got no answer, with the same requestIds.
  for (const rid of failed) {
    const r = await eventually(`retry ${rid}`, 15_000, async () => {
      const x = await http('POST', `${FR1}/api/blogs`, { title: `post ${rid}`, body: 'x'.repeat(2_000), requestId: rid }, bearer(bob));
      return x.status === 201 ? x : undefined;
    });
    acked.set(rid, r.body.blog.id);
  }
  assert.equal(acked.size, ids.length);
  // The restarted L2 caught up from its L1 (a listing reads only its own database).
  const listed = await eventually('the catch-up at the restarted l2-fr-1', 15_000, async () => {
    const r = await http('GET', `${FR1}/api/blogs?author=${bob.userId}&limit=100`);
    return r.body.blogs?.length === ids.length ? r.body.blogs : undefined;
  });
  assert.deepEqual(new Set(listed.map((b: { id: string }) => b.id)), new Set(acked.values()));
  // The catch-up is scoped to the L2's region: the German blog is not brought in full...
  assert.deepEqual((await http('GET', `${FR1}/api/blogs?author=${hans.body.user.id}`)).body.blogs, []);
  // ...it comes on demand, from the L1, and is then held.
  const onDemand = await http('GET', `${FR1}/api/blogs/${hansBlog}`);
  assert.equal(onDemand.status, 200);
  assert.equal(onDemand.headers.get('x-blog-source'), 'l1');
  assert.equal((await http('GET', `${FR1}/api/blogs?author=${hans.body.user.id}`)).body.blogs.length, 1);
  const profile = await http('GET', `${FR2}/api/users/${bob.userId}`);
  assert.equal(profile.body.blogCount, ids.length, 'the other L2 of France holds exactly one copy of each');
  // Bob's registration (user + publication), one commit per distinct requestId (no retry committed
  // twice), and Hans's registration and blog.
  assert.equal((await metric(EU, 'blog_changes_committed_total')) - committedBefore, 2 + ids.length + 3);
});

test('an L2 cut off from its L1 refuses writes with a clear error and keeps serving reads', async () => {
  const id = await publish(FR2, alice, 'held locally', 'before the cut');
  assert.equal((await http('GET', `${FR2}/api/blogs/${id}`)).status, 200);
  tw.signal('l1-europe', 'SIGSTOP');
  try {
    const refused = await eventually('the L2 to notice its L1 is gone', 15_000, async () => {
      const r = await http('POST', `${FR2}/api/blogs`, { title: 'during the cut', body: 'refused' }, bearer(alice));
      return r.status === 503 ? r : undefined;
    });
    assert.equal(refused.body.code, 'L1_UNREACHABLE');
    assert.match(refused.body.error, /continent server is unreachable, writes are refused; reads still work/);
    const read = await http('GET', `${FR2}/api/blogs/${id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.blog.title, 'held locally');
    assert.equal((await http('GET', `${FR2}/api/blogs?author=${alice.userId}`)).status, 200);
    const health = await http('GET', `${FR2}/healthz`);
    assert.equal(health.body.l1Reachable, false);
  } finally {
    tw.signal('l1-europe', 'SIGCONT');
  }
  const back = await eventually('writes to work again', 15_000, async () => {
    const r = await http('POST', `${FR2}/api/blogs`, { title: 'after the cut', body: 'accepted' }, bearer(alice));
    return r.status === 201 ? r : undefined;
  });
  assert.equal(back.body.blog.title, 'after the cut');
});
