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
