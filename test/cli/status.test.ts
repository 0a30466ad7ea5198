import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TableRow } from '../../src/agent/agent-messages.js';
import { renderCluster } from '../../src/cli/status.js';
import type { NodeView } from '../../src/gateway/api-types.js';
import { WorkerLoads } from '../../src/gateway/worker-loads.js';

const load = (busy: number, free: number) => ({ psiCpu: 0.1, psiMemory: 0, psiIo: 0, slotsFree: free, slotsBusy: busy });
const row = (name: string, role: string, monitor: string | null, l = load(0, 0)): TableRow => ({ name, role, status: 'alive', incarnation: 0, monitor, load: l, languages: [] });

test('a Worker\'s load is the one its own Monitor reported, whichever Monitor answered last', () => {
  const w = new WorkerLoads();
  assert.equal(w.get('pc1-w0'), null, 'unknown until its own Monitor answers');
  // m2 is not pc1-w0's Monitor: its row has zeros for it (only Assigners' loads are gossiped).
  w.update('m2', [row('pc1-w0', 'worker', 'm1')]);
  assert.equal(w.get('pc1-w0'), null);
  w.update('m1', [row('pc1-w0', 'worker', 'm1', load(0, 1))]);
  assert.deepEqual(w.get('pc1-w0'), load(0, 1));
  // The flip the status used to show: the next reply comes from m2 again.
  w.update('m2', [row('pc1-w0', 'worker', 'm1')]);
  assert.deepEqual(w.get('pc1-w0'), load(0, 1));
  w.update('m1', [row('pc1-w0', 'worker', 'm1', load(1, 0))]);
  assert.deepEqual(w.get('pc1-w0'), load(1, 0));
  // It moved to m2: m1's figure is no longer kept fresh by anyone.
  w.update('m1', [row('pc1-w0', 'worker', 'm2')]);
  assert.equal(w.get('pc1-w0'), null);
  w.update('m2', [row('pc1-w0', 'worker', 'm2', load(0, 1))]);
  assert.deepEqual(w.get('pc1-w0'), load(0, 1));
  // Gone from the table: forgotten (the map is bounded by the table).
  w.update('m2', []);
  assert.equal(w.get('pc1-w0'), null);
});

test('status shows slots for Workers only (an Assigner\'s capacity is not run slots)', () => {
  const node = (name: string, role: NodeView['role'], l: NodeView['load'], runs = 0): NodeView => ({ name, address: '127.0.0.1:1', pid: 1, role, state: 'alive', load: l, runs });
  const l = (busy: number, free: number) => ({ psi_cpu: 0, psi_memory: 0, psi_io: 0, slots_free: free, slots_busy: busy });
  const out = renderCluster({
    nodes: [node('a1', 'assigner', l(2, 1022), 2), node('pc1-w0', 'worker', l(0, 1)), node('pc1-w1', 'worker', l(1, 0), 1), node('pc2-w0', 'worker', null)],
    queue_length: 0,
    leader: 'm1',
    term: 1,
  });
  const line = (name: string) => out.split('\n').find((x) => x.startsWith(name)) ?? '';
  assert.match(line('pc1-w0'), / 0\/1 /);
  assert.match(line('pc1-w1'), / 1\/1 /);
  assert.doesNotMatch(line('a1'), /\/1024/);
  assert.match(line('a1'), / - +2$/);
  assert.match(line('pc2-w0'), /-\s+-\s+-\s+-\s+0$/);
});
