import type { NodeName, Role } from '../cluster/messages.js';
import { randomFloat, randomInt, randomIntBetween, shuffleInPlace, type Random } from '../cluster/random.js';
import type { Fault } from './faults.js';
import { Xoshiro128 } from './prng.js';
import type { SimNodeSpec, SimulateOptions } from './simulator.js';

// Random clusters and fault schedules, all drawn from the seed: `--seed N` rebuilds the same run.

export const SCENARIO_NODES_MIN = 3;
export const SCENARIO_NODES_MAX = 12;
/** Faults per run; a few keep each seed cheap while still overlapping sometimes. */
export const SCENARIO_FAULTS_MAX = 4;
/** The cluster forms (first heartbeats, first gossip, a leader) before faults begin. */
export const WARMUP_MS = 2_000;
/** Faults start and end within this window after the warm-up. */
export const FAULT_WINDOW_MS = 3_000;

export interface ScenarioOptions {
  /** Fixed cluster size instead of a random one in [3, 12]. */
  nodes?: number;
  /** Most faults per run (default SCENARIO_FAULTS_MAX). */
  faultsMax?: number;
}

/** Monitors first (2..min(5, n−1)), two Assigners when there is room, then Workers and Empties. */
export function randomCluster(rng: Random, nodeCount: number): SimNodeSpec[] {
  const monitors = randomIntBetween(rng, 2, Math.max(2, Math.min(5, nodeCount - 1)));
  const assigners = nodeCount - monitors >= 3 ? 2 : 0;
  const specs: SimNodeSpec[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const role: Role = i < monitors ? 'monitor' : i < monitors + assigners ? 'assigner' : randomFloat(rng) < 0.8 ? 'worker' : 'empty';
    specs.push({ name: `${role.slice(0, 1)}${i}`, role });
  }
  return specs;
}

export function randomScenario(seed: number, options: ScenarioOptions = {}): SimulateOptions {
  const rng = new Xoshiro128(seed ^ 0x5eed5eed);
  const count = options.nodes ?? randomIntBetween(rng, SCENARIO_NODES_MIN, SCENARIO_NODES_MAX);
  const nodes = randomCluster(rng, count);
  const faults = randomFaults(rng, nodes, options.faultsMax ?? SCENARIO_FAULTS_MAX);
  return { seed, nodes, durationMs: WARMUP_MS + FAULT_WINDOW_MS + 500, faults, settle: true };
}

function randomFaults(rng: Random, nodes: readonly SimNodeSpec[], faultsMax: number): Fault[] {
  const faults: Fault[] = [];
  const names = nodes.map((n) => n.name);
  const monitors = nodes.filter((n) => n.role === 'monitor').map((n) => n.name);
  const crashed = new Set<NodeName>();
  const count = randomInt(rng, faultsMax + 1);
  for (let i = 0; i < count; i++) {
    const atMs = WARMUP_MS + randomInt(rng, FAULT_WINDOW_MS - 500);
    const untilMs = Math.min(WARMUP_MS + FAULT_WINDOW_MS, atMs + randomIntBetween(rng, 300, 2_500));
    const pick = randomFloat(rng);
    if (pick < 0.45) {
      // Keep a Monitor and a majority of nodes up: the invariants are about surviving faults.
      const pool = pick < 0.15 ? monitors : names;
      const victim = pool[randomInt(rng, pool.length)] as NodeName;
      const monitorsLeft = monitors.filter((m) => !crashed.has(m) && m !== victim).length;
      if (crashed.has(victim) || monitorsLeft === 0 || crashed.size + 1 > Math.floor((names.length - 1) / 2)) continue;
      crashed.add(victim);
      faults.push({ kind: 'crash', atMs, node: victim });
      if (randomFloat(rng) < 0.6) faults.push({ kind: 'restart', atMs: untilMs, node: victim });
    } else if (pick < 0.75) {
      const side = shuffleInPlace(rng, [...names]).slice(0, randomIntBetween(rng, 1, Math.floor(names.length / 2)));
      faults.push({ kind: 'partition', atMs, untilMs, side });
    } else {
      faults.push({ kind: 'drop', atMs, untilMs, probability: 0.1 + 0.5 * randomFloat(rng) });
    }
  }
  for (let i = 0; i < 3; i++) faults.push(randomLoad(rng, names));
  return faults.sort((a, b) => a.atMs - b.atMs);
}

function randomLoad(rng: Random, names: readonly NodeName[]): Fault {
  const slots = 8;
  const busy = randomInt(rng, slots + 1);
  return {
    kind: 'load',
    atMs: randomInt(rng, WARMUP_MS + FAULT_WINDOW_MS),
    node: names[randomInt(rng, names.length)] as NodeName,
    load: { psiCpu: randomFloat(rng) * 0.5, psiMemory: randomFloat(rng) * 0.2, psiIo: randomFloat(rng) * 0.2, slotsFree: slots - busy, slotsBusy: busy },
  };
}

/**
 * The Hydra's family: 2–3 Monitors, 2–6 Assigners in pairs, Empty nodes to refill them (the
 * Monitor leader keeps the Assigners at their starting count), and always a Monitor crash — a
 * second one at nearly the same time in a third of the runs (every Monitor, with two) — mixed
 * with partitions, message loss, an Assigner crash and restarts.
 */
export function randomHydraScenario(seed: number): SimulateOptions {
  const rng = new Xoshiro128(seed ^ 0x4b1d4a);
  const monitors = randomIntBetween(rng, 2, 3);
  const assigners = 2 * randomIntBetween(rng, 1, 3);
  const workers = randomIntBetween(rng, 1, 2);
  const empties = randomIntBetween(rng, 2, 4);
  const nodes: SimNodeSpec[] = [];
  const add = (role: Role, count: number) => {
    for (let i = 0; i < count; i++) nodes.push({ name: `${role.slice(0, 1)}${nodes.length}`, role });
  };
  add('monitor', monitors);
  add('assigner', assigners);
  add('worker', workers);
  add('empty', empties);
  const names = nodes.map((n) => n.name);
  const monitorNames = names.slice(0, monitors);
  const faults: Fault[] = [];
  const crashAt = WARMUP_MS + randomInt(rng, FAULT_WINDOW_MS - 500);
  const victims = shuffleInPlace(rng, [...monitorNames]).slice(0, randomFloat(rng) < 0.33 ? 2 : 1);
  for (const [i, victim] of victims.entries()) {
    const at = crashAt + i * randomInt(rng, 300);
    faults.push({ kind: 'crash', atMs: at, node: victim });
    if (randomFloat(rng) < 0.3) faults.push({ kind: 'restart', atMs: at + randomIntBetween(rng, 500, 6_000), node: victim });
  }
  if (randomFloat(rng) < 0.2) {
    const victim = names[monitors + randomInt(rng, assigners)] as NodeName;
    const at = WARMUP_MS + randomInt(rng, FAULT_WINDOW_MS);
    faults.push({ kind: 'crash', atMs: at, node: victim });
    if (randomFloat(rng) < 0.5) faults.push({ kind: 'restart', atMs: at + randomIntBetween(rng, 300, 3_000), node: victim });
  }
  const netFaults = randomInt(rng, 3);
  for (let i = 0; i < netFaults; i++) {
    const atMs = WARMUP_MS + randomInt(rng, FAULT_WINDOW_MS + 3_000);
    const untilMs = atMs + randomIntBetween(rng, 300, 4_000);
    if (randomFloat(rng) < 0.6) {
      const side = shuffleInPlace(rng, [...names]).slice(0, randomIntBetween(rng, 1, Math.floor(names.length / 2)));
      faults.push({ kind: 'partition', atMs, untilMs, side });
    } else {
      faults.push({ kind: 'drop', atMs, untilMs, probability: 0.1 + 0.4 * randomFloat(rng) });
    }
  }
  faults.sort((a, b) => a.atMs - b.atMs);
  return { seed, nodes, durationMs: WARMUP_MS + FAULT_WINDOW_MS + 500, faults, settle: true, strength: { assignersMin: assigners } };
}

/** The line that replays a failing seed. */
export function reproduction(seed: number, options: ScenarioOptions & { hydra?: boolean } = {}): string {
  const nodes = options.nodes === undefined ? '' : ` --nodes ${options.nodes}`;
  const faults = options.faultsMax === undefined ? '' : ` --faults ${options.faultsMax}`;
  return `npm run sim -- --seed ${seed}${nodes}${faults}${options.hydra ? ' --hydra' : ''}`;
}
