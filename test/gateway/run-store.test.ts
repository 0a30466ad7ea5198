import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AcceptedRun } from '../../src/gateway/backend.js';
import { RunRecord, type RunEvent } from '../../src/gateway/run-store.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';

const run = { id: 'r1', user: 'u', language: 'c', files: [{ name: 'main.c', content: '' }], main: 'main.c', stdin: '', interactive: true, limits: { ...DEFAULT_LIMITS } } as unknown as AcceptedRun;

test('a client that subscribes after its run started learns it started, then gets the output so far', () => {
  const r = new RunRecord(run, 'token', () => {});
  r.started({ worker: 'w1', assigner: 'a1' });
  r.output({ seq: 0, stream: 'stdout', data: Buffer.from('hi\n') });
  const got: RunEvent[] = [];
  r.subscribe((e) => got.push(e), -1);
  assert.deepEqual(got.map((e) => e.type), ['started', 'output']);
  const late: RunEvent[] = [];
  r.exit({ status: 'ok', exit_code: 0, signal: null, cpu_time_ms: 0, wall_time_ms: 0, memory_kb: 0, language: 'c', version: '' } as never);
  r.subscribe((e) => late.push(e), 0);
  assert.deepEqual(late.map((e) => e.type), ['exit'], 'a finished run: only its end');
});

test('a client resuming with a seq of an earlier attempt hears of the restart and gets this attempt whole (found by the run path simulator, seed 50111 --faults 12)', () => {
  const r = new RunRecord(run, 'token', () => {});
  r.started({ worker: 'w1', assigner: 'a1' });
  r.output({ seq: 0, stream: 'stdout', data: Buffer.from('on w1\n') });
  r.output({ seq: 1, stream: 'stdout', data: Buffer.from('a\n') });
  // The client read 0..1, lost its connection; the Worker died and the run started again.
  r.restarted(2);
  r.started({ worker: 'w2', assigner: 'a1' });
  r.output({ seq: 0, stream: 'stdout', data: Buffer.from('on w2\n') });
  r.output({ seq: 1, stream: 'stdout', data: Buffer.from('a\n') });
  const got: RunEvent[] = [];
  r.subscribe((e) => got.push(e), 1);
  assert.deepEqual(got.map((e) => (e.type === 'output' ? `output#${e.seq}:${e.data.toString().trim()}` : e.type)), ['restarted', 'started', 'output#0:on w2', 'output#1:a']);
  const fresh: RunEvent[] = [];
  r.subscribe((e) => fresh.push(e), -1);
  assert.deepEqual(fresh.map((e) => e.type), ['started', 'output', 'output'], 'a fresh reader needs no restart');
});

test('a client following a run from a seq hears every chunk of the attempt that follows a restart (seed 50677 --faults 12)', () => {
  const r = new RunRecord(run, 'token', () => {});
  r.started({ worker: 'w1', assigner: 'a1' });
  r.output({ seq: 0, stream: 'stdout', data: Buffer.from('on w1\n') });
  const got: RunEvent[] = [];
  r.subscribe((e) => got.push(e), 0); // it has chunk 0 already
  r.restarted(2);
  r.output({ seq: 0, stream: 'stdout', data: Buffer.from('on w2\n') });
  assert.deepEqual(got.map((e) => (e.type === 'output' ? `output#${e.seq}` : e.type)), ['started', 'restarted', 'output#0']);
});
