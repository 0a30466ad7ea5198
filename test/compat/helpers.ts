import assert from 'node:assert/strict';
import type { UpCluster } from '../helpers/up.js';

interface NodeRow {
  name: string;
  role: string;
  state: string;
  pid: number | null;
  runs: number;
}

/**
 * Waits until a Worker process of the cluster reports a run (a dialect's client cannot name it: its
 * run has no id the client sees), SIGKILLs it and returns its name. The run is a batch run, so the
 * Assigner starts it again on another Worker and the client's one request still gets one answer.
 */
export async function killWorkerUnderRun(cluster: UpCluster, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const view = (await (await fetch(`${cluster.url}/api/v1/cluster`, { headers: cluster.headers() })).json()) as { nodes: NodeRow[] };
    const busy = view.nodes.find((n) => n.role === 'worker' && n.state === 'alive' && n.runs > 0 && typeof n.pid === 'number');
    if (busy) {
      process.kill(busy.pid as number, 'SIGKILL');
      return busy.name;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('no Worker reported the run');
}
