import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeName, Role } from '../../src/cluster/messages.js';
import { randomInt, randomIntBetween } from '../../src/cluster/random.js';
import { DEFAULT_TIMING } from '../../src/cluster/timing.js';
import type { Fault } from '../../src/sim/faults.js';
import { Xoshiro128 } from '../../src/sim/prng.js';
import { randomHydraScenario, randomScenario, reproduction } from '../../src/sim/scenario.js';
import { simulate, Simulation, type SimNodeSpec, type SimResult, type SimulateOptions } from '../../src/sim/simulator.js';
import { contractBounds, InvariantChecker, type SimView } from '../../src/sim/checkers.js';
import { NetworkHealth } from '../../src/sim/faults.js';

const RANDOM_SEEDS = 2_500;
/** The Hydra family (Monitor crashes, both at once in a third, with partitions and loss). */
const HYDRA_SEEDS = 2_500;

test(`${HYDRA_SEEDS} Hydra seeds (Monitors crash, one or two at once, with partitions and loss) keep every invariant`, (t) => {
  const started = performance.now();
  let wins = 0;
  let checked = 0;
  const failures: string[] = [];
  for (let seed = 1; seed <= HYDRA_SEEDS; seed++) {
    const r = simulate(randomHydraScenario(seed));
    wins += r.hydra.wins;
    checked += r.hydra.checked;
    if (r.violations.length > 0) failures.push(`${r.violations[0]?.invariant}: ${r.violations[0]?.message} — ${reproduction(seed, { hydra: true })}`);
  }
  const wallMs = performance.now() - started;
  t.diagnostic(`${HYDRA_SEEDS} seeds, ${wins} Hydra wins, ${checked} Monitor-count bounds checked, ${wallMs.toFixed(0)} ms`);
  assert.deepEqual(failures.slice(0, 5), []);
  assert.ok(wins > HYDRA_SEEDS / 2, `the Hydra really ran (${wins} wins)`);
  assert.ok(checked > HYDRA_SEEDS / 4, `the Monitor-count bound was really checked (${checked})`);
});

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
  // On the beat grid a Monitor's checks run half a check (125 ms) off the heartbeats' beat, so
  // the default network's jitter (≤ 45 ms) never carries a heartbeat past a check: it takes a
  // jittery one (held up to 200 ms, still healthy) for such a detector to show.
  const found = violationsOf({ nodeTiming: { missedLimit: 1, suspectAfterMissed: 1 }, network: { reorderDelayMaxMs: 200 } }, 40);
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
  // 100 seeds: amnesia elects two leaders in a term in about one seed in ten (2 of the first 60
  // since the leaders beat on the grid, 10 of 100, 31 of 200).
  for (let seed = 1; seed <= 100; seed++) {
    const durable = simulate(monitorChurn(seed));
    assert.ok(!durable.violations.some((v) => v.invariant === 'a'), `durable votes, seed ${seed}: ${JSON.stringify(durable.violations)}`);
    const forgetful = simulate({ ...monitorChurn(seed), persistence: 'amnesia' });
    if (forgetful.violations.some((v) => v.invariant === 'a')) amnesiac += 1;
  }
  assert.ok(amnesiac >= 3, `two leaders in a term found in ${amnesiac} of 100 amnesiac runs`);
});

// The Hydra: Assigners replace dead Monitors.

/** Records every Hydra win and role change, with virtual times. */
function hydraWatch(): { wins: Array<{ name: NodeName; atMs: number; term: number; replaced: NodeName[] }>; roles: Array<{ name: NodeName; atMs: number; to: Role }>; observer: SimulateOptions['observer'] } {
  const wins: Array<{ name: NodeName; atMs: number; term: number; replaced: NodeName[] }> = [];
  const roles: Array<{ name: NodeName; atMs: number; to: Role }> = [];
  return {
    wins,
    roles,
    observer: {
      afterStep(name, _node, out, nowMs) {
        for (const n of out.notes) {
          if (n.kind === 'hydra_won') wins.push({ name, atMs: nowMs, term: n.term, replaced: n.replaced });
          if (n.kind === 'role_changed') roles.push({ name, atMs: nowMs, to: n.to });
        }
      },
    },
  };
}

const liveMonitors = (sim: Simulation) => sim.names.filter((n) => sim.node(n)?.role === 'monitor');

test('a Monitor dies: ONE pair of Assigners becomes Monitors, caught up by gossip, and Empty nodes refill the Assigners', () => {
  const w = hydraWatch();
  const nodes = cluster(2, 4, 3, 3);
  const sim = new Simulation({ seed: 31, nodes, durationMs: 30_000, faults: [{ kind: 'crash', atMs: 8_000, node: 'm0' }], strength: { assignersMin: 4 }, observer: w.observer });
  const r = sim.run();
  assertClean(r, 'one Monitor crash');
  assert.equal(w.wins.length, 1, JSON.stringify(w.wins));
  assert.deepEqual(w.wins[0]?.replaced, ['m0']);
  const winMs = (w.wins[0]?.atMs ?? Infinity) - 8_000;
  const t = DEFAULT_TIMING;
  assert.ok(winMs >= t.missedLimit * t.monitorHeartbeatIntervalMs - t.monitorHeartbeatIntervalMs, `not before 5 missed heartbeats (${winMs} ms)`);
  assert.ok(winMs <= sim.bounds.hydraMs, `won ${winMs} ms after the crash`);
  const promoted = w.roles.filter((x) => x.to === 'monitor').map((x) => x.name).sort();
  assert.equal(promoted.length, 2, `a pair: ${promoted.join(',')}`);
  assert.deepEqual(liveMonitors(sim).sort(), ['m1', ...promoted].sort());
  const assigners = sim.names.filter((n) => sim.node(n)?.role === 'assigner');
  assert.equal(assigners.length, 4, `the leader refilled the Assigners: ${assigners.join(',')}`);
  assert.ok(assigners.filter((a) => a.startsWith('e')).length === 2, 'from Empty nodes');
  for (const m of liveMonitors(sim)) {
    const table = sim.node(m)?.monitor?.table;
    for (const n of sim.names) if (sim.node(n) !== null) assert.equal(table?.get(n)?.status, 'alive', `${m} knows ${n}`);
  }
});

test('both Monitors die at once: the new pair elects a leader of its own and the Assigners are refilled', () => {
  const w = hydraWatch();
  const sim = new Simulation({
    seed: 32, nodes: cluster(2, 4, 2, 3), durationMs: 40_000,
    faults: [{ kind: 'crash', atMs: 8_000, node: 'm0' }, { kind: 'crash', atMs: 8_000, node: 'm1' }],
    strength: { assignersMin: 4 }, observer: w.observer,
  });
  const r = sim.run();
  assertClean(r, 'both Monitors crash');
  assert.equal(w.wins.length, 1, `one Hydra for both: ${JSON.stringify(w.wins)}`);
  assert.deepEqual(w.wins[0]?.replaced, ['m0', 'm1']);
  const monitors = liveMonitors(sim);
  assert.equal(monitors.length, 2);
  const leaders = monitors.filter((m) => sim.node(m)?.monitor?.election.role === 'leader');
  assert.equal(leaders.length, 1, 'a leader among the two new Monitors');
  assert.equal(sim.names.filter((n) => sim.node(n)?.role === 'assigner').length, 4, 'refilled from Empty nodes');
  for (const n of sim.names) if (sim.node(n) !== null) assert.ok(monitors.includes(sim.node(n)?.reportsTo as NodeName) || monitors.includes(n), `${n} found the new Monitors`);
});

test('the minority side of a partition makes no role change; the majority side replaces the Monitor it lost', () => {
  const w = hydraWatch();
  // a2,a3 (+ m0) are cut off from m1 and a4,a5,a6,a7: for the majority m0 is silent; for the
  // minority m1 is. Only the majority may act.
  const sim = new Simulation({
    seed: 33, nodes: cluster(2, 6, 2, 2), durationMs: 20_000,
    faults: [{ kind: 'partition', atMs: 6_000, untilMs: 16_000, side: ['m0', 'a2', 'a3'] }],
    observer: w.observer,
  });
  sim.runUntil(15_900);
  assert.ok(w.wins.length >= 1, 'the majority side replaced m0');
  for (const win of w.wins) assert.ok(!['a2', 'a3'].includes(win.name), `minority ${win.name} won`);
  for (const x of w.roles) assert.ok(!['a2', 'a3'].includes(x.name), `minority ${x.name} changed role`);
  assertClean(sim.run(), 'partition');
});

test('a Monitor slow to one Assigner only is not replaced', () => {
  const w = hydraWatch();
  const sim = new Simulation({
    seed: 34, nodes: cluster(2, 4, 2), durationMs: 20_000,
    faults: [{ kind: 'partition', atMs: 5_000, untilMs: 15_000, side: ['a2'] }], observer: w.observer,
  });
  assertClean(sim.run(), 'one Assigner cut off');
  assert.deepEqual(w.wins, []);
});

test('checker (h) flags Assigners that never hold the Hydra', () => {
  const never = { hydraTimeoutMinMs: 600_000, hydraTimeoutMaxMs: 600_001 };
  const r = simulate({ seed: 35, nodes: cluster(2, 4, 2), durationMs: 8_000, faults: [{ kind: 'crash', atMs: 4_000, node: 'm0' }], nodeTiming: never });
  assert.equal(r.violations[0]?.invariant, 'h', JSON.stringify(r.violations));
});

test('checkers (f) and (g) flag two Hydra winners in a term and a win on a minority side', () => {
  let partitions: Array<{ side: ReadonlySet<NodeName>; sinceMs: number }> = [];
  const view: SimView = {
    nowMs: 10_000, names: ['a1', 'a2', 'a3'], node: () => null, downBetween: () => false, upSinceMs: () => 0,
    monitorSinceMs: () => 0, roleSinceMs: () => 0, partitions: () => partitions,
  };
  const checker = new InvariantChecker(view, new NetworkHealth(), contractBounds(DEFAULT_TIMING, 45, 2));
  const win = (name: NodeName, term: number) => ({
    messages: [], timers: [], persist: null,
    notes: [{ kind: 'hydra_won' as const, term, replaced: ['m1'], buddy: null, voters: ['a1', 'a2', 'a3'], orderTerm: 2, survivors: [] }],
  });
  const node = {} as unknown as Parameters<InvariantChecker['afterStep']>[1];
  const found = () => checker.violations.map((v) => v.invariant);
  checker.afterStep('a1', node, win('a1', 4));
  assert.deepEqual(found(), []);
  checker.afterStep('a2', node, win('a2', 4));
  assert.deepEqual(found(), ['f']);
  partitions = [{ side: new Set(['a3']), sinceMs: 0 }];
  checker.afterStep('a3', node, win('a3', 5));
  assert.deepEqual(found(), ['f', 'g']);
});
