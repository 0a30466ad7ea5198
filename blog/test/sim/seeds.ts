import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { runSimulation } from '../../src/sim/sim.js';

/**
 * Runs seeds [from, from+count), or as many as fit in budgetMs (the machine is shared; at least
 * minCount always run), and fails with each failing seed's one-line replay command.
 */
export function runSeeds(t: TestContext, from: number, count: number, budgetMs: number, minCount: number): void {
  const failures: string[] = [];
  const started = Date.now();
  let ran = 0;
  for (let seed = from; seed < from + count; seed++) {
    if (ran >= minCount && Date.now() - started > budgetMs) break;
    const r = runSimulation({ seed });
    ran++;
    if (r.violations.length > 0) {
      failures.push(`seed ${seed}: ${r.violations[0]}\n    replay: npm --prefix blog run sim -- --seed ${seed} --trace`);
      if (failures.length >= 5) break;
    }
  }
  t.diagnostic(`${ran} seeds from ${from} in ${Date.now() - started} ms`);
  assert.equal(failures.length, 0, `simulator invariants violated:\n${failures.join('\n')}`);
}

export const SEEDS_PER_FILE = Number(process.env.BLOG_SIM_SEEDS ?? 1000);
export const BUDGET_MS = Number(process.env.BLOG_SIM_BUDGET_MS ?? 35_000);
/** Never fewer than this, however slow the machine: a few hundred seeds per file always run. */
export const MIN_SEEDS = Math.min(SEEDS_PER_FILE, 200);
