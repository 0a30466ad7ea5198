import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RELAY_DEFAULTS, RelayCore, type RelayAction } from '../../src/gateway/relay-core.js';
import { unmeasuredResult } from '../../src/protocol/run-wire.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';

// Found by the run path simulator (seeds 15542 and 16225 of 10,001..20,000): a connection reset
// between an Assigner and the Gateway took a run's last chunk and its exit; nothing came after them
// to show the gap, so the client never read an end. The relay now asks a quiet run's Assigner for
// what follows its last chunk.

const sends = (a: RelayAction[]) => a.flatMap((x) => (x.kind === 'send' ? [x] : []));

test('a run its Assigner has been quiet about is asked for what follows its last chunk; the resent end reaches the client', () => {
  const core = new RelayCore({ ...RELAY_DEFAULTS, name: 'gw', requestIdPrefix: 't', configMonitors: ['mon-1'], configAssigners: ['asg-1'] });
  core.onTick(0);
  const asked = sends(core.submit({ id: 'r1', user: 'u', language: 'python', files: [{ name: 'main.py', content: '' }], main: 'main.py', stdin: '', interactive: true, limits: { ...DEFAULT_LIMITS } }, 0));
  const q = asked.find((s) => s.msg.type === 'least_loaded_assigner_request');
  assert.ok(q && q.msg.type === 'least_loaded_assigner_request');
  core.onMessage('mon-1', { type: 'least_loaded_assigner_reply', from: 'mon-1', requestId: q.msg.requestId, assigner: 'asg-1' }, 1);
  core.onMessage('asg-1', { type: 'run_started', from: 'asg-1', id: 'r1', worker: 'w1', buddy: null }, 2);
  core.onMessage('asg-1', { type: 'run_output', from: 'asg-1', id: 'r1', chunks: [{ seq: 0, stream: 'stdout', data: new Uint8Array([65]) }] }, 3);
  // Chunk 1 and the exit are lost with the connection. Nothing is asked before the silence bound...
  const early = sends(core.onTick(3 + RELAY_DEFAULTS.silentRunAskMs - 1)).filter((s) => s.msg.type === 'run_attach');
  assert.deepEqual(early, []);
  // ...then the run's Assigner is asked for everything after chunk 0, once per bound.
  const ask = sends(core.onTick(3 + 2 * RELAY_DEFAULTS.silentRunAskMs)).filter((s) => s.msg.type === 'run_attach');
  assert.deepEqual(ask.map((s) => [s.to, s.msg]), [['asg-1', { type: 'run_attach', from: 'gw', id: 'r1', afterSeq: 0 }]]);
  assert.deepEqual(sends(core.onTick(4 + 2 * RELAY_DEFAULTS.silentRunAskMs)).filter((s) => s.msg.type === 'run_attach'), [], 'not again at once');
  // The Assigner answers as onAttach does: the chunks after 0, then the end.
  const t = 20_000;
  const got = [
    ...core.onMessage('asg-1', { type: 'run_output', from: 'asg-1', id: 'r1', chunks: [{ seq: 1, stream: 'stdout', data: new Uint8Array([66]) }] }, t),
    ...core.onMessage('asg-1', { type: 'run_exit', from: 'asg-1', id: 'r1', result: unmeasuredResult('ok', 'python'), lastSeq: 1 }, t),
  ];
  assert.deepEqual(got.flatMap((a) => (a.kind === 'deliver' ? [a.event.kind] : [])), ['output', 'exit']);
  assert.deepEqual(sends(core.onTick(t + 10 * RELAY_DEFAULTS.silentRunAskMs)).filter((s) => s.msg.type === 'run_attach'), [], 'an ended run is not asked about');
});
