import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { AssignerTimeoutError, isRetryableStartError, NoCapacityError, type AcceptedRun, type RunSink } from '../../src/gateway/backend.js';
import { ClusterBackend, type ClusterBackendPorts } from '../../src/gateway/cluster-backend.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';

/**
 * A Gateway's backend whose Monitor names `answers[i]` at its i-th question, and whose Assigners
 * answer a submit only when `answerSubmit` says so.
 */
function lab(answers: string[], answerSubmit: (to: string, nth: number) => boolean) {
  const sent: Array<{ to: string; type: string }> = [];
  let asked = 0;
  let submits = 0;
  let backend: ClusterBackend;
  const ports: ClusterBackendPorts = {
    self: 'gw',
    configMonitors: ['mon-1'],
    configAssigners: [],
    links: {
      send: (to, msg) => {
        sent.push({ to, type: msg.type });
        if (msg.type === 'least_loaded_assigner_request') {
          const assigner = answers[Math.min(asked++, answers.length - 1)] as string;
          setImmediate(() => backend.handle('mon-1', { type: 'least_loaded_assigner_reply', from: 'mon-1', requestId: msg.requestId, assigner }));
        }
        if (msg.type === 'run_submit' && answerSubmit(to, ++submits)) {
          const id = msg.run.id;
          setImmediate(() => backend.handle(to, { type: 'run_queued', from: to, id, position: 1, buddy: null }));
        }
        return true;
      },
    },
    resolve: () => null,
    log: pino({ level: 'silent' }),
  };
  backend = new ClusterBackend(ports);
  return { backend, sent };
}

const run: AcceptedRun = { id: 'r1', user: 'anonymous', language: 'python', files: [{ name: 'main.py', content: 'print(1)' }], main: 'main.py', stdin: '', interactive: false, limits: { ...DEFAULT_LIMITS } };
function sink(): RunSink & { queuedAt: number[] } {
  const queuedAt: number[] = [];
  return { queuedAt, queued: (p) => queuedAt.push(p), started: () => {}, output: () => {}, restarted: () => {}, reassigned: () => {}, exit: () => {} };
}

/** Starts the run; what the Gateway said to Assigners (submits and kills) until it was taken. */
async function submitted(answers: string[], answerSubmit: (to: string, nth: number) => boolean): Promise<{ said: string[]; queuedAt: number[] }> {
  const { backend, sent } = lab(answers, answerSubmit);
  const s = sink();
  try {
    await backend.start(run, s);
    return { said: sent.filter((m) => m.type === 'run_submit' || m.type === 'run_kill').map((m) => `${m.type}>${m.to}`), queuedAt: s.queuedAt };
  } finally {
    await backend.close(); // (it kills the runs it still relays: not part of what is checked)
  }
}

test('an Assigner slow to take a run (its buddy just died) is asked again, never told to kill it', async () => {
  // The Monitor names asg-1 both times; asg-1 answers only the second submit.
  const r = await submitted(['asg-1', 'asg-1'], (_to, nth) => nth === 2);
  assert.deepEqual(r.queuedAt, [1]);
  assert.deepEqual(r.said, ['run_submit>asg-1', 'run_submit>asg-1']);
});

test('a silent Assigner replaced by another is told to kill the run, in case it got it', async () => {
  const r = await submitted(['asg-1', 'asg-2'], (to) => to === 'asg-2');
  assert.deepEqual(r.queuedAt, [1]);
  assert.deepEqual(r.said, ['run_submit>asg-1', 'run_kill>asg-1', 'run_submit>asg-2']);
});

test('an Assigner silent past the ack window twice is its own error, not "no capacity"', async () => {
  const { backend } = lab(['asg-1', 'asg-1'], () => false);
  try {
    await assert.rejects(backend.start(run, sink()), (err: unknown) => {
      assert.ok(err instanceof AssignerTimeoutError, `got ${String(err)}`);
      assert.ok(!(err instanceof NoCapacityError));
      assert.equal(err.code, 'ASSIGNER_TIMEOUT');
      assert.ok(isRetryableStartError(err), 'a client may try again later');
      return true;
    });
  } finally {
    await backend.close();
  }
});

test('the cluster view counts the runs this Gateway relays per Assigner (and all of them on itself)', async () => {
  const { backend } = lab(['asg-1', 'asg-2', 'asg-2'], () => true);
  const row = (name: string, role: string, slotsBusy = 0) => ({
    name, role, status: 'alive' as const, incarnation: 0, monitor: 'mon-1', languages: [],
    load: { psiCpu: 0, psiMemory: 0, psiIo: 0, slotsFree: 1, slotsBusy },
  });
  backend.handle('mon-1', {
    type: 'table_reply', from: 'mon-1', requestId: 'table', leader: 'mon-1', term: 1,
    rows: [row('gw', 'empty'), row('mon-1', 'monitor'), row('asg-1', 'assigner'), row('asg-2', 'assigner'), row('w-1', 'worker', 3)],
  });
  try {
    // Fresh answers each time: the Monitor's answer is kept 250 ms, so ask past it.
    await backend.start({ ...run, id: 'a' }, sink());
    await new Promise((r) => setTimeout(r, 300));
    await backend.start({ ...run, id: 'b' }, sink());
    await new Promise((r) => setTimeout(r, 300));
    await backend.start({ ...run, id: 'c' }, sink());
    const runs = Object.fromEntries(backend.cluster().nodes.map((n) => [n.name, n.runs]));
    assert.deepEqual(runs, { gw: 3, 'mon-1': 0, 'asg-1': 1, 'asg-2': 2, 'w-1': 3 });
  } finally {
    await backend.close();
  }
});
