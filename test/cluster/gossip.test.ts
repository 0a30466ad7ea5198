import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gossip } from '../../src/cluster/gossip.js';
import { ZERO_LOAD, type ClusterMessage, type WireEntry } from '../../src/cluster/messages.js';
import { GOSSIP_DIGESTS_PER_MESSAGE_MAX, GOSSIP_ENTRIES_PER_MESSAGE_MAX } from '../../src/protocol/bounds.js';
import { NodeTable } from '../../src/cluster/node-table.js';
import { newOutbox, type Outbound } from '../../src/cluster/output.js';
import { Xoshiro128 } from '../../src/sim/prng.js';

const INTERVAL_MS = 500;

function row(name: string, over: Partial<WireEntry> = {}): WireEntry {
  return { name, role: 'worker', incarnation: 1, life: 1, status: 'alive', version: 0, monitor: 'm0', load: ZERO_LOAD, languages: [], ...over };
}

interface Peer {
  table: NodeTable;
  gossip: Gossip;
}

/** Monitors m0..m{n-1}, each knowing all Monitors, exchanging messages in memory. */
class Cluster {
  readonly peers = new Map<string, Peer>();
  readonly sent: ClusterMessage[] = [];
  now = 0;
  drop: (m: ClusterMessage) => boolean = () => false;

  constructor(count: number, seed = 1) {
    const rng = new Xoshiro128(seed);
    for (let i = 0; i < count; i++) {
      const table = new NodeTable();
      for (let j = 0; j < count; j++) table.merge(row(`m${j}`, { role: 'monitor' }), 0);
      const gossip = new Gossip({ self: `m${i}`, table, rng: rng.fork(), gossipIntervalMs: INTERVAL_MS, gossipToTheDeadMs: 30_000, firstRoundAtMs: 0 });
      this.peers.set(`m${i}`, { table, gossip });
    }
  }

  peer(name: string): Peer {
    return this.peers.get(name) as Peer;
  }

  /** One gossip round for every Monitor, delivering messages until the exchanges finish. */
  round(): void {
    const queue: Array<Outbound & { from: string }> = [];
    for (const [name, p] of this.peers) {
      const out = newOutbox();
      p.gossip.onTick(this.now, out);
      queue.push(...out.messages.map((m) => ({ ...m, from: name })));
    }
    while (queue.length > 0) {
      const { from, to, message } = queue.shift() as Outbound & { from: string };
      this.sent.push(message);
      if (this.drop(message)) continue;
      const out = newOutbox();
      const g = this.peer(to).gossip;
      if (message.type === 'gossip_push') g.onPush(from, message, out);
      else if (message.type === 'gossip_pull') g.onPull(from, message, this.now, out);
      else if (message.type === 'gossip_entries') g.onEntries(from, message, this.now);
      queue.push(...out.messages.map((m) => ({ ...m, from: to })));
    }
    this.now += INTERVAL_MS;
  }

  converged(): boolean {
    const hashes = [...this.peers.values()].map((p) => JSON.stringify(p.table.hash()));
    return new Set(hashes).size === 1;
  }

  roundsUntilConverged(max: number): number {
    for (let r = 1; r <= max; r++) {
      this.round();
      if (this.converged()) return r;
    }
    return Number.POSITIVE_INFINITY;
  }
}

test('a change at one Monitor reaches every Monitor', () => {
  const c = new Cluster(6);
  c.peer('m3').table.merge(row('w1', { status: 'dead' }), 0);
  const rounds = c.roundsUntilConverged(20);
  assert.ok(rounds <= 2 * 5 + 1, `within the shuffled round-robin bound, took ${rounds}`);
  for (const p of c.peers.values()) assert.equal(p.table.get('w1')?.status, 'dead');
});

test('a new Monitor catches up on a large table in bounded messages over several rounds', () => {
  const c = new Cluster(4);
  for (let i = 0; i < 1000; i++) for (const name of ['m0', 'm1', 'm2']) c.peer(name).table.merge(row(`w${i}`), 0);
  const rounds = c.roundsUntilConverged(40);
  assert.equal(c.peer('m3').table.size, 1004, `after ${rounds} rounds`);
  assert.ok(rounds >= Math.ceil(1000 / (2 * GOSSIP_ENTRIES_PER_MESSAGE_MAX)), `pages, not one message: ${rounds} rounds`);
  assert.ok(rounds <= 30, `took ${rounds} rounds`);
  for (const m of c.sent) {
    if (m.type === 'gossip_push') assert.ok(m.digests.length <= GOSSIP_DIGESTS_PER_MESSAGE_MAX);
    if (m.type === 'gossip_pull' || m.type === 'gossip_entries') assert.ok(m.entries.length <= GOSSIP_ENTRIES_PER_MESSAGE_MAX);
  }
});

test('once converged, rounds carry no digests or entries', () => {
  const c = new Cluster(5);
  for (let i = 0; i < 300; i++) c.peer(`m${i % 5}`).table.merge(row(`w${i}`), 0);
  assert.ok(c.roundsUntilConverged(40) < 40);
  for (let i = 0; i < 10; i++) c.round(); // let every pair's positions catch up
  c.sent.length = 0;
  for (let i = 0; i < 5; i++) c.round();
  const carried = c.sent.reduce((n, m) => n + ('digests' in m ? m.digests.length : 0) + ('entries' in m ? m.entries.length : 0), 0);
  assert.equal(carried, 0);
  assert.ok(c.sent.every((m) => m.type !== 'gossip_entries'), 'two legs only');
});

test('lost messages delay but never lose a change', () => {
  const c = new Cluster(3, 7);
  let dropped = 0;
  c.drop = (m) => m.type !== 'gossip_push' && dropped++ < 6; // lose the first six replies
  c.peer('m1').table.merge(row('w1', { incarnation: 4 }), 0);
  c.peer('m2').table.merge(row('w2', { status: 'suspect' }), 0);
  assert.ok(c.roundsUntilConverged(30) < 30);
  assert.ok(dropped >= 6);
  for (const p of c.peers.values()) {
    assert.equal(p.table.get('w1')?.incarnation, 4);
    assert.equal(p.table.get('w2')?.status, 'suspect');
  }
});

test('each Monitor gossips to one peer per round, every peer within one shuffled cycle', () => {
  const c = new Cluster(6, 3);
  const pushes = new Map<string, string[]>();
  for (let r = 0; r < 5; r++) {
    for (const [name, p] of c.peers) {
      const out = newOutbox();
      p.gossip.onTick(c.now, out);
      assert.equal(out.messages.length, 1);
      pushes.set(name, [...(pushes.get(name) ?? []), (out.messages[0] as Outbound).to]);
    }
    c.now += INTERVAL_MS;
  }
  for (const [name, targets] of pushes) assert.deepEqual([...targets].sort(), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'].filter((m) => m !== name));
});

test('news spreads in a few rounds even while every pair is still paging through a large log', () => {
  const c = new Cluster(20, 5);
  const rng = new Xoshiro128(99);
  for (const p of c.peers.values()) for (let i = 0; i < 1000; i++) p.table.merge(row(`w${i}`), 0);
  const churn = (): void => {
    // Assigner-like load churn somewhere every round, so tables are rarely equal (no shortcut).
    const peer = c.peer(`m${rng.nextUint32() % 20}`);
    const name = `w${rng.nextUint32() % 1000}`;
    const e = peer.table.get(name) as WireEntry;
    peer.table.merge({ ...e, version: e.version + 1 }, c.now);
  };
  for (let r = 0; r < 4; r++) {
    churn();
    c.round();
  }
  c.peer('m7').table.merge(row('w500', { status: 'dead', version: 99 }), c.now);
  let rounds = 0;
  while (rounds < 40 && [...c.peers.values()].some((p) => p.table.get('w500')?.status !== 'dead')) {
    churn();
    c.round();
    rounds += 1;
  }
  assert.ok(rounds <= 10, `the death reached all 20 Monitors in ${rounds} rounds`);
});
