// The simulator's command line:  npm --prefix blog run sim -- --seed 42      (replay one seed)
//                                npm --prefix blog run sim -- --seeds 5000   (a sweep)
import { Command } from 'commander';
import { runSimulation } from './sim.js';

const program = new Command()
  .name('blog-sim')
  .description('seeded deterministic simulator of the blog platform (7 L1s, several L2s, faults, checkers)')
  .option('--seed <n>', 'run this one seed (prints its trace with --trace)')
  .option('--seeds <count>', 'run this many seeds', '200')
  .option('--from <n>', 'first seed of a sweep', '1')
  .option('--broken <how>', 'break every store on purpose, "ignore-lww" or "oldest-wins": the checkers must catch it')
  .option('--calm', 'no faults (control run)')
  .option('--wire-copy', 'send every message through JSON, as real servers do (slower)')
  .option('--trace', 'print the event trace of a single seed')
  .option('--scale <l2s>', 'the scale mode: a calm compressed day of writes over this many L2s (7..5000); prints its traffic report')
  .option('--writers <n>', 'writers in the scale mode', '10000')
  .parse();

const opts = program.opts<{ seed?: string; seeds: string; from: string; broken?: string; calm?: boolean; wireCopy?: boolean; trace?: boolean; scale?: string; writers: string }>();

function int(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`blog-sim: --${name} must be a non-negative integer, got "${v}"`);
    process.exit(2);
  }
  return n;
}

if (opts.broken !== undefined && opts.broken !== 'ignore-lww' && opts.broken !== 'oldest-wins') {
  console.error(`blog-sim: --broken must be "ignore-lww" or "oldest-wins", got "${opts.broken}"`);
  process.exit(2);
}
if (opts.scale !== undefined) {
  // One seed (--seed, default 1), no faults: the figures of bench/scale.mjs's part C, for one world size.
  const l2s = int('scale', opts.scale);
  if (l2s < 7 || l2s > 5_000) {
    console.error(`blog-sim: --scale must be 7..5000 L2s (at least one per continent), got ${l2s}`);
    process.exit(2);
  }
  const started = Date.now();
  const r = runSimulation({
    seed: opts.seed !== undefined ? int('seed', opts.seed) : 1,
    calm: true,
    eventsMax: 50_000_000,
    scale: { l2s, writers: int('writers', opts.writers), writesPerWriter: 3, bodyBytes: 8_000, progress: (line) => console.error(line) },
  });
  console.log(JSON.stringify(r.scale, null, 1));
  for (const v of r.violations) console.log(`violation: ${v}`);
  console.log(`${r.violations.length} violation(s), ${Date.now() - started} ms`);
  process.exit(r.violations.length > 0 ? 1 : 0);
}
const broken = opts.broken as 'ignore-lww' | 'oldest-wins' | undefined;
const seeds = opts.seed !== undefined ? [int('seed', opts.seed)] : Array.from({ length: int('seeds', opts.seeds) }, (_, i) => int('from', opts.from) + i);
const started = Date.now();
let failed = 0;
for (const seed of seeds) {
  const r = runSimulation({
    seed,
    ...(broken ? { broken } : {}),
    calm: opts.calm ?? false,
    wireCopy: opts.wireCopy ?? false,
    ...(opts.trace && seeds.length === 1 ? { trace: (line: string) => console.log(line) } : {}),
  });
  if (seeds.length === 1) console.log(JSON.stringify(r.stats));
  if (r.violations.length > 0) {
    failed++;
    console.log(`seed ${seed}: ${r.violations.length} violation(s)`);
    for (const v of r.violations) console.log(`  ${v}`);
    console.log(`  replay: npm --prefix blog run sim -- --seed ${seed}${broken ? ` --broken ${broken}` : ''}${opts.calm ? ' --calm' : ''}${opts.wireCopy ? ' --wire-copy' : ''} --trace`);
    if (failed >= 5 && seeds.length > 1) break;
  }
}
console.log(`${seeds.length} seed(s), ${failed} failed, ${Date.now() - started} ms`);
process.exit(failed > 0 ? 1 : 0);
