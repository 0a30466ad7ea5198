// A second range of seeds, in its own file so the test runner spreads the two ranges over both cores.
import { it } from 'node:test';
import { BUDGET_MS, MIN_SEEDS, runSeeds, SEEDS_PER_FILE } from './seeds.js';

it('seeds 100001..: no invariant violated', (t) => {
  runSeeds(t, 100_001, SEEDS_PER_FILE, BUDGET_MS, MIN_SEEDS);
});
