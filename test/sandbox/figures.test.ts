import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PhaseReport } from '../../src/sandbox/control.js';
import { findLanguage } from '../../src/sandbox/languages.js';
import { validateLimits } from '../../src/sandbox/limits.js';
import { classifyRun, startRun, type EndReason, type RunResult, type RunStatus } from '../../src/sandbox/runner.js';
import { runCode } from '../helpers/sandbox.js';

const base: RunResult = {
  status: 'internal_error',
  exit_code: null,
  signal: null,
  cpu_time_ms: 0,
  wall_time_ms: 0,
  memory_kb: 0,
  language: 'c',
  version: '1',
  limits_mechanism: 'rlimit',
};
const limits = { cpuTimeMs: 1000, wallTimeMs: 3000, memoryKb: 65536 };
const host = { cpu_time_ms: 7, wall_time_ms: 8, memory_kb: 9 };
const report = (p: Partial<PhaseReport>): PhaseReport => ({ exitCode: 0, signal: null, cpuUs: 123_400, wallUs: 456_700, maxRssKb: 789, wallLimitHit: false, ...p });

describe('result figures on every terminal status (classifyRun)', () => {
  const cases: Array<{ status: RunStatus; report: PhaseReport | null; endReason?: EndReason; oom?: boolean; cpu: number; wall: number; mem: number }> = [
    { status: 'ok', report: report({}), cpu: 123, wall: 457, mem: 789 },
    { status: 'runtime_error', report: report({ exitCode: 1 }), cpu: 123, wall: 457, mem: 789 },
    { status: 'runtime_error', report: report({ exitCode: null, signal: 11 }), cpu: 123, wall: 457, mem: 789 },
    { status: 'time_limit', report: report({ exitCode: null, signal: 24, cpuUs: 1_001_000 }), cpu: 1001, wall: 457, mem: 789 },
    { status: 'memory_limit', report: report({ exitCode: null, signal: 9, maxRssKb: 65000 }), oom: true, cpu: 123, wall: 457, mem: 65000 },
    { status: 'memory_limit', report: report({ exitCode: 3, maxRssKb: 64000 }), cpu: 123, wall: 457, mem: 64000 },
    { status: 'wall_time_limit', report: report({ exitCode: null, signal: 9, wallUs: 3_000_900, wallLimitHit: true }), cpu: 123, wall: 3001, mem: 789 },
    // Stopped by the host through ca-init: its report still carries the figures.
    { status: 'output_limit', report: report({ exitCode: null, signal: 9 }), endReason: 'output_limit', cpu: 123, wall: 457, mem: 789 },
    { status: 'killed', report: report({ exitCode: null, signal: 9 }), endReason: 'killed', cpu: 123, wall: 457, mem: 789 },
    // ca-init did not report (bwrap killed from outside): the host's own figures, never zeros.
    { status: 'output_limit', report: null, endReason: 'output_limit', cpu: 7, wall: 8, mem: 9 },
    { status: 'killed', report: null, endReason: 'killed', cpu: 7, wall: 8, mem: 9 },
    { status: 'wall_time_limit', report: null, endReason: 'wall_backstop', cpu: 7, wall: 3000, mem: 9 },
    { status: 'internal_error', report: null, cpu: 7, wall: 8, mem: 9 },
  ];
  for (const c of cases) {
    test(`${c.status}${c.report ? '' : ' without a report'}${c.endReason ? ` (${c.endReason})` : ''}`, () => {
      const r = classifyRun({ base, report: c.report, oom: c.oom ?? false, endReason: c.endReason ?? null, limits, hostFigures: host });
      assert.equal(r.status, c.status);
      assert.deepEqual([r.cpu_time_ms, r.wall_time_ms, r.memory_kb], [c.cpu, c.wall, c.mem]);
    });
  }
});

describe('result figures of runs the host ends (real sandboxes)', () => {
  test('an output flood ended by the cap reports its CPU time, wall time and peak memory', async () => {
    const src = '#include <stdio.h>\n#include <stdlib.h>\nint main(void){volatile char*p=malloc(8<<20);for(int i=0;i<(8<<20);i+=4096)p[i]=1;for(;;) puts("yes");}\n';
    const r = await runCode('c', src, { limits: { outputBytesMax: 2_000_000 } });
    assert.equal(r.result.status, 'output_limit');
    assert.ok(r.result.wall_time_ms > 0, JSON.stringify(r.result));
    assert.ok(r.result.cpu_time_ms > 0, JSON.stringify(r.result));
    assert.ok(r.result.memory_kb >= 8 * 1024, JSON.stringify(r.result));
    assert.equal(r.result.signal, 9);
  });

  test('a killed run reports its figures', async () => {
    const src = 'import time\nx = bytearray(16 << 20)\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\nprint("up", flush=True)\ntime.sleep(60)\n';
    const run = startRun({ language: findLanguage('python'), source: Buffer.from(src), interactive: false, limits: validateLimits({}) });
    run.endInput();
    const t0 = Date.now();
    for await (const c of run.chunks) if (c.data.toString().includes('up')) run.kill();
    const r = await run.result;
    assert.equal(r.status, 'killed');
    assert.ok(Date.now() - t0 < 10_000);
    assert.ok(r.cpu_time_ms >= 300, JSON.stringify(r)); // CPU seconds it burnt before printing
    assert.ok(r.wall_time_ms >= 300, JSON.stringify(r));
    assert.ok(r.memory_kb >= 16 * 1024, JSON.stringify(r));
  });

  test('an interactive run killed while its output is not read still ends, with figures', async () => {
    const src = 'import sys\nwhile True: sys.stdout.write("x" * 4096)\n';
    const run = startRun({ language: findLanguage('python'), source: Buffer.from(src), interactive: true, limits: validateLimits({}), queueChunksMax: 4 });
    await new Promise((res) => setTimeout(res, 1500));
    run.kill();
    const t0 = Date.now();
    const drained = (async () => {
      for await (const _ of run.chunks) void _;
    })();
    const r = await run.result;
    await drained;
    assert.equal(r.status, 'killed');
    assert.ok(Date.now() - t0 < 8000);
    assert.ok(r.wall_time_ms > 0, JSON.stringify(r));
  });
});
