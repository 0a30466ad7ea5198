import { parseArgs } from 'node:util';
import { randomRunpathScenario, type RunpathScenarioOptions } from './scenario.js';
import { simulateRunpath, type RunpathBreakage, type RunpathResult } from './simulator.js';

// `npm run sim -- runpath --seeds 100000 [--from N]`, or one seed in detail:
// `npm run sim -- runpath --seed N --trace`. Exit code 1 on any violation.

const FAILURES_SHOWN_MAX = 20;
const PROGRESS_EVERY_SEEDS = 10_000;
const BREAKAGES: readonly RunpathBreakage[] = ['worker_drops_chunk', 'gateway_duplicates', 'view_without_life'];

function usage(message: string): never {
  console.error(`${message}\nusage: cli.js runpath [--seeds COUNT] [--from FIRST] [--seed N [--trace]] [--clients MAX] [--faults MAX] [--assigner-crash] [--break ${BREAKAGES.join('|')}]`);
  process.exit(2);
}

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) usage(`--${name} must be a non-negative integer, got ${value}`);
  return n;
}

/** The one line that replays a seed with everything it needs. */
export function runpathReproduction(seed: number, o: RunpathScenarioOptions, breakage?: RunpathBreakage): string {
  const extra = `${o.clientsMax !== undefined ? ` --clients ${o.clientsMax}` : ''}${o.faultsMax !== undefined ? ` --faults ${o.faultsMax}` : ''}${o.assignerCrash ? ' --assigner-crash' : ''}${breakage ? ` --break ${breakage}` : ''}`;
  return `npm run sim -- runpath --seed ${seed}${extra} --trace`;
}

function report(r: RunpathResult, o: RunpathScenarioOptions, breakage?: RunpathBreakage): void {
  for (const v of r.violations) console.log(`seed ${v.seed}: ${v.kind} at ${v.atMs} ms, run ${v.run} (client ${v.client}): ${v.message} — replay: ${runpathReproduction(r.seed, o, breakage)}`);
}

export async function runpathMain(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      seeds: { type: 'string' },
      from: { type: 'string' },
      seed: { type: 'string' },
      clients: { type: 'string' },
      faults: { type: 'string' },
      trace: { type: 'boolean' },
      break: { type: 'string' },
      'assigner-crash': { type: 'boolean' },
    },
  });
  const o: RunpathScenarioOptions = {};
  if (values.clients !== undefined) o.clientsMax = Math.max(1, count(values.clients, 'clients', 8));
  if (values.faults !== undefined) o.faultsMax = count(values.faults, 'faults', 5);
  if (values['assigner-crash']) o.assignerCrash = true;
  const breakage = values.break as RunpathBreakage | undefined;
  if (breakage !== undefined && !BREAKAGES.includes(breakage)) usage(`--break must be one of ${BREAKAGES.join(', ')}`);
  if (values.seed !== undefined) {
    const seed = count(values.seed, 'seed', 0);
    const scenario = randomRunpathScenario(seed, o);
    const r = await simulateRunpath(scenario, { trace: values.trace === true, ...(breakage ? { breakage } : {}) });
    if (values.trace) {
      // Long program texts shortened: the trace is for reading.
      console.log(JSON.stringify(scenario, (_k, v: unknown) => (typeof v === 'string' && v.length > 60 ? `${v.slice(0, 20)}…(${v.length} chars)` : v)));
      for (const line of r.trace) console.log(line);
    }
    const { violations, trace: _trace, ...rest } = r;
    console.log(JSON.stringify(rest));
    if (violations.length > 0) report(r, o, breakage);
    return violations.length > 0 ? 1 : 0;
  }
  const first = count(values.from, 'from', 1);
  const n = count(values.seeds, 'seeds', 1_000);
  const started = Date.now();
  let failed = 0;
  let events = 0;
  let accepted = 0;
  let lost = 0;
  for (let seed = first; seed < first + n; seed++) {
    const r = await simulateRunpath(randomRunpathScenario(seed, o), breakage ? { breakage } : {});
    events += r.events;
    accepted += r.accepted;
    lost += r.messagesLost;
    if (r.violations.length > 0 && ++failed <= FAILURES_SHOWN_MAX) report(r, o, breakage);
    if ((seed - first + 1) % PROGRESS_EVERY_SEEDS === 0) console.error(`... ${seed - first + 1} seeds, ${failed} failed`);
  }
  const wallS = (Date.now() - started) / 1000;
  console.log(`runpath: ${n} seeds (${first}..${first + n - 1}): ${failed} failed; ${accepted} runs accepted, ${events} deliveries, ${lost} messages lost to faults; ${wallS.toFixed(1)} s wall, ${(n / wallS).toFixed(0)} seeds/s`);
  return failed > 0 ? 1 : 0;
}
