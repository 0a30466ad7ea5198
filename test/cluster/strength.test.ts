import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeTable } from '../../src/cluster/node-table.js';
import { ZERO_LOAD, type Role } from '../../src/cluster/messages.js';
import { newOutbox } from '../../src/cluster/output.js';
import { StrengthKeeper } from '../../src/cluster/strength.js';

function table(rows: Array<[string, Role, 'alive' | 'dead']>): NodeTable {
  const t = new NodeTable();
  for (const [name, role, status] of rows) t.merge({ name, role, incarnation: 1, status, version: 1, monitor: 'm1', load: ZERO_LOAD, languages: [] }, 0);
  return t;
}
const OPTS = { assignersMin: 2, nonPromotable: new Set(['gw']), orderRetryMs: 5000, settleMs: 1000 };

test('the leader promotes an Empty node when an Assigner is gone, never the Gateway, after settling', () => {
  const k = new StrengthKeeper(OPTS);
  const t = table([['m1', 'monitor', 'alive'], ['a1', 'assigner', 'alive'], ['a2', 'assigner', 'dead'], ['gw', 'empty', 'alive'], ['e1', 'empty', 'alive']]);
  const early = newOutbox();
  k.check('m1', 3, t, 0, early);
  assert.equal(early.messages.length, 0, 'a new leader waits to settle');
  const out = newOutbox();
  k.check('m1', 3, t, 1500, out);
  assert.deepEqual(out.messages.map((m) => [m.to, m.message]), [['e1', { type: 'order_role', from: 'm1', term: 3, seq: 1, target: 'e1', role: 'assigner' }]]);
  const again = newOutbox();
  k.check('m1', 3, t, 2000, again);
  assert.equal(again.messages.length, 0, 'no second order while the first is in flight');
  const retry = newOutbox();
  k.check('m1', 3, t, 7000, retry);
  assert.equal((retry.messages[0]?.message as { seq: number }).seq, 2, 'ordered again after the retry time, with a newer seq');
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
  assert.equal(odd.messages.length, 1, 'three Assigners: one more makes pairs');
});
