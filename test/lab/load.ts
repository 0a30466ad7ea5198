// What the lab's client runs and reports: the load programs (each prints a known numbered
// sequence over a few seconds, so the client can check it received exactly that) and the shapes
// of the client's answers. Shared by the harness (main.ts, scenarios.ts) and the client process.

export type LoadLanguage = 'python' | 'c';

export interface ProgramSpec {
  language: LoadLanguage;
  /** Printed before each number, so two runs' outputs never look alike. */
  tag: string;
  lines: number;
  periodMs: number;
}

export function programSource(p: ProgramSpec): string {
  if (!/^[A-Za-z0-9_-]+$/.test(p.tag)) throw new Error(`bad tag ${p.tag}`);
  if (p.language === 'python') {
    return `import time\nfor i in range(${p.lines}):\n    print("${p.tag} %d" % i, flush=True)\n    time.sleep(${p.periodMs / 1000})\n`;
  }
  return (
    '#include <stdio.h>\n#include <unistd.h>\n' +
    `int main(void){for(int i=0;i<${p.lines};i++){printf("${p.tag} %d\\n",i);fflush(stdout);usleep(${p.periodMs * 1000});}return 0;}\n`
  );
}

export function expectedOutput(p: ProgramSpec): string {
  return Array.from({ length: p.lines }, (_, i) => `${p.tag} ${i}\n`).join('');
}

/** One load run as the client saw it. */
export interface RunReport {
  tag: string;
  language: LoadLanguage;
  /** On a pseudo-terminal: never placed again; its Worker's loss ends it as node_lost. */
  interactive: boolean;
  /** The Gateway took it (answered `accepted`); refusals (503) before that are counted apart. */
  accepted: boolean;
  refusals: number;
  id: string | null;
  submittedAtMs: number;
  /** When the Gateway answered `accepted` (after an Assigner took the run). */
  acceptedAtMs: number | null;
  /** The first terminal status, or null if none came before the deadline (the run is lost). */
  status: string | null;
  /** Terminal statuses received: exactly 1 for every accepted run. */
  exits: number;
  finishedAtMs: number | null;
  /** `restarted` messages: the run's Worker was lost and it started again elsewhere. */
  restarts: number;
  /** In the attempt that finished: sequence numbers skipped, and received more than once. */
  chunksLost: number;
  chunksDup: number;
  /** stdout streamed to the client equals the program's exact output (checked for `ok` runs). */
  streamOk: boolean;
  /** stdout streamed is the start of the program's exact output (what a node_lost run must show). */
  streamPrefixOk: boolean;
  /** GET /api/v1/runs/:id's stdout equals it too. */
  storedOk: boolean;
  /**
   * Every attempt's Worker the client was told of (`started`), with when. A run that starts at once
   * is not told (its `started` goes out before the client is subscribed): see `worker`.
   */
  placements: Array<{ worker: string | null; atMs: number }>;
  /** The Worker and Assigner of the attempt that finished, from GET /api/v1/runs/:id. */
  worker: string | null;
  assigner: string | null;
  /** WebSocket resumes the client needed (the connection dropped). */
  resumes: number;
  error: string | null;
}

export interface LoadRequest {
  tag: string;
  runs: number;
  spacingMs: number;
  lines: number;
  periodMs: number;
  /** Epoch ms: runs not finished by then count as lost. */
  deadlineMs: number;
  /** Every this-many-th run (the 4th, 8th… with 4) is interactive; 0: none. */
  interactiveEvery?: number;
}

export interface NodeState {
  name: string;
  role: string;
  state: string;
}

export interface ClusterSnapshot {
  atMs: number;
  nodes: NodeState[];
  leader: string | null;
  term: number;
}
