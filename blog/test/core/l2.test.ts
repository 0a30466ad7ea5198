import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultL2Config, L2Core, type L2Config } from '../../src/core/l2.js';
import type { Action, ClientReply, ClientRequest, L1ToL2, L2ToL1 } from '../../src/core/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { blogChange, hlc, tombstoneChange } from '../store/contract.js';

function makeL2(over: Partial<L2Config> = {}, store = new MemoryStore()) {
  const core = new L2Core({ ...defaultL2Config({ id: 'l2-fr-1', country: 'fr', continent: 'europe', l1: 'l1-europe' }), heartbeatIntervalMs: 1000, l1UnreachableAfterMs: 3000, writeTimeoutMs: 2000, fetchTimeoutMs: 2000, ...over }, store);
  core.handle({ type: 'start' }, 0);
  return { core, store };
}

function sent(actions: Action[]): L2ToL1[] {
  return actions.flatMap((a) => (a.type === 'send' ? [a.msg as L2ToL1] : []));
}

function one<T extends L2ToL1['type']>(actions: Action[], type: T): Extract<L2ToL1, { type: T }> {
  const m = sent(actions).filter((x) => x.type === type);
  assert.equal(m.length, 1, `expected one ${type}, got ${m.length}`);
  return m[0] as Extract<L2ToL1, { type: T }>;
}

function reply(actions: Action[], id: number): ClientReply {
  const r = actions.find((a) => a.type === 'reply' && a.clientReqId === id);
  assert.ok(r && r.type === 'reply', `no reply to ${id}`);
  return r.reply;
}

const getBlog = (blogId: string): ClientRequest => ({ kind: 'read', request: { op: 'get-blog', blogId } });
const from = (msg: L1ToL2) => ({ type: 'message' as const, from: 'l1-europe', msg });

describe('L2Core reads', () => {
  it('a miss asks the L1, answers with what it returns, stores it; the next read is a cache hit', () => {
    const { core, store } = makeL2();
    const out = core.handle({ type: 'client', clientReqId: 1, request: getBlog('b.abcdefgh') }, 100);
    const fetch = one(out, 'fetch');
    assert.equal(fetch.key, 'blog:b.abcdefgh');
    const answered = core.handle(from({ type: 'fetch-reply', corrId: fetch.corrId, key: fetch.key, change: blogChange('b.abcdefgh', hlc(50)) }), 150);
    const r = reply(answered, 1);
    assert.ok(r.ok && r.kind === 'blog' && r.source === 'l1');
    assert.ok(store.getBlog('b.abcdefgh'));
    const hit = reply(core.handle({ type: 'client', clientReqId: 2, request: getBlog('b.abcdefgh') }, 200), 2);
    assert.ok(hit.ok && hit.kind === 'blog' && hit.source === 'cache');
  });

  it('answers NOT_FOUND when the L1 has nothing, DELETED for a held tombstone', () => {
    const { core, store } = makeL2();
    const fetch = one(core.handle({ type: 'client', clientReqId: 1, request: getBlog('b.nothing1') }, 100), 'fetch');
    const r = reply(core.handle(from({ type: 'fetch-reply', corrId: fetch.corrId, key: fetch.key, change: null }), 120), 1);
    assert.ok(!r.ok && r.error.code === 'NOT_FOUND');
    store.apply(tombstoneChange('b.gone0001', hlc(5)));
    const d = reply(core.handle({ type: 'client', clientReqId: 2, request: getBlog('b.gone0001') }, 130), 2);
    assert.ok(!d.ok && d.error.code === 'DELETED');
  });

  it('a push replaces a cached copy (no stale cache)', () => {
    const { core } = makeL2();
    core.handle(from({ type: 'push', afterSeq: 0, toSeq: 1, changes: [blogChange('b.abcdefgh', hlc(10), { title: 'v1' })] }), 10);
    core.handle({ type: 'client', clientReqId: 1, request: getBlog('b.abcdefgh') }, 20); // fills the cache
    core.handle(from({ type: 'push', afterSeq: 1, toSeq: 2, changes: [blogChange('b.abcdefgh', hlc(30), { title: 'v2' })] }), 30);
    const r = reply(core.handle({ type: 'client', clientReqId: 2, request: getBlog('b.abcdefgh') }, 40), 2);
    assert.ok(r.ok && r.kind === 'blog' && r.blog.title === 'v2');
  });

  it('profile blog count is this server\'s view of the author\'s live blogs', () => {
    const { core, store } = makeL2();
    store.apply({ kind: 'user', hlc: hlc(1), user: { id: 'u.alice', name: 'A', country: 'fr', publicationId: 'p.alice', createdMs: 1 } });
    store.apply(blogChange('b.one00000', hlc(2)));
    store.apply(blogChange('b.two00000', hlc(3)));
    store.apply(tombstoneChange('b.two00000', hlc(4)));
    const r = reply(core.handle({ type: 'client', clientReqId: 1, request: { kind: 'read', request: { op: 'get-profile', userId: 'u.alice' } } }, 10), 1);
    assert.ok(r.ok && r.kind === 'profile' && r.blogCount === 1);
  });

  it('rejects an out-of-bounds list limit with BAD_REQUEST', () => {
    const { core } = makeL2();
    const r = reply(core.handle({ type: 'client', clientReqId: 1, request: { kind: 'read', request: { op: 'list-recent', limit: 100_000 } } }, 10), 1);
    assert.ok(!r.ok && r.error.code === 'BAD_REQUEST');
  });
});

describe('L2Core writes and partitions', () => {
  const create: ClientRequest = { kind: 'write', request: { requestId: 'post00001', userId: 'u.alice0001', write: { op: 'create-blog', title: 'Hi', body: 'b', imageRefs: [] } } };

  it('forwards a write, answers only on the L1 ack, and then serves it itself (read-your-writes)', () => {
    const { core } = makeL2();
    const out = core.handle({ type: 'client', clientReqId: 1, request: create }, 100);
    assert.ok(!out.some((a) => a.type === 'reply'), 'nothing acknowledged before the L1 commits');
    const w = one(out, 'write');
    const c = blogChange('b.post00001', hlc(110, 0, 'l1-europe'), { authorId: 'u.alice0001' });
    const r = reply(core.handle(from({ type: 'write-ack', corrId: w.corrId, changes: [c] }), 120), 1);
    assert.ok(r.ok && r.kind === 'written');
    const read = reply(core.handle({ type: 'client', clientReqId: 2, request: getBlog('b.post00001') }, 130), 2);
    assert.ok(read.ok && read.kind === 'blog' && read.source !== 'l1');
  });

  it('a write the L1 does not answer in time gets L1_TIMEOUT; a refusal passes its code through', () => {
    const { core } = makeL2();
    const w = one(core.handle({ type: 'client', clientReqId: 1, request: create }, 100), 'write');
    const t = reply(core.handle({ type: 'timer', timer: { kind: 'request-timeout', corrId: w.corrId } }, 2100), 1);
    assert.ok(!t.ok && t.error.code === 'L1_TIMEOUT');
    const w2 = one(core.handle({ type: 'client', clientReqId: 2, request: create }, 2200), 'write');
    const r = reply(core.handle(from({ type: 'write-refuse', corrId: w2.corrId, error: { code: 'NOT_AUTHOR', message: 'no' } }), 2300), 2);
    assert.ok(!r.ok && r.error.code === 'NOT_AUTHOR');
  });

  it('cut off from its L1: refuses writes with L1_UNREACHABLE, serves what it holds, fails misses with CONTINENT_UNREACHABLE', () => {
    const { core, store } = makeL2();
    store.apply(blogChange('b.held0001', hlc(1)));
    const now = 3001; // no word from the L1 since start (t=0) for longer than l1UnreachableAfterMs
    const w = reply(core.handle({ type: 'client', clientReqId: 1, request: create }, now), 1);
    assert.ok(!w.ok && w.error.code === 'L1_UNREACHABLE');
    const held = reply(core.handle({ type: 'client', clientReqId: 2, request: getBlog('b.held0001') }, now), 2);
    assert.ok(held.ok && held.kind === 'blog');
    const miss = reply(core.handle({ type: 'client', clientReqId: 3, request: getBlog('b.missing1') }, now), 3);
    assert.ok(!miss.ok && miss.error.code === 'CONTINENT_UNREACHABLE');
    core.handle(from({ type: 'heartbeat-ack', headSeq: 0 }), now + 1);
    const back = core.handle({ type: 'client', clientReqId: 4, request: create }, now + 2);
    assert.equal(one(back, 'write').request.requestId, 'post00001', 'writes flow again once the L1 answers');
  });

  it('bounds requests waiting for the L1 (OVERLOADED)', () => {
    const { core } = makeL2({ pendingRequestsMax: 2 });
    core.handle({ type: 'client', clientReqId: 1, request: getBlog('b.aaaaaaaa') }, 10);
    core.handle({ type: 'client', clientReqId: 2, request: getBlog('b.bbbbbbbb') }, 10);
    const r = reply(core.handle({ type: 'client', clientReqId: 3, request: getBlog('b.cccccccc') }, 10), 3);
    assert.ok(!r.ok && r.error.code === 'OVERLOADED');
  });

  it('concurrent misses for one blog share one fetch (singleflight); every waiter gets the answer, or the timeout', () => {
    const { core, store } = makeL2();
    const first = core.handle({ type: 'client', clientReqId: 1, request: getBlog('b.shared01') }, 100);
    const fetch = one(first, 'fetch');
    for (const id of [2, 3]) assert.deepEqual(sent(core.handle({ type: 'client', clientReqId: id, request: getBlog('b.shared01') }, 110)), [], 'joins, sends nothing');
    const answered = core.handle(from({ type: 'fetch-reply', corrId: fetch.corrId, key: fetch.key, change: blogChange('b.shared01', hlc(50)) }), 150);
    for (const id of [1, 2, 3]) {
      const r = reply(answered, id);
      assert.ok(r.ok && r.kind === 'blog' && r.blog.id === 'b.shared01' && r.source === 'l1', `reader ${id}`);
    }
    assert.ok(store.getBlog('b.shared01'));
    // Once answered, the key is no longer in flight: a new miss (another blog) sends its own fetch.
    const other = one(core.handle({ type: 'client', clientReqId: 4, request: getBlog('b.other001') }, 200), 'fetch');
    core.handle({ type: 'client', clientReqId: 5, request: getBlog('b.other001') }, 210);
    const timedOut = core.handle({ type: 'timer', timer: { kind: 'request-timeout', corrId: other.corrId } }, 2300);
    for (const id of [4, 5]) {
      const r = reply(timedOut, id);
      assert.ok(!r.ok && r.error.code === 'CONTINENT_UNREACHABLE', `reader ${id}`);
    }
    const late = core.handle(from({ type: 'fetch-reply', corrId: other.corrId, key: other.key, change: blogChange('b.other001', hlc(60)) }), 2400);
    assert.equal(late.filter((a) => a.type === 'reply').length, 0, 'a late answer answers nobody twice');
    assert.equal(store.getBlog('b.other001'), undefined, 'and is not stored');
  });

  it('bounds distinct fetches in flight (OVERLOADED at once, nothing sent); joining a fetch in flight still counts toward pendingRequestsMax', () => {
    const { core } = makeL2({ fetchesInFlightMax: 2, pendingRequestsMax: 4 });
    const a = one(core.handle({ type: 'client', clientReqId: 1, request: getBlog('b.aaaaaaaa') }, 10), 'fetch');
    one(core.handle({ type: 'client', clientReqId: 2, request: getBlog('b.bbbbbbbb') }, 10), 'fetch');
    const over = core.handle({ type: 'client', clientReqId: 3, request: getBlog('b.cccccccc') }, 10);
    assert.deepEqual(sent(over), []);
    const r = reply(over, 3);
    assert.ok(!r.ok && r.error.code === 'OVERLOADED' && /2 reads already wait/.test(r.error.message));
    // Joins are not new fetches: two more readers of b.aaaaaaaa wait (4 waiting in all), the fifth is refused.
    assert.deepEqual(sent(core.handle({ type: 'client', clientReqId: 4, request: getBlog('b.aaaaaaaa') }, 11)), []);
    assert.deepEqual(sent(core.handle({ type: 'client', clientReqId: 5, request: getBlog('b.aaaaaaaa') }, 11)), []);
    const full = reply(core.handle({ type: 'client', clientReqId: 6, request: getBlog('b.aaaaaaaa') }, 11), 6);
    assert.ok(!full.ok && full.error.code === 'OVERLOADED' && /4 requests already wait/.test(full.error.message));
    // An answer frees its slot and its waiters: a new key is fetched again.
    const done = core.handle(from({ type: 'fetch-reply', corrId: a.corrId, key: a.key, change: null }), 20);
    for (const id of [1, 4, 5]) assert.ok(!reply(done, id).ok);
    one(core.handle({ type: 'client', clientReqId: 7, request: getBlog('b.cccccccc') }, 21), 'fetch');
  });
});

describe('L2Core catch-up', () => {
  it('a (re)start asks for everything after its last synced position; notices for held older keys become wantKeys', () => {
    const store = new MemoryStore();
    store.setCheckpoint('l1-europe', 7);
    store.apply(blogChange('b.old00001', hlc(5), { authorCountry: 'de' }));
    const core = new L2Core(defaultL2Config({ id: 'l2-fr-1', country: 'fr', continent: 'europe', l1: 'l1-europe' }), store);
    const req = one(core.handle({ type: 'start' }, 0), 'catchup-request');
    assert.deepEqual({ phase: req.phase, afterSeq: req.afterSeq, country: req.country }, { phase: 'log', afterSeq: 7, country: 'fr' });
    const page: L1ToL2 = {
      type: 'catchup-page', corrId: req.corrId, phase: 'log', afterSeq: 7, toSeq: 12, done: true,
      changes: [blogChange('b.fr000001', hlc(9))],
      notices: [{ key: 'blog:b.old00001', hlc: hlc(11) }, { key: 'blog:b.notheld1', hlc: hlc(11) }],
    };
    const next = one(core.handle(from(page), 10), 'catchup-request');
    assert.deepEqual(next.wantKeys, ['blog:b.old00001']);
    assert.equal(core.synced, 7, 'not synced until the wanted keys arrived');
    const last = core.handle(from({ type: 'catchup-page', corrId: next.corrId, phase: 'log', afterSeq: 12, toSeq: 12, done: true, changes: [blogChange('b.old00001', hlc(11), { authorCountry: 'de' })], notices: [] }), 20);
    assert.equal(core.synced, 12);
    assert.equal(store.getCheckpoint('l1-europe'), 12);
    assert.equal(one(last, 'catchup-request').phase, 'most-read');
  });

  it('a push after a gap starts a catch-up; a contiguous push advances the synced position', () => {
    const { core } = makeL2();
    const first = core.handle(from({ type: 'catchup-page', corrId: 999, phase: 'log', afterSeq: 0, toSeq: 0, done: true, changes: [], notices: [] }), 1);
    assert.deepEqual(sent(first), [], 'a page for another catch-up is ignored');
    // Finish the start-up catch-up.
    const start = new MemoryStore();
    const l2 = new L2Core(defaultL2Config({ id: 'l2-fr-1', country: 'fr', continent: 'europe', l1: 'l1-europe' }), start);
    const req = one(l2.handle({ type: 'start' }, 0), 'catchup-request');
    const mr = one(l2.handle(from({ type: 'catchup-page', corrId: req.corrId, phase: 'log', afterSeq: 0, toSeq: 0, done: true, changes: [], notices: [] }), 1), 'catchup-request');
    l2.handle(from({ type: 'catchup-page', corrId: mr.corrId, phase: 'most-read', afterSeq: 0, toSeq: 0, done: true, changes: [], notices: [] }), 2);
    assert.equal(l2.catchingUp, false);
    l2.handle(from({ type: 'push', afterSeq: 0, toSeq: 1, changes: [blogChange('b.a0000001', hlc(1))] }), 3);
    assert.equal(l2.synced, 1);
    const gap = l2.handle(from({ type: 'push', afterSeq: 5, toSeq: 6, changes: [blogChange('b.b0000001', hlc(6))] }), 4);
    const gapReq = one(gap, 'catchup-request');
    assert.equal(gapReq.afterSeq, 1);
    assert.ok(start.getBlog('b.b0000001'), 'the out-of-order push is applied anyway (LWW makes that safe)');
    const closed = l2.handle(from({ type: 'catchup-page', corrId: gapReq.corrId, phase: 'log', afterSeq: 1, toSeq: 6, done: true, changes: [], notices: [] }), 5);
    assert.deepEqual(sent(closed), [], 'a gap repair does not ask for the most-read blogs again');
    assert.equal(l2.synced, 6);
    assert.equal(l2.catchingUp, false);
  });
});


describe('L2Core across a restart', () => {
  it('correlation ids start past the previous process\'s, so a late ack cannot answer a new writer; a mismatched ack is ignored', () => {
    const store = new MemoryStore();
    const cfg = defaultL2Config({ id: 'l2-fr-1', country: 'fr', continent: 'europe', l1: 'l1-europe' });
    const before = new L2Core(cfg, store);
    before.handle({ type: 'start' }, 1_000);
    const old = one(before.handle({ type: 'client', clientReqId: 1, request: { kind: 'write', request: { requestId: 'oldpost01', userId: 'u.alice0001', write: { op: 'create-blog', title: 'a', body: 'b', imageRefs: [] } } } }, 1_001), 'write');
    const after = new L2Core(cfg, store); // the crash: same store, new process
    after.handle({ type: 'start' }, 5_000);
    const fresh = one(after.handle({ type: 'client', clientReqId: 7, request: { kind: 'write', request: { requestId: 'newpost01', userId: 'u.bobby0001', write: { op: 'delete-blog', blogId: 'b.someone1' } } } }, 5_001), 'write');
    assert.ok(fresh.corrId > old.corrId, `${fresh.corrId} > ${old.corrId}`);
    const late = after.handle(from({ type: 'write-ack', corrId: fresh.corrId, changes: [blogChange('b.oldpost01', hlc(1_002, 0, 'l1-europe'))] }), 5_002);
    assert.ok(!late.some((a) => a.type === 'reply'), 'an ack that is not this write answers nobody');
    assert.ok(late.some((a) => a.type === 'log' && a.code === 'ACK_MISMATCH'));
  });
});
