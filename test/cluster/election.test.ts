import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Election, majority } from '../../src/cluster/election.js';
import type { ClusterMessage } from '../../src/cluster/messages.js';
import { newOutbox, type Outbound, type Outbox } from '../../src/cluster/output.js';
import { DEFAULT_TIMING } from '../../src/cluster/timing.js';
import { Xoshiro128 } from '../../src/sim/prng.js';

const VOTERS = ['m0', 'm1', 'm2'];
const STEP_MS = 50;

/** Three Monitors' elections wired together in memory, with an optional cut-off Monitor. */
class Trio {
  readonly e = new Map<string, Election>();
  now = 0;
  isolated: string | null = null;
  leadersByTerm = new Map<number, Set<string>>();

  constructor(seed: number) {
    const rng = new Xoshiro128(seed);
    for (const v of VOTERS) this.e.set(v, new Election(v, DEFAULT_TIMING, { term: 0, votedFor: null, lastTerm: 0 }, rng.fork(), 0));
  }

  get(name: string): Election {
    return this.e.get(name) as Election;
  }

  run(untilMs: number): void {
    for (; this.now <= untilMs; this.now += STEP_MS) {
      const queue: Array<Outbound & { from: string }> = [];
      for (const [name, el] of this.e) queue.push(...this.tick(name, el));
      while (queue.length > 0) queue.push(...this.deliver(queue.shift() as Outbound & { from: string }));
      for (const [name, el] of this.e) {
        if (el.role !== 'leader') continue;
        const set = this.leadersByTerm.get(el.term) ?? new Set();
        set.add(name);
        this.leadersByTerm.set(el.term, set);
      }
    }
  }

  leaders(): string[] {
    return VOTERS.filter((v) => this.get(v).role === 'leader');
  }

  private tick(name: string, el: Election): Array<Outbound & { from: string }> {
    const out = newOutbox();
    el.onTick(this.now, VOTERS, out);
    return out.messages.map((m) => ({ ...m, from: name }));
  }

  private deliver({ from, to, message }: Outbound & { from: string }): Array<Outbound & { from: string }> {
    if (this.isolated !== null && (from === this.isolated) !== (to === this.isolated)) return [];
    const out: Outbox = newOutbox();
    dispatch(this.get(to), message, this.now, out);
    return out.messages.map((m) => ({ ...m, from: to }));
  }
}

function dispatch(el: Election, m: ClusterMessage, now: number, out: Outbox): void {
  if (m.type === 'vote_request') el.onVoteRequest(m, now, VOTERS, out);
  else if (m.type === 'vote_reply') el.onVoteReply(m, now, VOTERS, out);
  else if (m.type === 'leader_heartbeat') el.onLeaderHeartbeat(m, now, VOTERS, out);
  else if (m.type === 'leader_heartbeat_reply') el.onLeaderHeartbeatReply(m, now, out);
}

test('majority of n voters', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(majority), [1, 2, 2, 3, 3]);
});

test('three Monitors elect exactly one leader that the others follow', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const t = new Trio(seed);
    t.run(8_000);
    const leaders = t.leaders();
    assert.equal(leaders.length, 1, `seed ${seed}`);
    for (const v of VOTERS) assert.equal(t.get(v).leader, leaders[0], `seed ${seed}: ${v} follows`);
    for (const [term, set] of t.leadersByTerm) assert.equal(set.size, 1, `seed ${seed}: term ${term}`);
  }
});

test('a leader cut off from the majority steps down; the majority elects a new one in a higher term', () => {
  const t = new Trio(4);
  t.run(6_000);
  const [old] = t.leaders();
  assert.ok(old !== undefined);
  const oldTerm = t.get(old).term;
  t.isolated = old;
  t.run(16_000);
  assert.notEqual(t.get(old).role, 'leader', 'check-quorum stepped it down');
  const [fresh] = t.leaders();
  assert.ok(fresh !== undefined && fresh !== old);
  assert.ok(t.get(fresh).term > oldTerm);
  t.isolated = null;
  t.run(26_000);
  assert.equal(t.leaders().length, 1);
  for (const [term, set] of t.leadersByTerm) assert.equal(set.size, 1, `term ${term}`);
});

test('one vote per term, and none for a candidate that missed the last leader', () => {
  const e = new Election('m0', DEFAULT_TIMING, { term: 3, votedFor: null, lastTerm: 3 }, new Xoshiro128(1), 0);
  const ask = (from: string, term: number, lastTerm: number): boolean => {
    const out = newOutbox();
    e.onVoteRequest({ type: 'vote_request', from, term, lastTerm }, 0, VOTERS, out);
    const reply = out.messages[0]?.message;
    return reply?.type === 'vote_reply' && reply.granted;
  };
  assert.equal(ask('m1', 4, 2), false, 'stale lastTerm');
  assert.equal(ask('m1', 4, 3), true);
  assert.equal(ask('m2', 4, 3), false, 'already voted in term 4');
  assert.equal(ask('m1', 4, 3), true, 'a repeated request gets the same answer');
  assert.equal(ask('intruder', 9, 9), false);
  assert.equal(e.term, 4, 'a non-voter cannot raise the term');
  assert.deepEqual(e.persistent(), { term: 4, votedFor: 'm1', lastTerm: 3 });
  assert.equal(e.dirty, true, 'the vote must be persisted before the reply goes out');
});

test('a higher term in any election message makes a leader step down', () => {
  const e = new Election('m0', DEFAULT_TIMING, { term: 0, votedFor: null, lastTerm: 0 }, new Xoshiro128(2), 0);
  const out = newOutbox();
  e.onTick(DEFAULT_TIMING.electionTimeoutMaxMs, ['m0'], out); // sole voter: wins at once
  assert.equal(e.role, 'leader');
  e.onLeaderHeartbeatReply({ type: 'leader_heartbeat_reply', from: 'm1', term: 7, ok: false }, 3_100, out);
  assert.equal(e.role, 'follower');
  assert.equal(e.term, 7);
  assert.ok(out.notes.some((n) => n.kind === 'stepped_down'));
});
