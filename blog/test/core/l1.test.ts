import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultL1Config, L1Core, type L1Config } from '../../src/core/l1.js';
import type { Action, Change, L1ToL1, L1ToL2, Message, WriteOp } from '../../src/core/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { blogChange, hlc } from '../store/contract.js';

const PEERS = ['l1-asia', 'l1-africa'];
const L2S = ['l2-fr-1', 'l2-de-1'];

function makeL1(over: Partial<L1Config> = {}) {
  const store = new MemoryStore();
  const core = new L1Core({ ...defaultL1Config({ id: 'l1-europe', continent: 'europe', peers: PEERS, l2s: L2S }), ...over }, store);
  return { core, store };
}

function sends(actions: Action[], to?: string): Message[] {
  return actions.flatMap((a) => (a.type === 'send' && (to === undefined || a.to === to) ? [a.msg] : []));
}

function only<T extends Message['type']>(actions: Action[], type: T, to?: string): Extract<Message, { type: T }> {
  const found = sends(actions, to).filter((m) => m.type === type);
  assert.equal(found.length, 1, `expected one ${type}${to ? ` to ${to}` : ''}, got ${found.length}`);
  return found[0] as Extract<Message, { type: T }>;
}

let corr = 0;
function write(core: L1Core, now: number, requestId: string, userId: string | null, w: WriteOp, from = 'l2-fr-1'): Action[] {
  return core.handle({ type: 'message', from, msg: { type: 'write', corrId: ++corr, request: { requestId, userId, write: w } } }, now);
}

function register(core: L1Core, now: number, rid: string, slug = `slug-${rid.toLowerCase()}`): Action[] {
  return write(core, now, rid, null, { op: 'register', name: 'Alice', country: 'fr', slug, publicationTitle: 'Alice writes' });
}

function ackChanges(actions: Action[]): readonly Change[] {
  return only(actions, 'write-ack').changes;
}

function refusal(actions: Action[]): string {
  return only(actions, 'write-refuse').error.code;
}

const create = (title = 'Hello', body = 'world', imageRefs: string[] = []): WriteOp => ({ op: 'create-blog', title, body, imageRefs });

describe('L1Core writes', () => {
  it('register commits a user and a publication, pushes them to its L2s only, and queues them for every peer', () => {
    const { core, store } = makeL1();
    const out = register(core, 1000, 'alice0001');
    const changes = ackChanges(out);
    assert.deepEqual(changes.map((c) => c.kind), ['user', 'publication']);
    assert.equal(store.getUser('u.alice0001')?.publicationId, 'p.alice0001');
    for (const l2 of L2S) assert.deepEqual(only(out, 'push', l2), { type: 'push', afterSeq: 0, toSeq: 2, changes });
    assert.equal(sends(out).filter((m) => m.type === 'batch').length, 0, 'one change does not fill a batch');
    for (const p of PEERS) assert.equal(core.outboxSize(p), 2);
  });

  it('a retried registration is acknowledged again without committing twice; a taken slug is refused', () => {
    const { core, store } = makeL1();
    const first = ackChanges(register(core, 1000, 'alice0001', 'cats'));
    const again = ackChanges(register(core, 2000, 'alice0001', 'cats'));
    assert.deepEqual(again, first);
    assert.equal(store.headSeq(), 2);
    assert.equal(refusal(register(core, 3000, 'bobby0001', 'cats')), 'SLUG_TAKEN');
  });

  const table: Array<{ name: string; w: WriteOp; user?: string; code: string }> = [
    { name: 'unknown user', w: create(), user: 'u.nobody001', code: 'UNKNOWN_USER' },
    { name: 'oversized body', w: create('t', 'x'.repeat(64 * 1024 + 1)), code: 'BODY_TOO_LARGE' },
    { name: 'a video', w: create('t', 'b', ['https://cdn.example/clip.mp4']), code: 'VIDEO_NOT_ALLOWED' },
    { name: 'not an image', w: create('t', 'b', ['javascript:alert(1)']), code: 'BAD_REQUEST' },
    { name: 'empty title', w: create(''), code: 'BAD_REQUEST' },
    { name: 'update of a missing blog', w: { op: 'update-blog', blogId: 'b.missing01', title: 't', body: 'b', imageRefs: [] }, code: 'NOT_FOUND' },
  ];
  for (const row of table) {
    it(`refuses ${row.name} with ${row.code} and commits nothing`, () => {
      const { core, store } = makeL1();
      register(core, 1000, 'alice0001');
      const head = store.headSeq();
      assert.equal(refusal(write(core, 2000, 'req000001', row.user ?? 'u.alice0001', row.w)), row.code);
      assert.equal(store.headSeq(), head);
    });
  }

  it('only the author updates or deletes; a delete is final; retries are idempotent', () => {
    const { core, store } = makeL1();
    register(core, 1000, 'alice0001', 'alice');
    register(core, 1000, 'bobby0001', 'bobby');
    const [blog] = ackChanges(write(core, 2000, 'post00001', 'u.alice0001', create()));
    assert.equal(blog?.kind, 'blog');
    const head = store.headSeq();
    assert.deepEqual(ackChanges(write(core, 2500, 'post00001', 'u.alice0001', create())), [blog], 'retried create');
    assert.equal(store.headSeq(), head);
    assert.equal(refusal(write(core, 2600, 'post00001', 'u.bobby0001', create())), 'REQUEST_ID_CONFLICT');
    const upd: WriteOp = { op: 'update-blog', blogId: 'b.post00001', title: 'v2', body: 'b', imageRefs: [] };
    assert.equal(refusal(write(core, 3000, 'upd000001', 'u.bobby0001', upd)), 'NOT_AUTHOR');
    assert.equal(refusal(write(core, 3000, 'del000001', 'u.bobby0001', { op: 'delete-blog', blogId: 'b.post00001' })), 'NOT_AUTHOR');
    assert.equal(ackChanges(write(core, 3100, 'upd000002', 'u.alice0001', upd))[0]?.kind, 'blog');
    assert.equal(store.blogCount('u.alice0001'), 1);
    const del = ackChanges(write(core, 4000, 'del000002', 'u.alice0001', { op: 'delete-blog', blogId: 'b.post00001' }));
    assert.equal(del[0]?.kind, 'tombstone');
    assert.equal(store.blogCount('u.alice0001'), 0);
    assert.deepEqual(ackChanges(write(core, 4100, 'del000003', 'u.alice0001', { op: 'delete-blog', blogId: 'b.post00001' })), del, 'retried delete');
    assert.equal(refusal(write(core, 5000, 'upd000003', 'u.alice0001', upd)), 'DELETED');
    assert.equal(refusal(write(core, 5000, 'post00001', 'u.alice0001', create())), 'DELETED');
  });

  it('ignores messages from servers that may not send them', () => {
    const { core, store } = makeL1();
    const out = register(core, 1000, 'alice0001', 'alice') && write(core, 1000, 'evil00001', null, { op: 'register', name: 'x', country: 'fr', slug: 'evil', publicationTitle: 'x' }, 'l2-us-1');
    assert.deepEqual(sends(out), []);
    assert.ok(out.some((a) => a.type === 'log' && a.code === 'NOT_PERMITTED'));
    const batch = core.handle({ type: 'message', from: 'l2-fr-1', msg: { type: 'batch', batchId: 1, changes: [blogChange('b.x', hlc(1))] } }, 1000);
    assert.deepEqual(sends(batch), []);
    assert.equal(store.getBlog('b.x'), undefined);
  });
});

describe('L1Core batches to other continents', () => {
  it('sends a batch when it is full, and when the oldest change has waited the propagation timeout', () => {
    const { core } = makeL1({ batchChangesMax: 3, propagationTimeoutMs: 10_000 });
    const first = register(core, 1000, 'alice0001'); // 2 changes
    const flush = first.find((a) => a.type === 'set-timer' && a.timer.kind === 'batch-flush');
    assert.equal(flush?.type === 'set-timer' && flush.atMs, 11_000);
    const full = write(core, 2000, 'post00001', 'u.alice0001', create());
    for (const p of PEERS) assert.equal(only(full, 'batch', p).changes.length, 3);
    write(core, 3000, 'post00002', 'u.alice0001', create());
    assert.deepEqual(sends(core.handle({ type: 'timer', timer: { kind: 'batch-flush', peer: 'l1-asia' } }, 12_999)), [], 'not due yet');
    const due = core.handle({ type: 'timer', timer: { kind: 'batch-flush', peer: 'l1-asia' } }, 13_000);
    assert.equal(only(due, 'batch', 'l1-asia').changes.length, 1);
  });

  it('resends an unacknowledged batch, bounded, then drops it (sync repairs); an ack stops the resends', () => {
    const { core } = makeL1({ batchChangesMax: 2, batchRetryMs: 100, batchRetriesMax: 3 });
    const out = register(core, 1000, 'alice0001');
    const batch = only(out, 'batch', 'l1-asia');
    const retry = (now: number) => core.handle({ type: 'timer', timer: { kind: 'batch-retry', peer: 'l1-asia', batchId: batch.batchId } }, now);
    assert.equal(only(retry(1100), 'batch', 'l1-asia').batchId, batch.batchId);
    assert.equal(only(retry(1200), 'batch', 'l1-asia').batchId, batch.batchId);
    const dropped = retry(1300);
    assert.deepEqual(sends(dropped), []);
    assert.ok(dropped.some((a) => a.type === 'metric' && a.metric.name === 'batch_dropped'));
    assert.equal(core.outboxSize('l1-asia'), 0);
    const africa = only(out, 'batch', 'l1-africa');
    core.handle({ type: 'message', from: 'l1-africa', msg: { type: 'batch-ack', batchId: africa.batchId } }, 1050);
    assert.equal(core.outboxSize('l1-africa'), 0);
    assert.deepEqual(sends(core.handle({ type: 'timer', timer: { kind: 'batch-retry', peer: 'l1-africa', batchId: africa.batchId } }, 1100)), []);
  });

  it('applies a received batch with LWW, acks it, and pushes the winners to its L2s', () => {
    const { core, store } = makeL1();
    const c = blogChange('b.remote001', hlc(500, 0, 'l1-asia'));
    const out = core.handle({ type: 'message', from: 'l1-asia', msg: { type: 'batch', batchId: 7, changes: [c] } }, 1000);
    assert.deepEqual(only(out, 'batch-ack', 'l1-asia'), { type: 'batch-ack', batchId: 7 });
    assert.equal(only(out, 'push', 'l2-fr-1').changes.length, 1);
    assert.equal(store.getBlog('b.remote001')?.title, c.kind === 'blog' ? c.blog.title : '');
    const dup = core.handle({ type: 'message', from: 'l1-asia', msg: { type: 'batch', batchId: 7, changes: [c] } }, 1001);
    assert.equal(only(dup, 'batch-ack', 'l1-asia').batchId, 7);
    assert.equal(sends(dup).filter((m) => m.type === 'push').length, 0, 'a duplicate changes nothing');
  });

  it('refuses a batch stamped beyond the skew bound, applies none of it, and keeps its clock', () => {
    const { core, store } = makeL1({ skewMaxMs: 60_000 });
    const ok = blogChange('b.fine00001', hlc(1000, 0, 'l1-asia'));
    const future = blogChange('b.future001', hlc(1000 + 60_001 + 5000, 0, 'l1-asia'));
    const out = core.handle({ type: 'message', from: 'l1-asia', msg: { type: 'batch', batchId: 1, changes: [ok, future] } }, 5000);
    const refuse = only(out, 'batch-refuse', 'l1-asia');
    assert.equal(refuse.error.code, 'CLOCK_SKEW');
    assert.equal(store.getBlog('b.fine00001'), undefined);
    register(core, 5000, 'alice0001');
    assert.ok(store.getUser('u.alice0001'));
    assert.equal(store.get('user:u.alice0001')?.change.hlc.wallMs, 5000, 'the local clock did not jump ahead');
  });
});

describe('L1Core sync and catch-up', () => {
  it('serves its log in bounded pages and pulls a peer page by page, moving the checkpoint', () => {
    const a = makeL1({ syncPageChangesMax: 2 });
    register(a.core, 1000, 'alice0001');
    register(a.core, 1001, 'bobby0001');
    const page = only(a.core.handle({ type: 'message', from: 'l1-asia', msg: { type: 'sync-request', round: 1, afterSeq: 0, pageChangesMax: 50 } }, 2000), 'sync-page');
    assert.equal(page.changes.length, 2);
    assert.equal(page.done, false);
    // Now as the puller: a fresh L1 "l1-asia" pulls from l1-europe.
    const b = new L1Core(defaultL1Config({ id: 'l1-asia', continent: 'asia', peers: ['l1-europe'], l2s: [] }), new MemoryStore());
    let req = only(b.handle({ type: 'start' }, 2000), 'sync-request', 'l1-europe');
    let pages = 0;
    for (;;) {
      const reply = only(a.core.handle({ type: 'message', from: 'l1-asia', msg: req }, 2000), 'sync-page') as Extract<L1ToL1, { type: 'sync-page' }>;
      pages++;
      const next = b.handle({ type: 'message', from: 'l1-europe', msg: reply }, 2000);
      if (reply.done) {
        assert.ok(next.some((a) => a.type === 'metric' && a.metric.name === 'sync_round_done'));
        break;
      }
      req = only(next, 'sync-request', 'l1-europe');
    }
    assert.equal(pages, 2);
    const bStore = (b as unknown as { store: MemoryStore }).store;
    assert.equal(bStore.getCheckpoint('l1-europe'), 4);
    assert.ok(bStore.getUser('u.bobby0001'));
  });

  it('catch-up to an L2 is scoped: own-country writers and tombstones in full, others as notices, then most-read', () => {
    const { core, store } = makeL1();
    register(core, 1000, 'alice0001'); // fr
    const [c] = ackChanges(write(core, 1100, 'post00001', 'u.alice0001', create()));
    core.handle({ type: 'message', from: 'l1-asia', msg: { type: 'batch', batchId: 1, changes: [blogChange('b.cn0000001', hlc(900, 0, 'l1-asia'), { authorCountry: 'cn', authorId: 'u.cn' }), blogChange('b.cn0000002', hlc(901, 0, 'l1-asia'), { authorCountry: 'cn', authorId: 'u.cn' })] } }, 1200);
    core.handle({ type: 'message', from: 'l1-asia', msg: { type: 'batch', batchId: 2, changes: [{ kind: 'tombstone', hlc: hlc(902, 0, 'l1-asia'), tombstone: { blogId: 'b.cn0000002', authorId: 'u.cn', authorCountry: 'cn', publicationId: 'p.cn', deletedMs: 902 } }] } }, 1200);
    const msg = { type: 'catchup-request', corrId: 1, phase: 'log', afterSeq: 0, country: 'fr', fullChangesLeft: 100, wantKeys: [] } as const;
    const page = only(core.handle({ type: 'message', from: 'l2-fr-1', msg }, 1300), 'catchup-page') as Extract<L1ToL2, { type: 'catchup-page' }>;
    assert.deepEqual(page.changes.map((x) => x.kind).sort(), ['blog', 'publication', 'tombstone', 'user']);
    assert.deepEqual(page.notices.map((n) => n.key), ['blog:b.cn0000001']);
    assert.equal(page.done, true);
    assert.equal(page.toSeq, store.headSeq());
    const bounded = only(core.handle({ type: 'message', from: 'l2-fr-1', msg: { ...msg, fullChangesLeft: 1 } }, 1300), 'catchup-page') as Extract<L1ToL2, { type: 'catchup-page' }>;
    assert.equal(bounded.changes.filter((x) => x.kind !== 'tombstone').length, 1, 'the budget bounds full changes');
    const want = only(core.handle({ type: 'message', from: 'l2-fr-1', msg: { ...msg, afterSeq: store.headSeq(), wantKeys: ['blog:b.cn0000001'] } }, 1300), 'catchup-page') as Extract<L1ToL2, { type: 'catchup-page' }>;
    assert.deepEqual(want.changes.map((x) => x.kind === 'blog' && x.blog.id), ['b.cn0000001']);
    store.addReads('b.cn0000001', 3);
    store.addReads(c!.kind === 'blog' ? c!.blog.id : '', 9);
    const most = only(core.handle({ type: 'message', from: 'l2-fr-1', msg: { ...msg, phase: 'most-read' } }, 1300), 'catchup-page') as Extract<L1ToL2, { type: 'catchup-page' }>;
    assert.deepEqual(most.changes.map((x) => x.kind === 'blog' && x.blog.id), ['b.cn0000001'], 'most-read from other countries (own country came in the log phase)');
  });
});

describe('L1Core batch window', () => {
  it('with every in-flight slot taken, a due batch arms no timer (no timer loop); an ack sends it', () => {
    const { core } = makeL1({ batchChangesMax: 1, batchesInFlightMax: 1, propagationTimeoutMs: 1000 });
    const out = register(core, 0, 'alice0001'); // 2 changes: the first fills a batch, the second waits for the window
    const batch = only(out, 'batch', 'l1-asia');
    const late = core.handle({ type: 'timer', timer: { kind: 'batch-flush', peer: 'l1-asia' } }, 5000);
    assert.deepEqual(sends(late), []);
    assert.ok(!late.some((a) => a.type === 'set-timer' && a.timer.kind === 'batch-flush'), 'no flush timer while the window is full');
    const acked = core.handle({ type: 'message', from: 'l1-asia', msg: { type: 'batch-ack', batchId: batch.batchId } }, 5001);
    assert.equal(only(acked, 'batch', 'l1-asia').changes.length, 1);
  });
});

describe('L1Core after a restart', () => {
  it('a peer\'s first round (round 1) makes this L1 pull from it at once, with round 0, which triggers nothing back', () => {
    const { core } = makeL1();
    const req = (round: number) => core.handle({ type: 'message', from: 'l1-asia', msg: { type: 'sync-request', round, afterSeq: 0, pageChangesMax: 10 } }, 100);
    const first = req(1);
    only(first, 'sync-page', 'l1-asia');
    assert.equal(only(first, 'sync-request', 'l1-asia').round, 0);
    const again = req(1);
    assert.equal(sends(again).filter((m) => m.type === 'sync-request').length, 0, 'already pulling from it');
    const { core: other } = makeL1();
    for (const round of [0, 2]) {
      const out = other.handle({ type: 'message', from: 'l1-asia', msg: { type: 'sync-request', round, afterSeq: 0, pageChangesMax: 10 } }, 100);
      assert.equal(sends(out).filter((m) => m.type === 'sync-request').length, 0, `round ${round} triggers no pull`);
    }
  });
});
