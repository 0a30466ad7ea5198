import type { ClusterMessage, Load, NodeName } from '../cluster/messages.js';

/** What the simulator can do to a cluster, all at scheduled virtual times. */
export type Fault =
  | { kind: 'crash'; atMs: number; node: NodeName }
  | { kind: 'restart'; atMs: number; node: NodeName }
  /** `side` cannot talk to anyone outside it until untilMs. */
  | { kind: 'partition'; atMs: number; untilMs: number; side: NodeName[] }
  /** Every message is lost with this probability until untilMs. */
  | { kind: 'drop'; atMs: number; untilMs: number; probability: number }
  | { kind: 'load'; atMs: number; node: NodeName; load: Load }
  /** A message as if `from` had sent it (e.g. a role order from the leader). */
  | { kind: 'inject'; atMs: number; from: NodeName; to: NodeName; message: ClusterMessage };

export type FaultKind = Fault['kind'];

/** Time the fault's effect on the network ends (its start for instantaneous faults). */
export function faultEndMs(f: Fault): number {
  switch (f.kind) {
    case 'partition':
    case 'drop':
      return f.untilMs;
    case 'crash':
    case 'restart':
    case 'load':
    case 'inject':
      return f.atMs;
    default: {
      const impossible: never = f;
      throw new Error(`unknown fault ${JSON.stringify(impossible)}`);
    }
  }
}

/** Whether the fault loses messages (crashes do not count: a dead peer is not a sick network). */
export function isNetworkFault(f: Fault): f is Extract<Fault, { kind: 'partition' | 'drop' }> {
  return f.kind === 'partition' || f.kind === 'drop';
}

/** Intervals in which the network lost messages; the checkers excuse what happens near them. */
export class NetworkHealth {
  private readonly sick: Array<{ fromMs: number; toMs: number }> = [];

  add(fromMs: number, toMs: number): void {
    this.sick.push({ fromMs, toMs });
  }

  /** True if any network fault overlapped [fromMs, toMs]. */
  faultyBetween(fromMs: number, toMs: number): boolean {
    return this.sick.some((s) => s.fromMs <= toMs && s.toMs >= fromMs);
  }
}
