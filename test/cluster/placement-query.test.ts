import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WireEntry } from '../../src/cluster/messages.js';
import { answerLeastLoaded, busyRatio, leastLoadedAssigner } from '../../src/cluster/placement-query.js';
import { newOutbox } from '../../src/cluster/output.js';

function assigner(name: string, busy: number, free: number, over: Partial<WireEntry> = {}): WireEntry {
  return {
    name, role: 'assigner', incarnation: 1, life: 1, status: 'alive', version: 0, monitor: 'm1',
    load: { psiCpu: 0, psiMemory: 0, psiIo: 0, slotsBusy: busy, slotsFree: free }, languages: [], ...over,
  };
}

test('least busy share wins, name breaks ties, only alive Assigners count', () => {
  const table = [
    assigner('a3', 1, 3), // 0.25
    assigner('a2', 2, 6), // 0.25, wins the tie by name
    assigner('a1', 0, 8, { status: 'suspect' }),
    assigner('a0', 0, 8, { role: 'worker' }),
    assigner('a4', 3, 1),
  ];
  assert.equal(leastLoadedAssigner(table), 'a2');
  assert.equal(leastLoadedAssigner(table.reverse()), 'a2', 'order of the table does not matter');
  assert.equal(leastLoadedAssigner([assigner('x', 0, 0, { status: 'dead' })]), null);
  assert.equal(busyRatio({ psiCpu: 0, psiMemory: 0, psiIo: 0, slotsBusy: 0, slotsFree: 0 }), 1, 'no slots = full');
});

test('a request is answered to its sender with its id', () => {
  const out = newOutbox();
  answerLeastLoaded('m1', { type: 'least_loaded_assigner_request', from: 'gw', requestId: 'r7' }, [assigner('a1', 0, 4)], out);
  assert.deepEqual(out.messages, [
    { to: 'gw', message: { type: 'least_loaded_assigner_reply', from: 'm1', requestId: 'r7', assigner: 'a1' } },
  ]);
});
