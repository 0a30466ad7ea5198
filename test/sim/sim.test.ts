import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeName, Role } from '../../src/cluster/messages.js';
import { randomInt, randomIntBetween } from '../../src/cluster/random.js';
import { DEFAULT_TIMING } from '../../src/cluster/timing.js';
import type { Fault } from '../../src/sim/faults.js';
import { Xoshiro128 } from '../../src/sim/prng.js';
import { randomScenario, reproduction } from '../../src/sim/scenario.js';
import { simulate, Simulation, type SimNodeSpec, type SimResult, type SimulateOptions } from '../../src/sim/simulator.js';

const RANDOM_SEEDS = 2_500;

function cluster(monitors: number, assigners: number, workers: number, empties = 0): SimNodeSpec[] {
  const specs: SimNodeSpec[] = [];
  const add = (role: Role, count: number, prefix: string) => {
    for (let i = 0; i < count; i++) specs.push({ name: `${prefix}${i}`, role });
  };
  add('monitor', monitors, 'm');
  add('assigner', assigners, 'a');
  add('worker', workers, 'w');
  add('empty', empties, 'e');
  return specs;
}

function assertClean(r: SimResult, what: string): void {
  assert.deepEqual(r.violations, [], `${what}: ${reproduction(r.seed)}`);
}

/** Records, per Monitor, the first virtual time its table held `victim` dead. */
function deathWatch(victim: NodeName): { firstDeadMs: Map<NodeName, number>; observer: SimulateOptions['observer'] } {
  const firstDeadMs = new Map<NodeName, number>();
  return {
    firstDeadMs,
    observer: {
      afterStep(name, node, _out, nowMs) {
        if (!firstDeadMs.has(name) && node.monitor?.table.get(victim)?.status === 'dead') firstDeadMs.set(name, nowMs);
      },
    },
  };
}

test(`${RANDOM_SEEDS} random seeds (3–12 nodes, ≥ 2 Monitors, random faults) keep every invariant`, (t) => {
  const started = performance.now();
  let events = 0;
  let crashChecks = 0;
  let faults = 0;
  const failures: string[] = [];
  for (let seed = 1; seed <= RANDOM_SEEDS; seed++) {
    const scenario = randomScenario(seed);
    faults += scenario.faults.filter((f) => f.kind !== 'load').length;
    const r = simulate(scenario);
    events += r.events;
    crashChecks += r.crashChecks.checked;
    if (r.violations.length > 0) failures.push(`${r.violations[0]?.invariant}: ${r.violations[0]?.message} — ${reproduction(seed)}`);
  }
  const wallMs = performance.now() - started;
  t.diagnostic(`${RANDOM_SEEDS} seeds, ${faults} faults, ${events} events, ${crashChecks} crash bounds checked, ${wallMs.toFixed(0)} ms`);
  assert.deepEqual(failures.slice(0, 5), []);
  assert.ok(faults > RANDOM_SEEDS, 'the schedules really inject faults');
  assert.ok(crashChecks > 200, `crash bounds were really checked (${crashChecks})`);
});

test('the same seed replays the same run; different seeds differ', () => {
  const a = simulate(randomScenario(4242));
  const b = simulate(randomScenario(4242));
  assert.equal(a.traceHash, b.traceHash);
  assert.deepEqual(a, b);
  const hashes = new Set(Array.from({ length: 20 }, (_, i) => simulate(randomScenario(i + 1)).traceHash));
  assert.equal(hashes.size, 20);
});

test('a crashed Worker is dead at its Monitor, then at every Monitor, within the bounds', () => {
  const watch = deathWatch('w3');
  const sim = new Simulation({
    seed: 11, nodes: cluster(4, 2, 6), durationMs: 12_000, faults: [{ kind: 'crash', atMs: 4_000, node: 'w3' }], observer: watch.observer,
  });
  sim.runUntil(3_999);
  const owner = sim.node('w3')?.reportsTo as NodeName;
  const r = sim.run();
  assertClean(r, 'crash');
  assert.equal(r.crashChecks.checked, 2, 'both (c) obligations were checked, none excused');
  const ownerMs = (watch.firstDeadMs.get(owner) ?? Infinity) - 4_000;
  assert.ok(ownerMs <= sim.bounds.ownerDeadMs, `owner ${owner} knew after ${ownerMs} ms`);
  assert.ok(ownerMs >= DEFAULT_TIMING.missedLimit * DEFAULT_TIMING.heartbeatIntervalMs - DEFAULT_TIMING.heartbeatIntervalMs, 'not before 5 missed beats');
  const everyoneMs = Math.max(...['m0', 'm1', 'm2', 'm3'].map((m) => (watch.firstDeadMs.get(m) ?? Infinity) - 4_000));
  assert.ok(everyoneMs <= sim.bounds.ownerDeadMs + sim.bounds.gossipMs, `every Monitor knew after ${everyoneMs} ms`);
});

function leaderAt(sim: Simulation, monitors: readonly NodeName[]): { name: NodeName; term: number } | null {
  for (const m of monitors) {
    const e = sim.node(m)?.monitor?.election;
    if (e?.role === 'leader') return { name: m, term: e.term };
  }
  return null;
}

test('a leader partitioned away steps down; the majority elects another in a newer term; never two per term', () => {
  const monitors = ['m0', 'm1', 'm2'];
  const probe = new Simulation({ seed: 5, nodes: cluster(3, 2, 3), durationMs: 6_000, faults: [] });
  probe.runUntil(6_000);
  const before = leaderAt(probe, monitors);
  assert.ok(before !== null, 'a leader within 6 s');
  const sim = new Simulation({
    seed: 5, nodes: cluster(3, 2, 3), durationMs: 16_000,
    faults: [{ kind: 'partition', atMs: 6_000, untilMs: 14_000, side: [before.name] }],
  });
  sim.runUntil(13_900);
  const during = leaderAt(sim, monitors);
  assert.ok(during !== null && during.name !== before.name && during.term > before.term, `new leader ${JSON.stringify(during)}`);
  assert.notEqual(sim.node(before.name)?.monitor?.election.role, 'leader', 'the cut-off leader stepped down (check-quorum)');
  assertClean(sim.run(), 'partitioned leader');
});

test('with two Monitors split apart, neither side elects a leader', () => {
  const sim = new Simulation({
    seed: 8, nodes: cluster(2, 0, 2), durationMs: 20_000,
    faults: [{ kind: 'partition', atMs: 5_000, untilMs: 15_000, side: ['m0', 'w0'] }],
  });
  sim.runUntil(8_000); // past check-quorum: any old leader has stepped down
  for (let t = 8_000; t < 15_000; t += 100) {
    sim.runUntil(t);
    assert.equal(leaderAt(sim, ['m0', 'm1']), null, `no majority, no leader (at ${t} ms)`);
  }
  assertClean(sim.run(), 'two-Monitor split');
  assert.ok(leaderAt(sim, ['m0', 'm1']) !== null, 'a leader again after the heal');
});

test('a restarted node comes back with a higher incarnation and is alive everywhere', () => {
  const sim = new Simulation({
    seed: 3, nodes: cluster(3, 2, 4), durationMs: 10_000,
    faults: [{ kind: 'crash', atMs: 3_000, node: 'w1' }, { kind: 'restart', atMs: 7_000, node: 'w1' }],
  });
  sim.runUntil(6_900);
  for (const m of ['m0', 'm1', 'm2']) assert.equal(sim.node(m)?.monitor?.table.get('w1')?.status, 'dead', `dead at ${m} before the restart`);
  const r = sim.run();
  assertClean(r, 'restart');
  assert.equal(sim.node('w1')?.incarnation, 2);
  for (const m of ['m0', 'm1', 'm2']) {
    const e = sim.node(m)?.monitor?.table.get('w1');
    assert.deepEqual([e?.status, e?.incarnation], ['alive', 2], `alive again at ${m}`);
  }
});

test('an Empty node promoted to Monitor catches up on the whole table by gossip', () => {
  const nodes = cluster(3, 2, 40, 1);
  const sim = new Simulation({ seed: 21, nodes, durationMs: 20_000, faults: [] });
  sim.runUntil(6_000);
  const leader = leaderAt(sim, ['m0', 'm1', 'm2']);
  assert.ok(leader !== null);
  sim.schedule({
    kind: 'inject', atMs: 6_000, from: leader.name, to: 'e0',
    message: { type: 'order_role', from: leader.name, term: leader.term, seq: 1, target: 'e0', role: 'monitor' },
  });
  sim.runUntil(6_100);
  const table = sim.node('e0')?.monitor?.table;
  assert.ok(table !== undefined, 'e0 obeyed the order');
  assert.ok(table.size < nodes.length, 'it starts knowing almost nothing');
  let caughtUpMs = Infinity;
  for (let t = 6_100; t <= 16_000 && caughtUpMs === Infinity; t += 100) {
    sim.runUntil(t);
    if (table.size === nodes.length && [...table.values()].every((e) => e.status === 'alive')) caughtUpMs = t - 6_000;
  }
  assert.ok(caughtUpMs <= sim.bounds.gossipMs, `caught up after ${caughtUpMs} ms`);
  sim.runUntil(sim.nowMs + sim.bounds.gossipMs + DEFAULT_TIMING.heartbeatIntervalMs);
  for (const m of ['m0', 'm1', 'm2']) assert.equal(sim.node(m)?.monitor?.table.get('e0')?.role, 'monitor', `${m} knows the new Monitor`);
  assertClean(sim.run(), 'promotion');
});

test('a stale order from an old term is ignored', () => {
  const sim = new Simulation({ seed: 2, nodes: cluster(3, 0, 2, 1), durationMs: 8_000, faults: [] });
  const order = (term: number, role: Role): Fault => ({
    kind: 'inject', atMs: sim.nowMs + 1, from: 'm0', to: 'e0', message: { type: 'order_role', from: 'm0', term, seq: 1, target: 'e0', role },
  });
  sim.runUntil(2_000);
  sim.schedule(order(5, 'worker'));
  sim.runUntil(2_100);
  sim.schedule(order(4, 'assigner'));
  sim.runUntil(2_200);
  assert.equal(sim.node('e0')?.role, 'worker');
  assertClean(sim.run(), 'stale order');
});

// The checkers must be able to fail: run deliberately broken clusters and expect violations.

function violationsOf(options: Partial<SimulateOptions>, seeds: number): Map<string, number> {
  const count = new Map<string, number>();
  for (let seed = 1; seed <= seeds; seed++) {
    for (const v of simulate({ ...randomScenario(seed), ...options }).violations.slice(0, 1)) {
      count.set(v.invariant, (count.get(v.invariant) ?? 0) + 1);
    }
  }
  return count;
}

test('checker (d) flags a detector that declares death after one missed beat', () => {
  const found = violationsOf({ nodeTiming: { missedLimit: 1, suspectAfterMissed: 1 } }, 40);
  assert.ok((found.get('d') ?? 0) > 0, JSON.stringify([...found]));
});

test('checker (c) flags a detector that waits 20 missed beats', () => {
  const r = simulate({ seed: 11, nodes: cluster(4, 2, 6), durationMs: 12_000, faults: [{ kind: 'crash', atMs: 4_000, node: 'w3' }], nodeTiming: { missedLimit: 20 } });
  assert.equal(r.violations[0]?.invariant, 'c', JSON.stringify(r.violations));
});

test('checker (b) flags Monitors that never gossip', () => {
  const found = violationsOf({ nodeTiming: { gossipIntervalMs: 600_000 } }, 10);
  assert.ok((found.get('b') ?? 0) >= 8, JSON.stringify([...found]));
});

/** Three Monitors crashing and restarting fast, with quick elections: many votes in flight. */
function monitorChurn(seed: number): SimulateOptions {
  const rng = new Xoshiro128(seed);
  const names = ['m0', 'm1', 'm2'];
  const faults: Fault[] = [];
  for (let t = 2_000; t < 20_000; t += randomIntBetween(rng, 100, 600)) {
    const node = names[randomInt(rng, names.length)] as NodeName;
    faults.push({ kind: 'crash', atMs: t, node }, { kind: 'restart', atMs: t + randomIntBetween(rng, 20, 200), node });
  }
  const fast = { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, leaderHeartbeatIntervalMs: 50 };
  return { seed, nodes: names.map((name) => ({ name, role: 'monitor' })), durationMs: 21_000, faults, settle: false, nodeTiming: fast, contractTiming: fast };
}

test('checker (a) flags two leaders in a term when Monitors forget their votes, and only then', () => {
  let amnesiac = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const durable = simulate(monitorChurn(seed));
    assert.ok(!durable.violations.some((v) => v.invariant === 'a'), `durable votes, seed ${seed}: ${JSON.stringify(durable.violations)}`);
    const forgetful = simulate({ ...monitorChurn(seed), persistence: 'amnesia' });
    if (forgetful.violations.some((v) => v.invariant === 'a')) amnesiac += 1;
  }
  assert.ok(amnesiac >= 3, `two leaders in a term found in ${amnesiac} of 60 amnesiac runs`);
});
