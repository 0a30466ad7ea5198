#!/usr/bin/env node
// Runs the cluster simulator over many seeds: `npm run sim -- --seeds 100000 [--nodes K]`, or
// one seed in detail: `npm run sim -- --seed N`; `--hydra` runs the Hydra family (Monitors crash)
// instead of the general one. `npm run sim -- runpath ...` runs the run path simulator instead
// (runpath/cli.ts). Exit code 1 on any invariant violation.
import { parseArgs } from 'node:util';
import { runpathMain } from './runpath/cli.js';
import { reproduction, randomHydraScenario, randomScenario, type ScenarioOptions } from './scenario.js';
import { simulate, type SimResult } from './simulator.js';

/** Failing seeds printed before the run stops listing them (the count is still exact). */
const FAILURES_SHOWN_MAX = 20;
const PROGRESS_EVERY_SEEDS = 10_000;

interface Summary {
  seeds: number;
  failed: number;
  events: number;
  crashChecks: number;
  settleMsMax: number;
}

function usage(message: string): never {
  console.error(`${message}\nusage: cli.js [--seeds COUNT] [--from FIRST] [--seed N] [--nodes 3..12] [--faults MAX] [--hydra]`);
  process.exit(2);
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) usage(`--${name} must be a non-negative integer, got ${value}`);
  return n;
}

type CliScenario = ScenarioOptions & { hydra?: boolean };

function build(seed: number, scenario: CliScenario) {
  return scenario.hydra ? randomHydraScenario(seed) : randomScenario(seed, scenario);
}

function runOne(seed: number, scenario: CliScenario): SimResult {
  return simulate(build(seed, scenario));
}

function report(r: SimResult, scenario: CliScenario): void {
  for (const v of r.violations) console.log(`seed ${r.seed}: invariant ${v.invariant} at ${v.atMs} ms: ${v.message}`);
  console.log(`reproduce: ${reproduction(r.seed, scenario)}`);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      from: { type: 'string' },
      seed: { type: 'string' },
      nodes: { type: 'string' },
      faults: { type: 'string' },
      hydra: { type: 'boolean' },
    },
  });
  const scenario: CliScenario = values.hydra ? { hydra: true } : {};
  if (values.nodes !== undefined) {
    scenario.nodes = positiveInt(values.nodes, 'nodes', 0);
    if (scenario.nodes < 3 || scenario.nodes > 12) usage('--nodes must be in 3..12');
  }
  if (values.faults !== undefined) scenario.faultsMax = positiveInt(values.faults, 'faults', 0);
  if (values.seed !== undefined) {
    const r = runOne(positiveInt(values.seed, 'seed', 0), scenario);
    const { violations, ...rest } = r;
    console.log(JSON.stringify({ scenario: build(r.seed, scenario), result: rest }, null, 2));
    if (violations.length > 0) report(r, scenario);
    process.exit(violations.length > 0 ? 1 : 0);
  }
  const first = positiveInt(values.from, 'from', 1);
  const count = positiveInt(values.seeds, 'seeds', 1_000);
  const started = Date.now();
  const s: Summary = { seeds: 0, failed: 0, events: 0, crashChecks: 0, settleMsMax: 0 };
  for (let seed = first; seed < first + count; seed++) {
    const r = runOne(seed, scenario);
    s.seeds += 1;
    s.events += r.events;
    s.crashChecks += r.crashChecks.checked;
    s.settleMsMax = Math.max(s.settleMsMax, r.settleMs ?? 0);
    if (r.violations.length > 0 && ++s.failed <= FAILURES_SHOWN_MAX) report(r, scenario);
    if (s.seeds % PROGRESS_EVERY_SEEDS === 0) console.error(`... ${s.seeds} seeds, ${s.failed} failed`);
  }
  const wallMs = Date.now() - started;
  console.log(
    `${s.seeds} seeds (${first}..${first + count - 1}): ${s.failed} failed; ${s.events} events, ` +
      `${s.crashChecks} crash bounds checked, slowest settle ${s.settleMsMax} ms simulated; ${(wallMs / 1000).toFixed(1)} s wall`,
  );
  process.exit(s.failed > 0 ? 1 : 0);
}

if (process.argv[2] === 'runpath') void runpathMain(process.argv.slice(3)).then((code) => process.exit(code));
else main();
