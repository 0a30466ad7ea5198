import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FailureDetector, isWatchedBy, missedIntervals, verdict } from '../../src/cluster/failure-detector.js';
import { rendezvousOwner } from '../../src/cluster/hash.js';
import { ZERO_LOAD, type WireEntry } from '../../src/cluster/messages.js';
import { NodeTable } from '../../src/cluster/node-table.js';
import { newOutbox } from '../../src/cluster/output.js';
import { DEFAULT_TIMING } from '../../src/cluster/timing.js';

const T = DEFAULT_TIMING;

function row(name: string, over: Partial<WireEntry> = {}): WireEntry {
  return { name, role: 'worker', incarnation: 1, life: 1, status: 'alive', version: 0, monitor: 'm1', load: ZERO_LOAD, languages: [], ...over };
}

function tableWith(...rows: WireEntry[]): NodeTable {
  const t = new NodeTable();
  t.merge(row('m1', { role: 'monitor', monitor: 'm2' }), 0);
  t.merge(row('m2', { role: 'monitor', monitor: 'm1' }), 0);
  for (const r of rows) t.merge(r, 0);
  return t;
}

test('missed intervals and verdicts: suspect after 2, dead after missedLimit', () => {
  const cases: Array<[number, string]> = [[0, 'alive'], [499, 'alive'], [999, 'alive'], [1000, 'suspect'], [2499, 'suspect'], [2500, 'dead']];
  for (const [age, want] of cases) assert.equal(verdict(missedIntervals(0, age, 500), T), want, `age ${age}`);
  assert.equal(missedIntervals(100, 50, 500), 0, 'a heartbeat "from the future" is no miss');
});

test('a Monitor suspects, then declares dead, a node it stopped hearing; each once', () => {
  const table = tableWith(row('w1'));
  const fd = new FailureDetector('m1', T);
  fd.heard('w1', ZERO_LOAD, 0, 1);
  const notes: string[] = [];
  for (let now = 0; now <= 4000; now += T.failureCheckIntervalMs) {
    const out = newOutbox();
    fd.check(table, now, out);
    for (const n of out.notes) if (n.kind === 'declared') notes.push(`${now}:${n.status}`);
  }
  assert.deepEqual(notes, ['1000:suspect', '2500:dead']);
  assert.equal(table.get('w1')?.status, 'dead');
});

test('heartbeats keep a node alive; a suspect node stays suspect until it refutes', () => {
  const table = tableWith(row('w1'));
  const fd = new FailureDetector('m1', T);
  fd.heard('w1', ZERO_LOAD, 0, 1);
  fd.check(table, 1000, newOutbox());
  assert.equal(table.get('w1')?.status, 'suspect');
  fd.heard('w1', ZERO_LOAD, 1100, 1);
  fd.check(table, 3000, newOutbox());
  assert.equal(table.get('w1')?.status, 'suspect', 'same incarnation: suspicion stands');
  table.merge(row('w1', { incarnation: 2 }), 3000); // the refuting heartbeat
  fd.heard('w1', ZERO_LOAD, 3000, 2);
  fd.check(table, 3100, newOutbox());
  assert.equal(table.get('w1')?.status, 'alive');
});

test('a Monitor only watches nodes that report to it, or orphans it owns by rendezvous', () => {
  const table = tableWith();
  const live = table.liveMonitors();
  const set = new Set(live);
  assert.equal(isWatchedBy(table.get('m2')!, 'm1', live, set), true, 'm2 reports to m1');
  assert.equal(isWatchedBy(table.get('m1')!, 'm1', live, set), false, 'never itself');
  table.merge(row('w9', { monitor: 'm2' }), 0);
  assert.equal(isWatchedBy(table.get('w9')!, 'm1', live, set), false, 'reports elsewhere');
  table.merge(row('orphan', { monitor: 'gone' }), 0);
  const owner = rendezvousOwner('orphan', live);
  assert.equal(isWatchedBy(table.get('orphan')!, 'm1', live, set), owner === 'm1');
  assert.equal(isWatchedBy(table.get('orphan')!, 'm2', live, set), owner === 'm2');
});

test('an adopted node gets a grace before its clock starts', () => {
  const table = tableWith(row('w1', { monitor: 'dead-monitor' }));
  const owner = rendezvousOwner('w1', table.liveMonitors()) as string;
  const fd = new FailureDetector(owner, T);
  const declared: number[] = [];
  for (let now = 0; now <= T.adoptionGraceMs + 3000; now += T.failureCheckIntervalMs) {
    const out = newOutbox();
    fd.check(table, now, out);
    if (out.notes.some((n) => n.kind === 'declared' && n.status === 'dead')) declared.push(now);
  }
  assert.deepEqual(declared, [T.adoptionGraceMs + T.missedLimit * T.heartbeatIntervalMs]);
});

test('a newer life learned by gossip is not judged by the old life\'s silence', () => {
  const table = tableWith(row('w1'));
  const fd = new FailureDetector('m1', T);
  fd.heard('w1', ZERO_LOAD, 0, 1);
  fd.check(table, 1000, newOutbox());
  // w1 restarted and reports elsewhere; gossip brings its new life before "dead" fell due here.
  table.merge(row('w1', { incarnation: 2, monitor: 'm1' }), 1200);
  const out = newOutbox();
  fd.check(table, 2600, out);
  assert.equal(table.get('w1')?.status, 'alive', 'the new life gets the adoption grace, not the old deadline');
  assert.deepEqual(out.notes, []);
});
