import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeartbeatClient } from '../../src/cluster/heartbeat-client.js';
import { rendezvousOrder } from '../../src/cluster/hash.js';
import type { HeartbeatAck } from '../../src/cluster/messages.js';
import { newOutbox, type Outbox } from '../../src/cluster/output.js';
import { DEFAULT_TIMING } from '../../src/cluster/timing.js';

const SEEDS = ['m1', 'm2', 'm3'];

function client(role: 'worker' | 'assigner' = 'worker'): HeartbeatClient {
  return new HeartbeatClient({ name: 'w1', role, incarnation: 1, seedMonitors: SEEDS, languages: ['c'], timing: DEFAULT_TIMING, firstHeartbeatAtMs: 0 });
}

function ack(from: string, over: Partial<HeartbeatAck> = {}): HeartbeatAck {
  return { type: 'heartbeat_ack', from, yourIncarnation: 1, yourStatus: 'alive', yourVersion: 0, preferredMonitor: from, monitors: SEEDS, leader: null, ...over };
}

function targets(out: Outbox): string[] {
  return out.messages.map((m) => m.to);
}

test('a node heartbeats to its rendezvous Monitor, once per interval', () => {
  const c = client();
  const first = rendezvousOrder('w1', SEEDS)[0];
  const out = newOutbox();
  c.onTick(0, out);
  c.onTick(499, out);
  c.onTick(500, out);
  assert.deepEqual(targets(out), [first, first]);
});

test('after ackMissLimit silent intervals it fails over, saying farewell to the old Monitor', () => {
  const c = client();
  const [first, second] = rendezvousOrder('w1', SEEDS);
  const sent: string[][] = [];
  for (let now = 0; now <= 2500; now += 500) {
    const out = newOutbox();
    c.onTick(now, out);
    sent.push(targets(out));
  }
  // Acks stop from the start: at 2000 (4 intervals) the node moves on.
  assert.deepEqual(sent, [[first], [first], [first], [first], [second, first], [second, first]]);
  assert.equal(c.monitor, second);
  assert.equal(c.selfEntry().monitor, second);
});

test('a suspicion is refuted at once with a higher incarnation', () => {
  const c = client();
  const out = newOutbox();
  c.onTick(0, out);
  const monitor = c.monitor as string;
  const refuted = c.onAck(monitor, ack(monitor, { yourStatus: 'suspect' }), 10, out);
  assert.equal(refuted, true);
  assert.equal(c.incarnation, 2);
  const last = out.messages[out.messages.length - 1];
  assert.equal(last?.message.type === 'heartbeat' && last.message.incarnation, 2, 'refutation sent without waiting');
  assert.equal(c.onAck(monitor, ack(monitor, { yourStatus: 'suspect' }), 20, newOutbox()), false, 'an old suspicion is ignored');
});

test('a trace of a forgotten life (higher version, same incarnation) is also refuted', () => {
  const c = client();
  c.onTick(0, newOutbox());
  const m = c.monitor as string;
  assert.equal(c.onAck(m, ack(m, { yourVersion: 5 }), 10, newOutbox()), true);
  assert.equal(c.incarnation, 2);
});

test('a refutation keeps the life (same process, runs still there); a forgotten incarnation or version starts a new one', () => {
  const c = client();
  c.onTick(0, newOutbox());
  const m = c.monitor as string;
  assert.equal(c.life, 1);
  c.onAck(m, ack(m, { yourStatus: 'suspect' }), 10, newOutbox());
  assert.deepEqual([c.incarnation, c.life, c.selfEntry().life], [2, 1, 1], 'suspected and refuted: same life');
  const out = newOutbox();
  c.onAck(m, ack(m, { yourIncarnation: 7, yourStatus: 'dead' }), 20, out);
  assert.deepEqual([c.incarnation, c.life], [8, 8], 'an incarnation this process never had: a life it forgot');
  const hb = out.messages.find((o) => o.message.type === 'heartbeat')?.message;
  assert.equal(hb?.type === 'heartbeat' && hb.life, 8, 'heartbeats carry the life');
  const d = client();
  d.onTick(0, newOutbox());
  const dm = d.monitor as string;
  d.onAck(dm, ack(dm, { yourVersion: 5 }), 10, newOutbox());
  assert.deepEqual([d.incarnation, d.life], [2, 2], 'a version this process never had, at its own incarnation: a forgotten life too');
});

test('the current Monitor can hand the node to the preferred one', () => {
  const c = client();
  c.onTick(0, newOutbox());
  const m = c.monitor as string;
  const other = SEEDS.find((s) => s !== m) as string;
  const out = newOutbox();
  c.onAck(m, ack(m, { preferredMonitor: other }), 10, out);
  assert.equal(c.monitor, other);
  c.onTick(500, out);
  assert.deepEqual(targets(out), [other, m], 'farewell to the old one');
});

test("an Assigner's load changes bump the version only when the quantized load changes", () => {
  const c = client('assigner');
  const v0 = c.version;
  c.setLoad({ psiCpu: 0.01, psiMemory: 0, psiIo: 0, slotsFree: 0, slotsBusy: 0 });
  assert.equal(c.version, v0, 'below one PSI step');
  c.setLoad({ psiCpu: 0.3, psiMemory: 0, psiIo: 0, slotsFree: 0, slotsBusy: 0 });
  assert.equal(c.version, v0 + 1);
});

test("a Worker's load rides every heartbeat but never moves its version (it is not gossiped)", () => {
  const c = client('worker');
  const out = newOutbox();
  c.setLoad({ psiCpu: 0.9, psiMemory: 0, psiIo: 0, slotsFree: 1, slotsBusy: 7 });
  assert.equal(c.version, 0);
  assert.equal(c.selfEntry().load.slotsBusy, 0, 'the table row carries no Worker load');
  c.onTick(0, out);
  const hb = out.messages[0]?.message;
  assert.equal(hb?.type === 'heartbeat' && hb.load.slotsBusy, 7);
});
