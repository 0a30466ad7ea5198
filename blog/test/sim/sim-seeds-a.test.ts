// Thousands of simulator seeds per `npm test`, in two files that run in parallel (this one and
// sim-seeds-b). Each seed: 7 L1s, 3-9 L2s, writers and readers, loss/duplication/reordering,
// partitions, crashes, drifting and jumping clocks, then heal and check every invariant.
// BLOG_SIM_SEEDS (default 1000 per file) and BLOG_SIM_BUDGET_MS (default 35 s per file, never fewer
// than 200 seeds whatever the load) scale it. More on demand:
//   npm --prefix blog run sim -- --seeds 20000 --from 5000
import { it } from 'node:test';
import { BUDGET_MS, MIN_SEEDS, runSeeds, SEEDS_PER_FILE } from './seeds.js';

it('seeds 1..: no invariant violated', (t) => {
  runSeeds(t, 1, SEEDS_PER_FILE, BUDGET_MS, MIN_SEEDS);
});
