// The daily L1 sync sends only what the requester lacks: what healthy batches delivered is known
// (per origin, by HLC) and skipped, while a lost batch, a dropped outbox change or a change only a
// third L1 relays still travels.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareHlc, HLC_ZERO } from '../../src/core/hlc.js';
import { defaultL1Config, L1Core, type L1Config } from '../../src/core/l1.js';
import type { Action, Change, L1ToL1, L2ToL1, Message } from '../../src/core/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { blogChange, hlc } from '../store/contract.js';

const IDS = ['l1-europe', 'l1-asia', 'l1-africa'];

function makeL1(id: string, over: Partial<L1Config> = {}, store = new MemoryStore()) {
  const cfg = defaultL1Config({ id, continent: id.slice(3), peers: IDS.filter((x) => x !== id), l2s: id === 'l1-europe' ? ['l2-fr-1'] : [] });
  // Batches of 2 (one registration), leaving only when full unless a test fires the flush timer.
  return { core: new L1Core({ ...cfg, batchChangesMax: 2, ...over }, store), store };
}

type Sent = { from: string; to: string; msg: Message };
type Cores = Record<string, L1Core>;

/** Delivers every message between the given cores (others are dropped) until none is left. */
function pump(cores: Cores, from: string, actions: Action[], now: number, drop: (s: Sent) => boolean = () => false): Sent[] {
  const delivered: Sent[] = [];
  const queue: Array<{ from: string; actions: Action[] }> = [{ from, actions }];
  for (let steps = 0; queue.length > 0; steps++) {
    assert.ok(steps < 10_000, 'the exchange ends');
    const next = queue.shift()!;
    for (const a of next.actions) {
      if (a.type !== 'send' || !cores[a.to]) continue;
      const s = { from: next.from, to: a.to, msg: a.msg };
      if (drop(s)) continue;
      delivered.push(s);
      queue.push({ from: a.to, actions: cores[a.to]!.handle({ type: 'message', from: next.from, msg: a.msg as L2ToL1 | L1ToL1 }, now) });
    }
  }
  return delivered;
}

let rid = 0;
function register(core: L1Core, now: number): Action[] {
  const requestId = `writer${String(++rid).padStart(4, '0')}`;
  return core.handle(
    { type: 'message', from: 'l2-fr-1', msg: { type: 'write', corrId: rid, request: { requestId, userId: null, write: { op: 'register', name: 'W', country: 'fr', slug: `s-${requestId}`, publicationTitle: 'T' } } } },
    now,
  );
}

const syncChanges = (sent: Sent[], to: string): Change[] =>
  sent.flatMap((s) => (s.to === to && s.msg.type === 'sync-page' ? s.msg.changes : []));

describe('L1 sync after batches', () => {
  it('after healthy batches, a sync round sends no change, and ends knowing the peer up to its clock', () => {
    const eu = makeL1('l1-europe');
    const asia = makeL1('l1-asia');
    const cores = { 'l1-europe': eu.core, 'l1-asia': asia.core };
    for (let i = 0; i < 3; i++) pump(cores, 'l1-europe', register(eu.core, 1000 + i), 1000 + i);
    assert.equal(asia.store.headSeq(), 6, 'the batches delivered all six changes');
    const last = eu.store.maxHlc()!;
    assert.deepEqual(asia.core.knownFrom('l1-europe'), last, 'three contiguous batches: known up to the last change');
    const sent = pump(cores, 'l1-asia', asia.core.handle({ type: 'timer', timer: { kind: 'sync-round' } }, 5000), 5000);
    assert.equal(syncChanges(sent, 'l1-asia').length, 0, 'nothing the batches delivered is sent again');
    const req = sent.find((s) => s.msg.type === 'sync-request' && s.to === 'l1-europe')!.msg as Extract<L1ToL1, { type: 'sync-request' }>;
    assert.deepEqual(req.known, [{ origin: 'l1-europe', hlc: last }]);
    const done = sent.find((s) => s.msg.type === 'sync-page' && s.msg.done)!.msg as Extract<L1ToL1, { type: 'sync-page' }>;
    assert.ok(done.covered && compareHlc(done.covered, last) >= 0);
    assert.equal(asia.store.getCheckpoint('l1-europe'), eu.store.headSeq(), 'the checkpoint still moves over the skipped entries');
  });

  it('a lost batch is repaired by the sync, which sends only from the gap on', () => {
    const eu = makeL1('l1-europe');
    const asia = makeL1('l1-asia');
    const cores = { 'l1-europe': eu.core, 'l1-asia': asia.core };
    let lostId = -1;
    pump(cores, 'l1-europe', register(eu.core, 1000), 1000);
    const afterFirst = asia.core.knownFrom('l1-europe');
    // The second batch never arrives (every attempt lost); the third does.
    pump(cores, 'l1-europe', register(eu.core, 1001), 1001, (s) => {
      if (s.msg.type === 'batch' && s.to === 'l1-asia') lostId = s.msg.batchId;
      return s.msg.type === 'batch' && s.to === 'l1-asia';
    });
    const lost = eu.store.changesSince(2, 2).map((e) => e.change);
    pump(cores, 'l1-europe', register(eu.core, 1002), 1002);
    assert.ok(lostId > 0);
    assert.equal(asia.store.headSeq(), 4, 'four of six changes arrived');
    assert.deepEqual(asia.core.knownFrom('l1-europe'), afterFirst, 'the third batch does not connect: known stays at the first');
    const sent = pump(cores, 'l1-asia', asia.core.handle({ type: 'timer', timer: { kind: 'sync-round' } }, 5000), 5000);
    const resent = syncChanges(sent, 'l1-asia');
    assert.equal(resent.length, 4, 'the lost batch and the one after the gap, not the first');
    for (const c of lost) assert.ok(resent.some((r) => compareHlc(r.hlc, c.hlc) === 0));
    const kinds = asia.store.changesSince(0, 100).map((e) => e.change.kind);
    assert.deepEqual([kinds.filter((k) => k === 'user').length, kinds.filter((k) => k === 'publication').length], [3, 3], 'all six held');
    assert.deepEqual(asia.core.knownFrom('l1-europe'), eu.store.maxHlc(), 'a completed pull knows the peer up to its clock');
  });

  it('batches that arrive out of order still connect once the gap is filled', () => {
    const eu = makeL1('l1-europe');
    const asia = makeL1('l1-asia');
    const cores = { 'l1-europe': eu.core, 'l1-asia': asia.core };
    const held: Sent[] = [];
    pump(cores, 'l1-europe', register(eu.core, 1000), 1000, (s) => (s.msg.type === 'batch' && s.to === 'l1-asia' ? (held.push(s), true) : false));
    pump(cores, 'l1-europe', register(eu.core, 1001), 1001);
    assert.deepEqual(asia.core.knownFrom('l1-europe'), HLC_ZERO, 'the second batch waits for the first');
    pump(cores, 'l1-europe', [{ type: 'send', to: 'l1-asia', msg: held[0]!.msg }], 1002);
    assert.deepEqual(asia.core.knownFrom('l1-europe'), eu.store.maxHlc());
  });

  it('never sends the requester its own changes; relays a third origin\'s changes unless the requester knows them', () => {
    const eu = makeL1('l1-europe');
    const asia = makeL1('l1-asia');
    const cores = { 'l1-europe': eu.core, 'l1-asia': asia.core };
    const fromAsia = blogChange('b.asia00001', hlc(900, 0, 'l1-asia'));
    const fromAfrica = blogChange('b.africa001', hlc(901, 0, 'l1-africa'));
    // Europe got both in batches; asia holds its own (it stamped it) but not africa's.
    asia.store.apply(fromAsia);
    eu.core.handle({ type: 'message', from: 'l1-asia', msg: { type: 'batch', batchId: 1, after: HLC_ZERO, changes: [fromAsia] } }, 1000);
    eu.core.handle({ type: 'message', from: 'l1-africa', msg: { type: 'batch', batchId: 1, after: HLC_ZERO, changes: [fromAfrica] } }, 1000);
    const round = () => syncChanges(pump(cores, 'l1-asia', asia.core.handle({ type: 'timer', timer: { kind: 'sync-round' } }, 2000), 2000), 'l1-asia');
    assert.deepEqual(round(), [fromAfrica], 'africa\'s change is relayed (its origin may be down), asia\'s own is not');
    // Now asia knows africa's change from africa itself: nothing is relayed any more.
    const as2 = makeL1('l1-asia');
    as2.core.handle({ type: 'message', from: 'l1-africa', msg: { type: 'batch', batchId: 1, after: HLC_ZERO, changes: [fromAfrica] } }, 1000);
    assert.deepEqual(as2.core.knownFrom('l1-africa'), fromAfrica.hlc);
    const sent = pump({ 'l1-europe': eu.core, 'l1-asia': as2.core }, 'l1-asia', as2.core.handle({ type: 'timer', timer: { kind: 'sync-round' } }, 2000), 2000);
    assert.deepEqual(syncChanges(sent, 'l1-asia'), []);
  });

  it('a change dropped from a full outbox breaks the chain, so the receiver does not claim it', () => {
    const eu = makeL1('l1-europe', { outboxChangesMax: 1, propagationTimeoutMs: 100 });
    const asia = makeL1('l1-asia');
    const cores = { 'l1-europe': eu.core, 'l1-asia': asia.core };
    pump(cores, 'l1-europe', register(eu.core, 1000), 1000); // the user change is dropped, the publication waits
    const flush = eu.core.handle({ type: 'timer', timer: { kind: 'batch-flush', peer: 'l1-asia' } }, 1200);
    const sent = pump(cores, 'l1-europe', flush, 1200);
    const batch = sent.find((s) => s.msg.type === 'batch')!.msg as Extract<L1ToL1, { type: 'batch' }>;
    assert.equal(batch.changes.length, 1);
    assert.equal(batch.after?.wallMs, 1000, 'after = the dropped change');
    assert.deepEqual(asia.core.knownFrom('l1-europe'), HLC_ZERO);
    const repaired = syncChanges(pump(cores, 'l1-asia', asia.core.handle({ type: 'timer', timer: { kind: 'sync-round' } }, 2000), 2000), 'l1-asia');
    assert.deepEqual(repaired.map((c) => c.kind), ['user', 'publication']);
  });

  it('a restarted L1\'s first batch starts after the highest HLC in its store; claims nothing from a forged mixed batch', () => {
    const eu = makeL1('l1-europe');
    register(eu.core, 1000);
    const before = eu.store.maxHlc()!;
    const restarted = makeL1('l1-europe', {}, eu.store);
    restarted.core.handle({ type: 'start' }, 2000);
    const batch = register(restarted.core, 2000).flatMap((a) => (a.type === 'send' && a.msg.type === 'batch' && a.to === 'l1-asia' ? [a.msg as Extract<L1ToL1, { type: 'batch' }>] : []));
    assert.equal(batch.length, 1);
    assert.deepEqual(batch[0]!.after, before);
    const asia = makeL1('l1-asia');
    const mixed = [blogChange('b.mixed0001', hlc(10, 0, 'l1-europe')), blogChange('b.mixed0002', hlc(11, 0, 'l1-africa'))];
    asia.core.handle({ type: 'message', from: 'l1-europe', msg: { type: 'batch', batchId: 9, after: HLC_ZERO, changes: mixed } }, 100);
    assert.deepEqual(asia.core.knownFrom('l1-europe'), HLC_ZERO, 'a batch with another origin\'s change claims nothing');
  });
});
