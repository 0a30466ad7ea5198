import { randomFloat, randomIntBetween, type Random } from '../../cluster/random.js';
import type { ProgramStep } from '../../worker/twins.js';
import { Xoshiro128 } from '../prng.js';
import type { ProgramPlan } from './nodes.js';

/** One seed's world: who is there, what the clients run, and what goes wrong when. */

export type RunpathFault =
  /** The node's process dies; a Worker or Assigner comes back (empty, next incarnation) after restartAfterMs. */
  | { kind: 'crash'; atMs: number; node: string; restartAfterMs: number }
  /** The active Gateway dies; its standby takes over (a new relay core, epoch + 1) after failoverMs. */
  | { kind: 'gateway_crash'; atMs: number; failoverMs: number }
  /** One member-to-member connection breaks (in flight lost). */
  | { kind: 'reset'; atMs: number; from: string; to: string }
  /** `node` is cut off from everyone; shorter than the Monitors' detection, so nobody is declared dead. */
  | { kind: 'partition'; atMs: number; untilMs: number; node: string }
  /** A client's WebSocket breaks (in flight lost both ways); the client resumes. */
  | { kind: 'client_cut'; atMs: number; client: string };

export interface ClientPlan {
  name: string;
  startAtMs: number;
  interactive: boolean;
  program: ProgramPlan;
  /** Lines typed (interactive), each after its gap. */
  lines: string[];
  lineGapMs: number;
  /** Kill this long after acceptance (a hanging program, or an impatient user); null: never. */
  killAfterMs: number | null;
  /** After its exit, read the run again from scratch this much later (null: no). */
  rereadAfterMs: number | null;
}

export interface RunpathScenario {
  seed: number;
  workers: Array<{ name: string; slots: number }>;
  assigners: [string, string];
  clients: ClientPlan[];
  faults: RunpathFault[];
  /** How long after a crash the Monitors declare the node dead. */
  detectMs: number;
}

export interface RunpathScenarioOptions {
  clientsMax?: number;
  faultsMax?: number;
  /** Every seed kills one Assigner of the pair at a random moment (what the old pair property tested). */
  assignerCrash?: boolean;
}

export const FAULT_WINDOW_MS = 8_000;
/** Partitions stay below the Monitors' detection (DETECT_MS_MIN): a longer one is a false death, not covered yet. */
export const DETECT_MS_MIN = 1_000;
const DETECT_MS_MAX = 2_500;

function pick<T>(rng: Random, items: readonly T[]): T {
  return items[randomIntBetween(rng, 0, items.length - 1)] as T;
}

function program(rng: Random, kind: 'batch' | 'big' | 'echo' | 'hang', lines: number): ProgramPlan {
  const steps: ProgramStep[] = [];
  const sayWhere = randomFloat(rng) < 0.5;
  switch (kind) {
    case 'batch': {
      const n = randomIntBetween(rng, 0, 12);
      for (let i = 0; i < n; i++) steps.push({ do: 'print', text: `line ${i} ${'x'.repeat(randomIntBetween(rng, 0, 3000))}\n`, stream: randomFloat(rng) < 0.2 ? 'stderr' : 'stdout' });
      steps.push({ do: 'exit', code: randomFloat(rng) < 0.2 ? 1 : 0 });
      break;
    }
    case 'big':
      // Past the twin's 64-chunk queue and CHUNKS_PER_MESSAGE_MAX: the pump's batching and back-pressure.
      steps.push({ do: 'print', text: 'y'.repeat(randomIntBetween(rng, 100, 300) * 1000) }, { do: 'exit', code: 0 });
      break;
    case 'echo':
      steps.push({ do: 'print', text: '> ' });
      for (let i = 0; i < lines; i++) steps.push({ do: 'echo_line' });
      steps.push({ do: 'exit', code: 0 });
      break;
    case 'hang':
      steps.push({ do: 'print', text: 'waiting\n' }, { do: 'hang' });
      break;
    default: {
      const never: never = kind;
      throw new Error(`unknown program ${String(never)}`);
    }
  }
  return { steps, sayWhere };
}

function client(rng: Random, i: number): ClientPlan {
  const kind = pick(rng, ['batch', 'batch', 'big', 'echo', 'echo', 'hang'] as const);
  // A batch program that hangs is the one batch run that is still going when its Worker dies
  // (the twin's others end at once): it is placed again, so resumes across a restart get tested.
  const interactive = kind === 'echo' || randomFloat(rng) < (kind === 'hang' ? 0.5 : 0.2);
  const lineCount = kind === 'echo' ? randomIntBetween(rng, 1, 6) : 0;
  const lines = Array.from({ length: lineCount }, (_, j) => `in ${j} ${'z'.repeat(randomIntBetween(rng, 0, 40))}\n`);
  return {
    name: `c${i}`,
    startAtMs: randomIntBetween(rng, 0, 4_000),
    interactive,
    program: program(rng, kind, lineCount),
    lines,
    lineGapMs: randomIntBetween(rng, 10, 800),
    killAfterMs: kind === 'hang' ? randomIntBetween(rng, 200, 5_000) : randomFloat(rng) < 0.1 ? randomIntBetween(rng, 0, 2_000) : null,
    rereadAfterMs: randomFloat(rng) < 0.3 ? randomIntBetween(rng, 0, 3_000) : null,
  };
}

export function randomRunpathScenario(seed: number, opts: RunpathScenarioOptions = {}): RunpathScenario {
  const rng = new Xoshiro128(seed);
  const workers = Array.from({ length: randomIntBetween(rng, 1, 4) }, (_, i) => ({ name: `w${i + 1}`, slots: randomIntBetween(rng, 1, 3) }));
  const assigners: [string, string] = ['a1', 'a2'];
  const clients = Array.from({ length: randomIntBetween(rng, 1, opts.clientsMax ?? 8) }, (_, i) => client(rng, i + 1));
  const faults: RunpathFault[] = [];
  const faultCount = randomIntBetween(rng, 0, opts.faultsMax ?? 5);
  // One Assigner death per seed: the pair must re-form before the other may die (contract 1 is
  // "whatever single node dies"); Workers and the Gateway may die in any number.
  let assignerCrashed = false;
  for (let i = 0; i < faultCount; i++) {
    const atMs = randomIntBetween(rng, 0, FAULT_WINDOW_MS);
    const r = randomFloat(rng);
    if (r < 0.25) faults.push({ kind: 'crash', atMs, node: pick(rng, workers).name, restartAfterMs: randomIntBetween(rng, 200, 4_000) });
    else if (r < 0.4 && !assignerCrashed) {
      assignerCrashed = true;
      faults.push({ kind: 'crash', atMs, node: pick(rng, assigners), restartAfterMs: randomIntBetween(rng, 200, 4_000) });
    } else if (r < 0.5) faults.push({ kind: 'gateway_crash', atMs, failoverMs: randomIntBetween(rng, 300, 3_000) });
    else if (r < 0.7) {
      const nodes = [...workers.map((w) => w.name), ...assigners, 'gateway'];
      const from = pick(rng, nodes);
      const to = pick(rng, nodes.filter((n) => n !== from));
      faults.push({ kind: 'reset', atMs, from, to });
    } else if (r < 0.85) {
      const node = pick(rng, [...workers.map((w) => w.name), ...assigners, 'gateway']);
      faults.push({ kind: 'partition', atMs, untilMs: atMs + randomIntBetween(rng, 50, DETECT_MS_MIN - 100), node });
    } else faults.push({ kind: 'client_cut', atMs, client: pick(rng, clients).name });
  }
  if (opts.assignerCrash && !assignerCrashed) {
    faults.push({ kind: 'crash', atMs: randomIntBetween(rng, 0, FAULT_WINDOW_MS), node: pick(rng, assigners), restartAfterMs: randomIntBetween(rng, 200, 4_000) });
  }
  faults.sort((a, b) => a.atMs - b.atMs);
  return { seed, workers, assigners, clients, faults, detectMs: randomIntBetween(rng, DETECT_MS_MIN, DETECT_MS_MAX) };
}
