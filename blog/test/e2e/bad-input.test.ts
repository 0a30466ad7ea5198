// Bad input against real processes: each gets a clear error with a stable code, and nothing is lost.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { Change } from '../../src/core/types.js';
import { userToken } from '../../src/server/api.js';
import { HDR_FROM, HDR_SIG, HDR_TS, signLink } from '../../src/server/link.js';
import { http, TestWorld } from './harness.js';
import { bearer, metric, publish, register, type Writer } from './helpers.js';

const BODY_BYTES_MAX = 100_000;
const tw = new TestWorld({
  l2Continents: ['europe'],
  bodyBytesMax: BODY_BYTES_MAX,
  intervals: { heartbeatIntervalMs: 200, l1UnreachableAfterMs: 5_000, linkTimeoutMs: 3_000, syncIntervalMs: 600_000 },
});
const FR = tw.url('l2-fr-1');
const EU = tw.url('l1-europe');
let alice: Writer;
let bob: Writer;

before(async () => {
  await tw.start('l1-europe', 'l2-fr-1');
  alice = await register(FR, 'Alice', 'alice-strict');
  bob = await register(FR, 'Bob', 'bob-strict');
});
after(async () => {
  await tw.stopAll();
  tw.cleanup();
});

test('oversized bodies: 413 past the HTTP bound and past the blog body bound', async () => {
  const huge = await http('POST', `${FR}/api/blogs`, { title: 't', body: 'x'.repeat(BODY_BYTES_MAX + 1) }, bearer(alice));
  assert.equal(huge.status, 413);
  assert.equal(huge.body.code, 'BODY_TOO_LARGE');
  const long = await http('POST', `${FR}/api/blogs`, { title: 't', body: 'x'.repeat(70_000) }, bearer(alice));
  assert.equal(long.status, 413);
  assert.equal(long.body.code, 'BODY_TOO_LARGE');
  assert.match(long.body.error, /body is 70000 bytes, the limit is 65536/);
});

test('malformed fields, missing or forged tokens, video', async () => {
  const bad = await http('POST', `${FR}/api/blogs`, { title: 42, body: 'b' }, bearer(alice));
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'BAD_REQUEST');
  assert.match(bad.body.error, /^title: must be a string/);
  const extra = await http('POST', `${FR}/api/blogs`, { title: 't', body: 'b', author: 'someone-else' }, bearer(alice));
  assert.equal(extra.status, 400);
  assert.match(extra.body.error, /author/);
  const anon = await http('POST', `${FR}/api/blogs`, { title: 't', body: 'b' });
  assert.equal(anon.status, 401);
  assert.equal(anon.body.code, 'UNAUTHENTICATED');
  const forged = await http('POST', `${FR}/api/blogs`, { title: 't', body: 'b' }, { authorization: `Bearer ${alice.userId}~AAAA` });
  assert.equal(forged.status, 401);
  const video = await http('POST', `${FR}/api/blogs`, { title: 't', body: 'b', imageRefs: ['https://example.org/clip.mp4'] }, bearer(alice));
  assert.equal(video.status, 400);
  assert.equal(video.body.code, 'VIDEO_NOT_ALLOWED');
  const limit = await http('GET', `${FR}/api/blogs?limit=5000`);
  assert.equal(limit.status, 400);
  assert.match(limit.body.error, /^limit: must be 1\.\.100/);
});

test('unknown users and blogs: 404 with the reason', async () => {
  const ghost = 'u.nobody-at-all-123';
  const profile = await http('GET', `${FR}/api/users/${ghost}`);
  assert.equal(profile.status, 404);
  assert.equal(profile.body.code, 'NOT_FOUND');
  // A token this world's secret signed, for a user no L1 knows.
  const write = await http('POST', `${FR}/api/blogs`, { title: 't', body: 'b' }, { authorization: `Bearer ${userToken(tw.world.secret, ghost)}` });
  assert.equal(write.status, 404);
  assert.equal(write.body.code, 'UNKNOWN_USER');
  const blog = await http('GET', `${FR}/api/blogs/b.no-such-blog-1`);
  assert.equal(blog.status, 404);
});

test("only the author may update or delete; a delete is final", async () => {
  const id = await publish(FR, alice, 'mine', 'by Alice');
  const del = await http('DELETE', `${FR}/api/blogs/${id}`, undefined, bearer(bob));
  assert.equal(del.status, 403);
  assert.equal(del.body.code, 'NOT_AUTHOR');
  const upd = await http('PUT', `${FR}/api/blogs/${id}`, { title: 'hijacked', body: 'by Bob' }, bearer(bob));
  assert.equal(upd.status, 403);
  assert.equal((await http('GET', `${FR}/api/blogs/${id}`)).body.blog.title, 'mine');
  assert.equal((await http('GET', `${FR}/api/users/${alice.userId}`)).body.blogCount >= 1, true);
  const before = (await http('GET', `${FR}/api/users/${alice.userId}`)).body.blogCount as number;
  assert.equal((await http('DELETE', `${FR}/api/blogs/${id}`, undefined, bearer(alice))).status, 200);
  const gone = await http('GET', `${FR}/api/blogs/${id}`);
  assert.equal(gone.status, 410);
  assert.equal(gone.body.code, 'DELETED');
  assert.equal((await http('GET', `${FR}/api/users/${alice.userId}`)).body.blogCount, before - 1);
  const again = await http('PUT', `${FR}/api/blogs/${id}`, { title: 'back?', body: 'no' }, bearer(alice));
  assert.equal(again.status, 410);
});

function signed(body: string, from: string, opts: { secret?: string; tsMs?: number } = {}): Record<string, string> {
  const tsMs = opts.tsMs ?? Date.now();
  return {
    'content-type': 'application/json',
    [HDR_TS]: String(tsMs),
    [HDR_FROM]: from,
    [HDR_SIG]: signLink(opts.secret ?? tw.world.secret, tsMs, from, '/link', body),
  };
}

async function postLink(body: string, headers: Record<string, string>) {
  const r = await fetch(`${EU}/link`, { method: 'POST', body, headers, signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: (await r.json()) as any };
}

function farBlog(id: string, wallMs: number): Change {
  return {
    kind: 'blog',
    hlc: { wallMs, logical: 0, origin: 'l1-asia' },
    blog: { id, authorId: 'u.kenji-0000', authorCountry: 'jp', publicationId: 'p.kenji-0000', title: 'from Tokyo', body: 'b', imageRefs: [], createdMs: wallMs, updatedMs: wallMs },
  };
}

test('forged, stale, unsigned and malformed server-to-server messages are refused', async () => {
  const body = JSON.stringify({ messages: [{ type: 'batch', batchId: 1, changes: [farBlog('b.forged-blog-1', Date.now())] }] });
  const wrongKey = await postLink(body, signed(body, 'l1-asia', { secret: 'not-the-secret-of-this-world' }));
  assert.equal(wrongKey.status, 401);
  assert.equal(wrongKey.body.code, 'LINK_BAD_SIGNATURE');
  const unsigned = await postLink(body, { 'content-type': 'application/json' });
  assert.equal(unsigned.status, 401);
  assert.equal(unsigned.body.code, 'LINK_UNSIGNED');
  const stale = await postLink(body, signed(body, 'l1-asia', { tsMs: Date.now() - 3_600_000 }));
  assert.equal(stale.status, 401);
  assert.equal(stale.body.code, 'LINK_STALE');
  const stranger = await postLink(body, signed(body, 'l1-atlantis'));
  assert.equal(stranger.status, 401);
  assert.equal(stranger.body.code, 'LINK_UNKNOWN_PEER');
  const junk = JSON.stringify({ messages: [{ type: 'batch', batchId: 'one' }] });
  const malformed = await postLink(junk, signed(junk, 'l1-asia'));
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.code, 'LINK_MALFORMED');
  // Signed by an L2, but an L2 may not send batches: the L1 core ignores it.
  const fromL2 = await postLink(body, signed(body, 'l2-fr-1'));
  assert.equal(fromL2.status, 200);
  assert.deepEqual(fromL2.body.messages, []);
  assert.ok((await metric(EU, 'blog_refused_total', { code: 'NOT_PERMITTED' })) >= 1);
  assert.equal((await http('GET', `${FR}/api/blogs/b.forged-blog-1`)).status, 404, 'nothing forged was stored');
});

test('a clock far in the future is refused; a bounded skew is accepted', async () => {
  const ahead = JSON.stringify({ messages: [{ type: 'batch', batchId: 7, changes: [farBlog('b.from-the-future', Date.now() + 3_600_000)] }] });
  const r = await postLink(ahead, signed(ahead, 'l1-asia'));
  assert.equal(r.status, 200);
  assert.equal(r.body.messages[0].type, 'batch-refuse');
  assert.equal(r.body.messages[0].error.code, 'CLOCK_SKEW');
  assert.equal((await http('GET', `${FR}/api/blogs/b.from-the-future`)).status, 404);
  const slightly = JSON.stringify({ messages: [{ type: 'batch', batchId: 8, changes: [farBlog('b.a-bit-ahead-1', Date.now() + 5_000)] }] });
  const ok = await postLink(slightly, signed(slightly, 'l1-asia'));
  assert.deepEqual(ok.body.messages, [{ type: 'batch-ack', batchId: 8 }]);
  assert.equal((await http('GET', `${FR}/api/blogs/b.a-bit-ahead-1`)).status, 200);
});

test('a malformed world file stops `blog node` with one line per mistake', () => {
  const file = path.join(tw.dir, 'bad-world.yaml');
  writeFileSync(file, 'secret: short\ncontinents:\n  - name: atlantis\n    l1: { name: l1-x, host: 127.0.0.1, port: 99999 }\n');
  const cli = fileURLToPath(new URL('../../../bin/blog.js', import.meta.url));
  const r = spawnSync(process.execPath, [cli, 'node', '--world', file, '--name', 'l1-x'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.includes('bad-world.yaml: secret: must be at least 16 characters'), r.stderr);
  assert.ok(lines.includes('bad-world.yaml: continents[0].l1.port: must be 1..65535'), r.stderr);
  assert.ok(lines.some((l) => l.startsWith('bad-world.yaml: continents[0].name: must be one of')), r.stderr);
  assert.ok(lines.includes('bad-world.yaml: continents: must list exactly the seven continents'), r.stderr);
});

test('after all of it, a good write still works and nothing was lost', async () => {
  const id = await publish(FR, bob, 'still here', 'fine');
  assert.equal((await http('GET', `${FR}/api/blogs/${id}`)).status, 200);
  const list = await http('GET', `${FR}/api/blogs?author=${bob.userId}`);
  assert.equal(list.body.blogs.length, 1);
  assert.ok((await metric(FR, 'blog_http_requests_total', { route: 'POST /api/blogs', status: '413' })) >= 2);
  assert.ok((await metric(FR, 'blog_http_requests_total', { route: 'POST /api/blogs', status: '201' })) >= 2);
  assert.ok((await metric(FR, 'blog_http_requests_total', { route: 'GET /api/blogs/:id', status: '410' })) >= 1);
});
