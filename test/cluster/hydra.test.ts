import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hydra, type HydraPersistent } from '../../src/cluster/hydra.js';
import type { ClusterMessage, MonitorHeartbeat, NodeName } from '../../src/cluster/messages.js';
import { bootState, ClusterNode, HYDRA_TERM_GAP } from '../../src/cluster/node.js';
import { newOutbox, type Outbound, type Outbox } from '../../src/cluster/output.js';
import { DEFAULT_TIMING } from '../../src/cluster/timing.js';
import { Xoshiro128 } from '../../src/sim/prng.js';

const T = DEFAULT_TIMING;
const INTERVAL = T.monitorHeartbeatIntervalMs;
const SILENT_AFTER = T.missedLimit * INTERVAL;

function hb(from: NodeName, assigners: NodeName[], term = 1): MonitorHeartbeat {
  return {
    type: 'monitor_heartbeat', from, term, intervalMs: INTERVAL, workers: [],
    assigners: assigners.map((name) => ({ name, incarnation: 1, life: 1, status: 'alive' as const, buddy: null })),
  };
}

/** Assigners' Hydras wired in memory: messages are delivered unless cut; the clock moves in steps. */
class Pack {
  readonly h = new Map<NodeName, Hydra>();
  now = 0;
  /** Links that lose every message (both directions). */
  cut = new Set<string>();
  /** Monitors still beating, and to whom. */
  beating = new Map<NodeName, Set<NodeName>>();
  wins: Array<{ name: NodeName; term: number; replaced: NodeName[] }> = [];

  constructor(readonly names: NodeName[], monitors: NodeName[], seed = 1, persisted: Partial<Record<NodeName, HydraPersistent>> = {}) {
    const rng = new Xoshiro128(seed);
    names.forEach((n, i) => {
      const buddy = names[i % 2 === 0 ? i + 1 : i - 1] ?? null;
      this.h.set(n, new Hydra(n, T, persisted[n] ?? { hydraTerm: 0, hydraVotedFor: null }, rng.fork(), () => buddy));
    });
    for (const m of monitors) this.beating.set(m, new Set(names));
  }

  get(name: NodeName): Hydra {
    return this.h.get(name) as Hydra;
  }

  private linked(a: NodeName, b: NodeName): boolean {
    return !this.cut.has(`${a}|${b}`) && !this.cut.has(`${b}|${a}`);
  }

  run(untilMs: number, stepMs = 25): void {
    for (; this.now <= untilMs; this.now += stepMs) {
      if (this.now % INTERVAL === 0) {
        for (const [m, to] of this.beating) for (const a of to) if (this.h.get(a)?.role !== 'won') this.get(a).onMonitorHeartbeat(hb(m, this.names), this.now, newOutbox());
      }
      const queue: Array<Outbound & { from: NodeName }> = [];
      for (const [name, h] of this.h) {
        const out = newOutbox();
        h.onTick(this.now, out);
        queue.push(...this.collect(name, out));
      }
      while (queue.length > 0) {
        const m = queue.shift() as Outbound & { from: NodeName };
        if (!this.linked(m.from, m.to)) continue;
        const target = this.h.get(m.to);
        if (target === undefined) continue;
        const out = newOutbox();
        dispatch(target, m.message, this.now, out);
        queue.push(...this.collect(m.to, out));
      }
    }
  }

  private collect(name: NodeName, out: Outbox): Array<Outbound & { from: NodeName }> {
    const h = this.get(name);
    if (h.won !== null && !this.wins.some((w) => w.name === name)) {
      this.wins.push({ name, term: h.won.term, replaced: h.won.replaced });
      // The winner (and its partner) now serve as Monitors: they beat to the Assigners.
      for (const m of [name, h.won.partner]) if (m !== null) this.beating.set(m, new Set(this.names.filter((n) => n !== name && n !== h.won?.partner)));
    }
    return out.messages.map((m) => ({ ...m, from: name }));
  }
}

function dispatch(h: Hydra, m: ClusterMessage, now: number, out: Outbox): void {
  if (m.type === 'hydra_vote_request') h.onVoteRequest(m, now, out);
  else if (m.type === 'hydra_vote_reply') h.onVoteReply(m, now, out);
  else if (m.type === 'hydra_won') h.onWon(m, now, out);
  else if (m.type === 'hydra_won_ack') h.onWonAck(m, now);
}

test('a Monitor silent for missedLimit heartbeats is replaced once, by one winner, whatever the seed', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const p = new Pack(['a1', 'a2', 'a3', 'a4', 'a5', 'a6'], ['m1', 'm2'], seed);
    p.run(3_000);
    p.beating.delete('m1'); // m1 dies at 3 s
    p.run(20_000);
    assert.equal(p.wins.length, 1, `seed ${seed}: ${JSON.stringify(p.wins)}`);
    assert.deepEqual(p.wins[0]?.replaced, ['m1']);
    const detectedAt = 3_000 - INTERVAL + SILENT_AFTER;
    const pair = new Set([...p.beating.keys()]);
    for (const name of p.names) if (!pair.has(name)) assert.deepEqual(p.get(name).silent(p.now), [], `seed ${seed}: ${name} retired m1`);
    assert.ok(detectedAt > 3_000);
  }
});

test('nobody stands before missedLimit heartbeats are missed; the randomised timeout then spreads the candidates', () => {
  const p = new Pack(['a1', 'a2', 'a3', 'a4'], ['m1', 'm2'], 7);
  p.run(2_000);
  p.beating.delete('m1');
  p.run(2_000 + SILENT_AFTER - INTERVAL - 25);
  for (const n of p.names) assert.equal(p.get(n).role, 'voter', `${n} waits for the 5th miss`);
  const h = new Hydra('a1', T, { hydraTerm: 0, hydraVotedFor: null }, new Xoshiro128(3));
  const waits = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const x = new Hydra('a1', T, { hydraTerm: 0, hydraVotedFor: null }, new Xoshiro128(100 + i));
    x.onMonitorHeartbeat(hb('m1', ['a1', 'a2']), 0, newOutbox());
    x.onTick(SILENT_AFTER, newOutbox()); // detects, arms its timeout
    waits.add(x.nextDueMs(SILENT_AFTER) - SILENT_AFTER);
  }
  for (const w of waits) assert.ok(w >= T.hydraTimeoutMinMs && w <= T.hydraTimeoutMaxMs, `timeout ${w}`);
  assert.ok(waits.size >= 10, `randomised: ${[...waits].join(',')}`);
  assert.equal(h.term, 0);
});

test('one vote per term, persisted; a restarted voter keeps it', () => {
  const voter = () => {
    const h = new Hydra('a2', T, { hydraTerm: 0, hydraVotedFor: null }, new Xoshiro128(1));
    h.onMonitorHeartbeat(hb('m1', ['a1', 'a2', 'a3']), 0, newOutbox());
    return h;
  };
  const ask = (h: Hydra, from: NodeName, term: number): boolean => {
    const out = newOutbox();
    h.onVoteRequest({ type: 'hydra_vote_request', from, term, silent: ['m1'] }, SILENT_AFTER, out);
    const r = out.messages[0]?.message;
    return r?.type === 'hydra_vote_reply' && r.granted;
  };
  const v = voter();
  assert.equal(ask(v, 'a1', 1), true);
  assert.equal(v.dirty, true, 'the vote must be persisted before the reply leaves');
  assert.deepEqual(v.persistent(), { hydraTerm: 1, hydraVotedFor: 'a1' });
  assert.equal(ask(v, 'a3', 1), false, 'already voted in term 1');
  assert.equal(ask(v, 'a1', 1), true, 'a repeated request gets the same answer');
  assert.equal(ask(v, 'intruder', 2), false, 'not in the electorate');
  assert.equal(v.term, 1, 'a refused request does not move the term');
  // A restart with the persisted state still refuses a second candidate in term 1.
  const again = new Hydra('a2', T, v.persistent(), new Xoshiro128(9));
  again.onMonitorHeartbeat(hb('m1', ['a1', 'a2', 'a3']), 0, newOutbox());
  assert.equal(ask(again, 'a3', 1), false);
  assert.equal(ask(again, 'a3', 2), true, 'a newer term is a new vote');
});

test('a voter that still hears the Monitor refuses, and keeps its term (no disruption by a lone Assigner)', () => {
  const h = new Hydra('a2', T, { hydraTerm: 4, hydraVotedFor: null }, new Xoshiro128(1));
  h.onMonitorHeartbeat(hb('m1', ['a1', 'a2', 'a3']), SILENT_AFTER - 10, newOutbox());
  const out = newOutbox();
  h.onVoteRequest({ type: 'hydra_vote_request', from: 'a1', term: 40, silent: ['m1'] }, SILENT_AFTER, out);
  const r = out.messages[0]?.message;
  assert.ok(r?.type === 'hydra_vote_reply' && !r.granted);
  assert.equal(h.term, 4);
});

test('a Monitor cut off from one Assigner only (a minority) is never replaced', () => {
  const p = new Pack(['a1', 'a2', 'a3', 'a4'], ['m1', 'm2'], 5);
  p.run(2_000);
  p.beating.set('m1', new Set(['a2', 'a3', 'a4'])); // a1 stops hearing m1
  p.run(15_000);
  assert.deepEqual(p.wins, []);
  assert.ok(p.get('a1').term > 0, 'a1 did stand');
  for (const n of ['a2', 'a3', 'a4']) assert.equal(p.get(n).term, 0, `${n} never moved to a1's terms`);
});

test('a minority side of a partition makes no role change; the majority side does', () => {
  const p = new Pack(['a1', 'a2', 'a3', 'a4', 'a5'], ['m1', 'm2'], 11);
  p.run(2_000);
  // m1 dies; a1, a2 are cut off from a3, a4, a5.
  p.beating.delete('m1');
  for (const a of ['a1', 'a2']) for (const b of ['a3', 'a4', 'a5']) p.cut.add(`${a}|${b}`);
  p.run(15_000);
  assert.equal(p.wins.length, 1);
  assert.ok(['a3', 'a4', 'a5'].includes(p.wins[0]?.name as string), `winner ${p.wins[0]?.name}`);
});

test('two Assigners, both needed: one alone never wins', () => {
  const p = new Pack(['a1', 'a2'], ['m1', 'm2'], 2);
  p.run(2_000);
  p.beating.delete('m1');
  p.cut.add('a1|a2');
  p.run(12_000);
  assert.deepEqual(p.wins, []);
  p.cut.clear();
  p.run(20_000);
  assert.equal(p.wins.length, 1, 'after the heal they agree');
});

test('a win is committed by a majority before it counts; a refused commit (newer promise) does not win', () => {
  const c = new Hydra('a1', T, { hydraTerm: 0, hydraVotedFor: null }, new Xoshiro128(1), () => 'a2');
  c.onMonitorHeartbeat(hb('m1', ['a1', 'a2', 'a3']), 0, newOutbox());
  const out = newOutbox();
  c.onTick(SILENT_AFTER, out);
  c.onTick(SILENT_AFTER + T.hydraTimeoutMaxMs, out);
  assert.equal(c.role, 'candidate');
  c.onVoteReply({ type: 'hydra_vote_reply', from: 'a3', term: c.term, granted: true, leaderTerm: 6, replaced: [] }, SILENT_AFTER + 700, out);
  assert.equal(c.role, 'committing', 'a majority of votes starts the commit, not the switch');
  const commit = out.messages.find((m) => m.message.type === 'hydra_won')?.message;
  assert.ok(commit?.type === 'hydra_won');
  assert.deepEqual(commit.monitors, ['a1', 'a3'], 'its buddy a2 never answered: a3, which did, goes instead');
  c.onWonAck({ type: 'hydra_won_ack', from: 'a2', term: c.term, ok: false, leaderTerm: 0 }, SILENT_AFTER + 710);
  assert.equal(c.won, null);
  c.onWonAck({ type: 'hydra_won_ack', from: 'a3', term: c.term, ok: true, leaderTerm: 7 }, SILENT_AFTER + 720);
  const won = c.won as Hydra['won'];
  assert.ok(won !== null);
  assert.deepEqual(won.replaced, ['m1']);
  assert.equal(won.partner, 'a3', 'the partner the commit named, though the buddy answered later');
  assert.equal(c.leaderTermSeen, 7, 'the newest leader term the voters knew');
  // A voter that acknowledged a1's commit refuses anyone else for m1 and says so.
  const v = new Hydra('a3', T, { hydraTerm: 0, hydraVotedFor: null }, new Xoshiro128(2));
  v.onMonitorHeartbeat(hb('m1', ['a1', 'a2', 'a3']), 0, newOutbox());
  const o = newOutbox();
  v.onWon({ type: 'hydra_won', from: 'a1', term: 1, replaced: ['m1'], monitors: ['a1', 'a3'] }, SILENT_AFTER, o);
  assert.ok(o.messages[0]?.message.type === 'hydra_won_ack' && o.messages[0].message.ok);
  const o2 = newOutbox();
  v.onVoteRequest({ type: 'hydra_vote_request', from: 'a2', term: 5, silent: ['m1'] }, SILENT_AFTER + 100, o2);
  const r = o2.messages[0]?.message;
  assert.ok(r?.type === 'hydra_vote_reply' && !r.granted);
  assert.deepEqual(r.replaced, ['m1']);
  assert.ok(o2.messages.some((m) => m.message.type === 'monitor_announce'), 'and tells it where the new Monitors are');
  // ...and refuses an older commit for m1 by someone else.
  const o3 = newOutbox();
  v.onWon({ type: 'hydra_won', from: 'a2', term: 1, replaced: ['m1'], monitors: ['a2'] }, SILENT_AFTER + 200, o3);
  assert.ok(o3.messages[0]?.message.type === 'hydra_won_ack' && !o3.messages[0].message.ok);
});

// ClusterNode: the role change and its fence.

function assigner(name: NodeName, buddy: NodeName): ClusterNode {
  return new ClusterNode({
    config: { name, role: 'assigner', buddy, seedMonitors: ['m1', 'm2'], languages: [], labNodes: ['m1', 'm2', 'a1', 'a2', 'w1'] },
    persisted: null,
    rng: new Xoshiro128(name.length),
    nowMs: 0,
  });
}

test('the winner and its buddy become Monitors, fenced past the leader term they knew; a stale leader cannot undo it', () => {
  const a1 = assigner('a1', 'a2');
  const a2 = assigner('a2', 'a1');
  const nodes = new Map([['a1', a1], ['a2', a2]]);
  const notes: string[] = [];
  const deliver = (from: NodeName, msgs: Outbound[], now: number) => {
    const queue = msgs.map((m) => ({ ...m, from }));
    while (queue.length > 0) {
      const m = queue.shift() as Outbound & { from: NodeName };
      const n = nodes.get(m.to);
      if (n === undefined) continue;
      const out = n.step({ type: 'receive', from: m.from, message: m.message }, now);
      for (const note of out.notes) notes.push(`${m.to}:${note.kind}`);
      queue.push(...out.messages.map((x) => ({ ...x, from: m.to })));
    }
  };
  for (const n of nodes.values()) n.step({ type: 'tick' }, 0);
  for (let t = 0; t <= 12_000; t += 25) {
    for (const [name, n] of nodes) {
      // m1 beats until 1 s, then falls silent; m2 keeps beating.
      if (t % INTERVAL === 0 && t <= 1_000) n.step({ type: 'receive', from: 'm1', message: hb('m1', ['a1', 'a2'], 6) }, t);
      if (t % INTERVAL === 0) n.step({ type: 'receive', from: 'm2', message: hb('m2', ['a1', 'a2'], 6) }, t);
      const out = n.step({ type: 'tick' }, t);
      for (const note of out.notes) notes.push(`${name}:${note.kind}`);
      deliver(name, out.messages, t);
    }
  }
  assert.equal(a1.role, 'monitor', notes.join(' '));
  assert.equal(a2.role, 'monitor', notes.join(' '));
  const winner = notes.find((n) => n.endsWith(':hydra_won'))?.split(':')[0] as NodeName;
  const idx = notes.indexOf(`${winner}:hydra_won`);
  assert.equal(notes[idx + 1], `${winner}:role_changed`, 'the hand-off hook note comes first, then the switch');
  for (const n of nodes.values()) {
    assert.equal(n.persistentState().orderTerm, 7, 'fenced one past leader term 6');
    assert.deepEqual(n.monitor?.table.knownMonitors(), ['a1', 'a2', 'm2'], 'm1 (replaced) is no placeholder');
    assert.ok((n.monitor?.election.term ?? 0) >= 7 + HYDRA_TERM_GAP, 'with no leader to follow, its first campaign skipped the gap');
  }
  // The leader of term 6 (stale for them now) orders a2 back to Assigner: ignored.
  const out = a2.step({ type: 'receive', from: 'm2', message: { type: 'order_role', from: 'm2', term: 6, seq: 99, target: 'a2', role: 'assigner', buddy: 'a1' } }, 12_100);
  assert.equal(a2.role, 'monitor');
  assert.deepEqual(out.notes.map((n) => n.kind), ['stale_order']);
  // A leader of a newer term (the next election) may.
  a2.step({ type: 'receive', from: 'm2', message: { type: 'order_role', from: 'm2', term: 7 + HYDRA_TERM_GAP, seq: 1, target: 'a2', role: 'assigner', buddy: 'a1' } }, 12_200);
  assert.equal(a2.role, 'assigner');
});

test('a stale hydra_promote (older than an order already obeyed) is ignored', () => {
  const a2 = new ClusterNode({
    config: { name: 'a2', role: 'assigner', buddy: 'a1', seedMonitors: ['m1'], languages: [] },
    persisted: { ...bootState(null), orderTerm: 9, orderSeq: 3 },
    rng: new Xoshiro128(1),
    nowMs: 0,
  });
  const out = a2.step({ type: 'receive', from: 'a1', message: { type: 'hydra_promote', from: 'a1', term: 3, orderTerm: 9, target: 'a2', monitors: ['a1', 'a2'] } }, 10);
  assert.equal(a2.role, 'assigner');
  assert.deepEqual(out.notes.map((n) => n.kind), ['stale_order']);
  a2.step({ type: 'receive', from: 'a1', message: { type: 'hydra_promote', from: 'a1', term: 3, orderTerm: 10, target: 'a2', monitors: ['a1', 'a2'] } }, 20);
  assert.equal(a2.role, 'monitor');
  assert.equal(a2.persistentState().hydraTerm, 3);
});
