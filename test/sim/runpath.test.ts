import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runpathReproduction } from '../../src/sim/runpath/cli.js';
import { randomRunpathScenario, type RunpathScenarioOptions } from '../../src/sim/runpath/scenario.js';
import { simulateRunpath, type RunpathBreakage } from '../../src/sim/runpath/simulator.js';

// The run path simulator (src/sim/runpath) over many seeds: the real Assigner pair, Worker
// drivers with the sandbox twin, the relay core and run store behind the Gateway, and resuming
// clients, under crashes, a Gateway failover, partitions and connection resets. DESIGN.md §7
// contracts 1 and 2 must hold on every seed. RUNPATH_SEEDS / RUNPATH_FROM widen or move the range.

const SEEDS = Number(process.env.RUNPATH_SEEDS ?? 2000);
const FROM = Number(process.env.RUNPATH_FROM ?? 1);
/** Seeds that each kill an Assigner of the pair (the old pair property's focus). */
const ASSIGNER_SEEDS = Number(process.env.RUNPATH_ASSIGNER_SEEDS ?? 400);

async function sweep(first: number, count: number, o: RunpathScenarioOptions, breakage?: RunpathBreakage) {
  const failures: string[] = [];
  const kinds = new Map<string, number>();
  let accepted = 0;
  let lost = 0;
  let failedSeeds = 0;
  const started = Date.now();
  for (let seed = first; seed < first + count; seed++) {
    const r = await simulateRunpath(randomRunpathScenario(seed, o), breakage ? { breakage } : {});
    accepted += r.accepted;
    lost += r.messagesLost;
    if (r.violations.length > 0) failedSeeds++;
    for (const v of r.violations) {
      kinds.set(v.kind, (kinds.get(v.kind) ?? 0) + 1);
      if (failures.length < 10) failures.push(`seed ${v.seed} at ${v.atMs} ms, run ${v.run} (${v.client}): ${v.kind}: ${v.message} — ${runpathReproduction(seed, o, breakage)}`);
    }
  }
  const seconds = (Date.now() - started) / 1000;
  return { failures, kinds, accepted, lost, failedSeeds, seconds, seedsPerS: count / seconds };
}

test(`contracts 1 and 2 hold on ${SEEDS} seeds: one readable terminal status per accepted run, the program's output exactly (a prefix if cut short)`, async (t) => {
  const r = await sweep(FROM, SEEDS, {});
  t.diagnostic(`${SEEDS} seeds in ${r.seconds.toFixed(1)} s: ${r.seedsPerS.toFixed(0)} seeds/s, ${r.accepted} runs accepted, ${r.lost} messages lost to faults`);
  console.log(`runpath: ${SEEDS} seeds, ${r.seedsPerS.toFixed(0)} seeds/s, ${r.accepted} runs accepted`);
  assert.ok(r.accepted > SEEDS, 'the seeds run real workloads');
  assert.ok(r.lost > SEEDS, `the faults destroy messages (${r.lost})`);
  assert.deepEqual(r.failures, [], `${r.failedSeeds} seeds failed`);
});

test(`an Assigner of the pair killed at a random moment, ${ASSIGNER_SEEDS} seeds: every run still ends once, with every chunk once, in order`, async (t) => {
  const r = await sweep(1_000_000, ASSIGNER_SEEDS, { assignerCrash: true });
  t.diagnostic(`${ASSIGNER_SEEDS} seeds: ${r.seedsPerS.toFixed(0)} seeds/s, ${r.accepted} runs accepted`);
  assert.deepEqual(r.failures, [], `${r.failedSeeds} seeds failed`);
});

test('the checkers catch a broken run path: a Worker that loses a chunk, a Gateway that sends output twice, a refutation taken for a restart', async () => {
  const dropped = await sweep(1, 60, {}, 'worker_drops_chunk');
  assert.ok(dropped.failedSeeds > 10, `a lost chunk shows (${dropped.failedSeeds} of 60 seeds)`);
  assert.ok((dropped.kinds.get('output') ?? 0) + (dropped.kinds.get('no_terminal_status') ?? 0) > 0, [...dropped.kinds].join(', '));
  const doubled = await sweep(1, 60, {}, 'gateway_duplicates');
  assert.ok(doubled.failedSeeds > 10, `a repeated chunk shows (${doubled.failedSeeds} of 60 seeds)`);
  assert.ok((doubled.kinds.get('duplicate') ?? 0) > 0, [...doubled.kinds].join(', '));
  // Partitions past the suspicion bound make Workers refute; without lives, their runs end node_lost.
  const lifeless = await sweep(1, 400, {}, 'view_without_life');
  assert.ok((lifeless.kinds.get('false_loss') ?? 0) > 0, `a run ended node_lost on a Worker that never died shows (${[...lifeless.kinds].join(', ')})`);
  assert.match(dropped.failures[0] ?? '', /npm run sim -- runpath --seed \d+ --break worker_drops_chunk --trace/, 'each violation names its replay');
});

test('equal seeds give equal traces; different seeds differ', async () => {
  const hashes: string[] = [];
  for (const seed of [7, 7, 8, 1234, 1234]) hashes.push((await simulateRunpath(randomRunpathScenario(seed))).traceHash);
  assert.equal(hashes[0], hashes[1]);
  assert.equal(hashes[3], hashes[4]);
  assert.notEqual(hashes[0], hashes[2]);
  assert.notEqual(hashes[2], hashes[3]);
});
