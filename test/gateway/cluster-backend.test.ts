import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { TableRow } from '../../src/agent/agent-messages.js';
import { AssignerTimeoutError, type AcceptedRun, type RunSink } from '../../src/gateway/backend.js';
import { ClusterBackend, type ClusterBackendPorts } from '../../src/gateway/cluster-backend.js';
import { RELAY_DEFAULTS } from '../../src/gateway/relay-core.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';
import { ManualClock } from '../../src/worker/twins.js';

// The relay's driver on a manual clock: its one wake timer carries every deadline, so an ack
// window passes without sleeping. Its links answer at once (synchronously), as a simulator's may.

type Sent = { to: string; msg: { type: string; requestId?: string; run?: { id: string } } };

function lab(onSend: (s: Sent, backend: ClusterBackend) => void = () => {}) {
  const clock = new ManualClock(1_000);
  const sent: Sent[] = [];
  let backend: ClusterBackend | null = null;
  const ports: ClusterBackendPorts = {
    self: 'gw',
    configMonitors: ['mon-1'],
    configAssigners: ['asg-1'],
    links: {
      send: (to, msg) => {
        sent.push({ to, msg });
        if (backend) onSend({ to, msg }, backend);
        return true;
      },
    },
    resolve: () => null,
    log: pino({ level: 'silent' }),
  };
  backend = new ClusterBackend(ports, clock);
  return { backend, clock, sent };
}

const run: AcceptedRun = { id: 'r1', user: 'anonymous', language: 'python', files: [{ name: 'main.py', content: 'print(1)' }], main: 'main.py', stdin: '', interactive: false, limits: { ...DEFAULT_LIMITS } };
function sink(log: string[]): RunSink {
  return { queued: () => log.push('queued'), started: (i) => log.push(`started@${i.worker}`), output: (c) => log.push(`out#${c.seq}`), restarted: () => log.push('restarted'), reassigned: () => log.push('reassigned'), exit: () => log.push('exit') };
}

const nameAsg1 = (s: Sent, b: ClusterBackend) => {
  if (s.msg.type === 'least_loaded_assigner_request') b.handle('mon-1', { type: 'least_loaded_assigner_reply', from: 'mon-1', requestId: s.msg.requestId as string, assigner: 'asg-1' });
};

test('an Assigner silent through two ack windows: start() rejects with AssignerTimeoutError once the clock passes them', async () => {
  const { backend, clock, sent } = lab(nameAsg1);
  const out: { err: unknown } = { err: null };
  const started = backend.start(run, sink([])).catch((err: unknown) => (out.err = err));
  clock.advance(RELAY_DEFAULTS.ackTimeoutMs - 1);
  await Promise.resolve();
  assert.equal(out.err, null);
  clock.advance(1);
  assert.deepEqual(sent.filter((s) => s.msg.type === 'run_submit').map((s) => s.to), ['asg-1', 'asg-1'], 'asked afresh, the same one named: submitted again');
  clock.advance(RELAY_DEFAULTS.ackTimeoutMs);
  const err: unknown = await started;
  assert.ok(err instanceof AssignerTimeoutError, `got ${String(err)}`);
  await backend.close();
  assert.equal(clock.pendingTimers, 0, 'closed: no timer left');
});

test('a link answering at once (calling back into the driver) is served in order, and a Worker\'s RUNS counts the runs started there', async () => {
  const events: string[] = [];
  const { backend } = lab((s, b) => {
    nameAsg1(s, b);
    if (s.msg.type === 'run_submit') {
      const id = s.msg.run?.id as string;
      b.handle('asg-1', { type: 'run_queued', from: 'asg-1', id, position: 1, buddy: null });
      b.handle('asg-1', { type: 'run_started', from: 'asg-1', id, worker: 'w-1', buddy: null });
    }
  });
  const row = (name: string, role: string, slotsBusy = 0): TableRow => ({ name, role, status: 'alive', incarnation: 0, monitor: 'mon-1', languages: [], load: { psiCpu: 0, psiMemory: 0, psiIo: 0, slotsFree: 1, slotsBusy } });
  backend.handle('mon-1', { type: 'table_reply', from: 'mon-1', requestId: 'table', leader: 'mon-1', term: 1, rows: [row('gw', 'empty'), row('mon-1', 'monitor'), row('asg-1', 'assigner'), row('w-1', 'worker'), row('w-2', 'worker', 1)] });
  await backend.start(run, sink(events));
  assert.deepEqual(events, ['queued', 'started@w-1']);
  const runs = Object.fromEntries(backend.cluster().nodes.map((n) => [n.name, n.runs]));
  // w-1's heartbeat still says idle; w-2 is busy with a run of no concern to this Gateway.
  assert.deepEqual(runs, { gw: 1, 'mon-1': 0, 'asg-1': 1, 'w-1': 1, 'w-2': 1 });
  await backend.close();
});
