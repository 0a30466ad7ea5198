import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeTable } from '../../src/cluster/node-table.js';
import { ZERO_LOAD, type Role } from '../../src/cluster/messages.js';
import { newOutbox } from '../../src/cluster/output.js';
import { StrengthKeeper } from '../../src/cluster/strength.js';

/** Rows: [name, role, status, buddy?]. Assigners listed without a buddy are paired in order. */
function table(rows: Array<[string, Role, 'alive' | 'dead', (string | null)?]>): NodeTable {
  const t = new NodeTable();
  const assigners = rows.filter((r) => r[1] === 'assigner').map((r) => r[0]);
  for (const [name, role, status, buddy] of rows) {
    const i = assigners.indexOf(name);
    const paired = buddy !== undefined ? buddy : i < 0 ? null : (assigners[i % 2 === 0 ? i + 1 : i - 1] ?? null);
    t.merge({ name, role, incarnation: 1, life: 1, status, version: 1, monitor: 'm1', load: ZERO_LOAD, languages: [], ...(paired ? { buddy: paired } : {}) }, 0);
  }
  return t;
}
const orders = (out: ReturnType<typeof newOutbox>) =>
  out.messages.map((m) => {
    const o = m.message as { target: string; role: string; buddy?: string | null };
    return `${o.target}:${o.role}+${o.buddy}`;
  });
const OPTS = { assignersMin: 2, nonPromotable: new Set(['gw']), orderRetryMs: 5000, settleMs: 1000 };

test('the leader promotes an Empty node when an Assigner is gone, never the Gateway, after settling', () => {
  const k = new StrengthKeeper(OPTS);
  const t = table([['m1', 'monitor', 'alive'], ['a1', 'assigner', 'alive'], ['a2', 'assigner', 'dead'], ['gw', 'empty', 'alive'], ['e1', 'empty', 'alive']]);
  const early = newOutbox();
  k.check('m1', 3, t, 0, early);
  assert.equal(early.messages.length, 0, 'a new leader waits to settle');
  const out = newOutbox();
  k.check('m1', 3, t, 1500, out);
  assert.deepEqual(out.messages.map((m) => [m.to, m.message]), [
    ['e1', { type: 'order_role', from: 'm1', term: 3, seq: 1, target: 'e1', role: 'assigner', buddy: 'a1' }],
    ['a1', { type: 'order_role', from: 'm1', term: 3, seq: 2, target: 'a1', role: 'assigner', buddy: 'e1' }],
  ]);
  const again = newOutbox();
  k.check('m1', 3, t, 2000, again);
  assert.equal(again.messages.length, 0, 'no second order while the first is in flight');
  const retry = newOutbox();
  k.check('m1', 3, t, 7000, retry);
  assert.equal((retry.messages[0]?.message as { seq: number }).seq, 3, 'ordered again after the retry time, with a newer seq');
});

test('enough Assigners in pairs: no order', () => {
  const k = new StrengthKeeper(OPTS);
  const out = newOutbox();
  k.check('m1', 1, table([['a1', 'assigner', 'alive'], ['a2', 'assigner', 'alive'], ['e1', 'empty', 'alive']]), 5000, out);
  k.check('m1', 1, table([['a1', 'assigner', 'alive'], ['a2', 'assigner', 'alive'], ['e1', 'empty', 'alive']]), 5000, out);
  assert.equal(out.messages.length, 0);
  const odd = newOutbox();
  const k2 = new StrengthKeeper(OPTS);
  k2.check('m1', 1, table([['a1', 'assigner', 'alive'], ['a2', 'assigner', 'alive'], ['a3', 'assigner', 'alive'], ['e1', 'empty', 'alive']]), 0, odd);
  k2.check('m1', 1, table([['a1', 'assigner', 'alive'], ['a2', 'assigner', 'alive'], ['a3', 'assigner', 'alive'], ['e1', 'empty', 'alive']]), 5000, odd);
  assert.deepEqual(orders(odd), ['e1:assigner+a3', 'a3:assigner+e1'], 'three Assigners: the unpaired one gets a promoted buddy');
});

test('two Assigners whose buddies died are paired with each other, not with new nodes', () => {
  const k = new StrengthKeeper(OPTS);
  const t = table([
    ['a1', 'assigner', 'alive', 'a2'], ['a2', 'assigner', 'dead', 'a1'],
    ['a3', 'assigner', 'alive', 'a4'], ['a4', 'assigner', 'dead', 'a3'],
    ['e1', 'empty', 'alive'], ['e2', 'empty', 'alive'],
  ]);
  const out = newOutbox();
  k.check('m1', 1, t, 0, out);
  k.check('m1', 1, t, 5000, out);
  assert.deepEqual(orders(out), ['a1:assigner+a3', 'a3:assigner+a1']);
});

test('below the minimum with no Assigner left: Empty nodes are promoted two by two, as pairs', () => {
  const k = new StrengthKeeper({ ...OPTS, assignersMin: 4 });
  const t = table([['a1', 'assigner', 'dead'], ['a2', 'assigner', 'dead'], ['e1', 'empty', 'alive'], ['e2', 'empty', 'alive'], ['e3', 'empty', 'alive'], ['e4', 'empty', 'alive'], ['e5', 'empty', 'alive']]);
  const out = newOutbox();
  k.check('m1', 1, t, 0, out);
  k.check('m1', 1, t, 5000, out);
  assert.deepEqual(orders(out), ['e1:assigner+e2', 'e2:assigner+e1', 'e3:assigner+e4', 'e4:assigner+e3']);
});

test('an order is done once the table shows the pair; a lone orphan with no Empty node stays as it is', () => {
  const k = new StrengthKeeper(OPTS);
  const out = newOutbox();
  k.check('m1', 1, table([['a1', 'assigner', 'alive', null], ['a2', 'assigner', 'alive', null]]), 0, out);
  k.check('m1', 1, table([['a1', 'assigner', 'alive', null], ['a2', 'assigner', 'alive', null]]), 5000, out);
  assert.deepEqual(orders(out), ['a1:assigner+a2', 'a2:assigner+a1']);
  const after = newOutbox();
  k.check('m1', 1, table([['a1', 'assigner', 'alive', 'a2'], ['a2', 'assigner', 'alive', 'a1'], ['a3', 'assigner', 'alive', null]]), 5100, after);
  assert.deepEqual(orders(after), [], 'a3 has nobody to pair with');
});

// ---- Worker hosts ----------------------------------------------------------------------------

function withLoads(rows: Array<[string, Role, 'alive' | 'dead']>, assignerLoad: { queued: number; held: number }): NodeTable {
  const t = new NodeTable();
  const assigners = rows.filter((r) => r[1] === 'assigner').map((r) => r[0]);
  for (const [name, role, status] of rows) {
    const i = assigners.indexOf(name);
    const buddy = i < 0 ? null : (assigners[i % 2 === 0 ? i + 1 : i - 1] ?? null);
    const load = role === 'assigner' ? { ...ZERO_LOAD, slotsBusy: assignerLoad.held, queued: assignerLoad.queued } : ZERO_LOAD;
    t.merge({ name, role, incarnation: 1, life: 1, status, version: 1, monitor: 'm1', load, languages: [], ...(buddy ? { buddy } : {}) }, 0);
  }
  return t;
}
const HOSTS = new Set(['a1', 'a2', 'h1', 'h2', 'e1', 'e2', 'gw', 'm1']);
const ELASTIC = { ...OPTS, workerHostsMin: 1, isHost: (n: string) => HOSTS.has(n), pinnedWorkerHosts: new Set(['h1']), growAfterMs: 10_000, shrinkAfterMs: 60_000 };

test('below the Worker host minimum an Empty node becomes a Worker host; Worker processes do not count as hosts', () => {
  const k = new StrengthKeeper({ ...ELASTIC, workerHostsMin: 2 });
  const t = withLoads([['a1', 'assigner', 'alive'], ['a2', 'assigner', 'alive'], ['h1', 'worker', 'alive'], ['h1-w0', 'worker', 'alive'], ['h1-w1', 'worker', 'alive'], ['e1', 'empty', 'alive']], { queued: 0, held: 0 });
  const out = newOutbox();
  k.check('m1', 1, t, 0, out);
  k.check('m1', 1, t, 5000, out);
  assert.deepEqual(orders(out), ['e1:worker+undefined']);
});

test('runs queued for growAfterMs add one Worker host at a time; idle for shrinkAfterMs gives it back, never a pinned one', () => {
  const k = new StrengthKeeper(ELASTIC);
  const base: Array<[string, Role, 'alive' | 'dead']> = [['a1', 'assigner', 'alive'], ['a2', 'assigner', 'alive'], ['h1', 'worker', 'alive'], ['e1', 'empty', 'alive'], ['e2', 'empty', 'alive']];
  const busy = withLoads(base, { queued: 5, held: 7 });
  const out = newOutbox();
  k.check('m1', 1, busy, 0, out); // settling
  for (let t = 1000; t <= 10_000; t += 1000) k.check('m1', 1, busy, t, out);
  assert.deepEqual(orders(out), [], 'queued, but not yet for 10 s');
  k.check('m1', 1, busy, 11_500, out);
  assert.deepEqual(orders(out), ['e1:worker+undefined'], 'one more Worker host');
  const grown: Array<[string, Role, 'alive' | 'dead']> = [['a1', 'assigner', 'alive'], ['a2', 'assigner', 'alive'], ['h1', 'worker', 'alive'], ['e1', 'worker', 'alive'], ['e2', 'empty', 'alive']];
  const still = newOutbox();
  k.check('m1', 1, withLoads(grown, { queued: 5, held: 9 }), 15_000, still);
  assert.deepEqual(orders(still), [], 'not twice within the period');
  const idle = withLoads(grown, { queued: 0, held: 0 });
  const quiet = newOutbox();
  for (let t = 20_000; t < 80_000; t += 5000) k.check('m1', 1, idle, t, quiet);
  assert.deepEqual(orders(quiet), [], 'idle, but not yet for 60 s');
  k.check('m1', 1, idle, 81_000, quiet);
  assert.deepEqual(orders(quiet), ['e1:empty+undefined'], 'the host made for load goes back');
  const after = newOutbox();
  const back: Array<[string, Role, 'alive' | 'dead']> = [['a1', 'assigner', 'alive'], ['a2', 'assigner', 'alive'], ['h1', 'worker', 'alive'], ['e1', 'empty', 'alive'], ['e2', 'empty', 'alive']];
  for (let t = 90_000; t < 300_000; t += 5000) k.check('m1', 1, withLoads(back, { queued: 0, held: 0 }), t, after);
  assert.deepEqual(orders(after), [], 'the pinned host stays');
});
