import type { ClusterView } from '../gateway/api-types.js';
import { authHeaders, gatewayList, getJson } from './client.js';

function pct(x: number): string {
  return `${Math.round(x * 100)}%`.padStart(4);
}

export function renderCluster(c: ClusterView): string {
  const lines = [`leader ${c.leader ?? '-'} (term ${c.term})   queue ${c.queue_length}`, ''];
  lines.push(`${'NODE'.padEnd(16)}${'ROLE'.padEnd(10)}${'STATE'.padEnd(9)}${'ADDRESS'.padEnd(22)}${'PID'.padEnd(9)}CPU  MEM  IO   SLOTS  RUNS`);
  for (const n of [...c.nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    const l = n.load;
    // Run slots are a Worker's (busy/total). An Assigner's load also counts runs against a
    // capacity, but that is the cap on runs it holds (1024), not slots: its RUNS column says more.
    const slots = n.role === 'worker' && l ? `${l.slots_busy}/${l.slots_busy + l.slots_free}` : '-';
    const load = l ? `${pct(l.psi_cpu)} ${pct(l.psi_memory)} ${pct(l.psi_io)} ${slots.padEnd(6)}` : `${'-'.padEnd(4)} ${'-'.padEnd(4)} ${'-'.padEnd(4)} ${'-'.padEnd(6)}`;
    lines.push(`${n.name.padEnd(16)}${n.role.padEnd(10)}${n.state.padEnd(9)}${n.address.padEnd(22)}${String(n.pid ?? '-').padEnd(9)}${load} ${n.runs}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function statusCommand(opts: { gateway?: string; token?: string; json?: boolean }): Promise<number> {
  const view = (await getJson(gatewayList(opts.gateway), '/api/v1/cluster', authHeaders(opts.token))) as ClusterView;
  process.stdout.write(opts.json ? `${JSON.stringify(view)}\n` : renderCluster(view));
  return 0;
}
