import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClusterMessage, Role } from '../../src/cluster/messages.js';
import { hashNames } from '../../src/cluster/hash.js';
import { bootState, ClusterNode } from '../../src/cluster/node.js';
import type { PersistentState } from '../../src/cluster/output.js';
import { Xoshiro128 } from '../../src/sim/prng.js';

function node(role: Role, persisted: PersistentState | null = null): ClusterNode {
  return new ClusterNode({
    config: { name: 'e1', role, seedMonitors: ['m1', 'm2'], languages: ['c'] },
    persisted,
    rng: new Xoshiro128(1),
    nowMs: 0,
  });
}

function order(term: number, seq: number, role: Role, from = 'm1'): ClusterMessage {
  return { type: 'order_role', from, term, seq, target: 'e1', role };
}

test('the first step persists the boot incarnation and sends a heartbeat', () => {
  const n = node('empty');
  const out = n.step({ type: 'tick' }, 0);
  assert.deepEqual(out.persist, bootState(null));
  assert.equal(out.messages.length, 1);
  assert.equal(out.messages[0]?.message.type, 'heartbeat');
  assert.deepEqual(out.timers, [{ id: 'heartbeat', atMs: 500 }]);
  assert.equal(n.step({ type: 'tick' }, 10).persist, null, 'nothing new to persist');
});

test('a restart comes back one incarnation higher, keeping term and vote', () => {
  const before: PersistentState = { incarnation: 4, term: 9, votedFor: 'm2', lastTerm: 8, orderTerm: 3, orderSeq: 2, hydraTerm: 6, hydraVotedFor: 'a1' };
  const n = node('worker', before);
  assert.equal(n.incarnation, 5);
  assert.deepEqual(n.step({ type: 'tick' }, 0).persist, { ...before, incarnation: 5 });
});

test('role orders obey only the newest (term, seq)', () => {
  const n = node('empty');
  n.step({ type: 'tick' }, 0);
  let out = n.step({ type: 'receive', from: 'm1', message: order(2, 1, 'worker') }, 10);
  assert.equal(n.role, 'worker');
  assert.deepEqual(out.notes, [{ kind: 'role_changed', from: 'empty', to: 'worker', term: 2 }]);
  assert.equal(out.persist?.orderTerm, 2, 'the order is persisted, so a restart cannot replay an older one');
  out = n.step({ type: 'receive', from: 'm2', message: order(1, 5, 'assigner', 'm2') }, 20);
  assert.equal(n.role, 'worker', 'an older term is void');
  assert.deepEqual(out.notes, [{ kind: 'stale_order', term: 1, seq: 5 }]);
  n.step({ type: 'receive', from: 'm1', message: order(2, 1, 'assigner') }, 30);
  assert.equal(n.role, 'worker', 'a replayed order is void');
  n.step({ type: 'receive', from: 'm1', message: order(2, 2, 'assigner') }, 40);
  assert.equal(n.role, 'assigner');
  assert.ok(n.assigner !== null);
});

test('a node promoted to Monitor starts a table with itself and the seed Monitors', () => {
  const n = node('empty');
  n.step({ type: 'tick' }, 0);
  n.step({ type: 'receive', from: 'm1', message: order(1, 1, 'monitor') }, 10);
  const table = n.monitor?.table;
  assert.ok(table !== undefined);
  assert.deepEqual([...table.values()].map((e) => e.name).sort(), ['e1', 'm1', 'm2']);
  assert.equal(table.get('e1')?.role, 'monitor');
  assert.deepEqual(table.knownMonitors(), ['e1', 'm1', 'm2'], 'it is a voter now');
});

test('a message whose claimed sender is not the transport sender is ignored', () => {
  const n = node('empty');
  n.step({ type: 'tick' }, 0);
  n.step({ type: 'receive', from: 'm2', message: order(5, 1, 'monitor', 'm1') }, 10);
  assert.equal(n.role, 'empty');
});

test('a Monitor acks heartbeats with what its table says of the sender', () => {
  const m = new ClusterNode({ config: { name: 'm1', role: 'monitor', seedMonitors: ['m1', 'm2'], languages: [] }, persisted: null, rng: new Xoshiro128(2), nowMs: 0 });
  m.step({ type: 'tick' }, 0);
  const hb: ClusterMessage = {
    type: 'heartbeat', from: 'w1', incarnation: 3, life: 2, version: 0, role: 'worker', monitor: 'm1',
    load: { psiCpu: 0.33, psiMemory: 0, psiIo: 0, slotsFree: 5, slotsBusy: 3 }, languages: ['c'], monitorsHash: 0,
  };
  const out = m.step({ type: 'receive', from: 'w1', message: hb }, 5);
  const ack = out.messages.find((o) => o.to === 'w1')?.message;
  assert.equal(ack?.type, 'heartbeat_ack');
  assert.equal(ack?.type === 'heartbeat_ack' && ack.yourStatus, 'alive');
  assert.equal(m.monitor?.table.get('w1')?.monitor, 'm1');
  assert.equal(m.monitor?.table.get('w1')?.load.slotsBusy, 0, "a Worker's load does not travel in the table");
  assert.equal(m.monitor?.loadOf('w1')?.psiCpu, 0.33, 'its own Monitor has the exact load');
  assert.deepEqual([m.monitor?.table.get('w1')?.incarnation, m.monitor?.table.get('w1')?.life], [3, 2], 'the life travels with the row');
  const timers = out.timers.map((t) => t.id).sort();
  assert.deepEqual(timers, ['election', 'failure_check', 'gossip', 'heartbeat', 'monitor_heartbeat']);
});

test("a Monitor's heartbeat to the Assigners carries each Worker's life beside its incarnation", () => {
  const m = new ClusterNode({ config: { name: 'm1', role: 'monitor', seedMonitors: ['m1'], languages: [] }, persisted: null, rng: new Xoshiro128(3), nowMs: 0 });
  m.step({ type: 'tick' }, 0);
  const hb = (from: string, role: 'worker' | 'assigner', incarnation: number, life: number): ClusterMessage => ({
    type: 'heartbeat', from, incarnation, life, version: 0, role, monitor: 'm1', load: { psiCpu: 0, psiMemory: 0, psiIo: 0, slotsFree: 1, slotsBusy: 0 }, languages: ['c'], monitorsHash: 0,
  });
  m.step({ type: 'receive', from: 'w1', message: hb('w1', 'worker', 4, 2) }, 5);
  m.step({ type: 'receive', from: 'a1', message: hb('a1', 'assigner', 7, 7) }, 6);
  let sent: ClusterMessage | undefined;
  for (let now = 10; now <= 5_000 && sent === undefined; now += 50) {
    sent = m.step({ type: 'tick' }, now).messages.find((o) => o.to === 'a1' && o.message.type === 'monitor_heartbeat')?.message;
  }
  assert.equal(sent?.type, 'monitor_heartbeat');
  if (sent?.type !== 'monitor_heartbeat') return;
  assert.deepEqual(sent.workers.map((w) => [w.name, w.incarnation, w.life]), [['w1', 4, 2]]);
  assert.deepEqual(sent.assigners?.map((a) => [a.name, a.incarnation, a.life]), [['a1', 7, 7]]);
});

test('a Monitor acks a heartbeat with nothing to answer every other interval, one with news at once', () => {
  const m = new ClusterNode({ config: { name: 'm1', role: 'monitor', seedMonitors: ['m1'], languages: [] }, persisted: null, rng: new Xoshiro128(4), nowMs: 0 });
  m.step({ type: 'tick' }, 0);
  const hb = (over: Partial<Extract<ClusterMessage, { type: 'heartbeat' }>> = {}): ClusterMessage => ({
    type: 'heartbeat', from: 'w1', incarnation: 1, life: 1, version: 0, role: 'worker', monitor: 'm1',
    load: { psiCpu: 0, psiMemory: 0, psiIo: 0, slotsFree: 1, slotsBusy: 0 }, languages: ['c'], monitorsHash: 0, ...over,
  });
  const acks = (message: ClusterMessage, at: number) =>
    m.step({ type: 'receive', from: 'w1', message }, at).messages.filter((o) => o.to === 'w1' && o.message.type === 'heartbeat_ack').map((o) => o.message);
  const first = acks(hb(), 10);
  assert.equal(first.length, 1, 'the first heartbeat is acked');
  const hash = first[0]?.type === 'heartbeat_ack' ? first[0].monitors : [];
  assert.deepEqual(hash, ['m1'], 'with the list of Monitors, which w1 did not know');
  const known = { monitorsHash: hashNames(['m1']) };
  assert.equal(acks(hb(known), 510).length, 0, 'one interval later, nothing new: no ack');
  assert.equal(acks(hb(known), 1010).length, 1, 'two intervals after the last ack: acked');
  // (All before 1,500 ms: the lone Monitor's first election, a new leader term, is news too.)
  assert.equal(acks(hb({ ...known, version: 1 }), 1100).length, 0, 'a new version it tells the Monitor of is not news to it');
  assert.equal(acks(hb({ ...known, monitorsHash: 12345 }), 1200).length, 1, 'a stale list of Monitors is news: acked at once');
  assert.equal(acks(hb({ ...known, version: 1, monitor: 'm2' }), 1300).length, 1, 'a farewell is acked');
  assert.equal(acks(hb({ ...known, version: 1 }), 1400).length, 0);
});
