// Sandbox start-up cost, measured side by side in one run: bare exec vs the sandbox.
// Each figure is the median (and p90) of RUNS runs; between runs the bench waits a little so the
// pool refills off the critical path, as it does between a Worker's runs.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findLanguage } from '../dist/src/sandbox/languages.js';
import { validateLimits } from '../dist/src/sandbox/limits.js';
import { startRun } from '../dist/src/sandbox/runner.js';
import { SandboxPool, SandboxProcess } from '../dist/src/sandbox/sandbox-process.js';

const RUNS = Number(process.env.RUNS ?? 40);
const GAP_MS = 40;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const limits = validateLimits({});
const sbOpts = { workDirKb: limits.workDirKb, tmpDirKb: limits.workDirKb };

async function measure(fn) {
  const times = [];
  for (let i = 0; i < RUNS + 3; i++) {
    await sleep(GAP_MS);
    const t0 = process.hrtime.bigint();
    await fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= 3) times.push(ms); // the first runs warm caches
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)], p90: times[Math.floor(times.length * 0.9)] };
}

const bare = (file, args) => () =>
  new Promise((res, rej) => execFile(file, args, (err) => (err ? rej(err) : res())));

const BASE_ENV = { PATH: '/usr/bin:/bin', HOME: '/work', LANG: 'C.UTF-8' };
/** One program in a sandbox: take a (pooled or fresh) sandbox, run, wait until it is gone. */
function sandboxed(argv, pool, files = []) {
  return async () => {
    const sb = pool ? await pool.take() : SandboxProcess.start(sbOpts);
    await sb.ready;
    for (const [name, content, mode] of files) sb.writeFile(name, content, mode);
    sb.child.stdout.resume();
    sb.child.stderr.resume();
    sb.child.stdin.end();
    const phase = { mode: 'pipes', argv, env: BASE_ENV, cpuTimeMs: 5000, wallTimeMs: 10000, addressSpaceKb: 0, fileSizeKb: 1024, openFilesMax: 64, processesMax: 0 };
    const report = await sb.runPhase(phase);
    if (report.exitCode !== 0) throw new Error(`${argv[0]} exited ${report.exitCode}`);
    await sb.closed();
  };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-bench-'));
const cSrc = path.join(dir, 'hello.c');
const cBin = path.join(dir, 'hello');
writeFileSync(cSrc, '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n');
execFileSync('gcc', ['-O2', '-o', cBin, cSrc]);
const cBinBytes = (await import('node:fs')).readFileSync(cBin);

const pool = new SandboxPool({ ...sbOpts, size: 2 });
pool.refill();
await sleep(300);

const rows = [];
async function row(name, bareFn, sbFn, freshFn) {
  const b = await measure(bareFn);
  const s = await measure(sbFn);
  const f = freshFn ? await measure(freshFn) : null;
  rows.push({ name, b, s, f });
}

await row('/bin/true', bare('/bin/true', []), sandboxed(['/bin/true'], pool), sandboxed(['/bin/true'], null));
await row('python3 -c pass', bare('/usr/bin/python3', ['-c', 'pass']), sandboxed(['/usr/bin/python3', '-c', 'pass'], pool), sandboxed(['/usr/bin/python3', '-c', 'pass'], null));
await row('compiled C hello', bare(cBin, []), sandboxed(['./hello'], pool, [['hello', cBinBytes, 0o755]]), sandboxed(['./hello'], null, [['hello', cBinBytes, 0o755]]));
// The whole runner path (limits, cgroup, chunks, result) for a Python hello world.
const py = findLanguage('python');
const runnerPy = async () => {
  const run = startRun({ language: py, source: Buffer.from('pass\n'), interactive: false, limits, pool });
  run.endInput();
  for await (const _ of run.chunks) { /* drain */ }
  const r = await run.result;
  if (r.status !== 'ok') throw new Error(r.status);
};
await row('python via runner (pool)', bare('/usr/bin/python3', ['-c', 'pass']), runnerPy, null);
await pool.stop();

const f = (x) => x.toFixed(2).padStart(7);
console.log(`sandbox bench: median (p90) of ${RUNS} runs, ms; pool of 2 started ahead; limits via ${(await import('../dist/src/sandbox/cgroups.js')).cgroupFactory().mechanism}`);
console.log('program                    bare            pooled sandbox    ratio  overhead   fresh bwrap (no pool)');
for (const { name, b, s, f: fr } of rows) {
  console.log(
    `${name.padEnd(26)} ${f(b.p50)} (${f(b.p90)}) ${f(s.p50)} (${f(s.p90)}) ${(s.p50 / b.p50).toFixed(2).padStart(5)}x ${f(s.p50 - b.p50)}   ${fr ? `${f(fr.p50)} (${(fr.p50 / b.p50).toFixed(2)}x)` : '-'}`,
  );
}
