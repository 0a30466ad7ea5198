// End-to-end cost of the cluster, measured side by side in one run (ratios, not absolute claims):
//  1. Python hello world: full stack (HTTP wait:true through Gateway, Monitor, Assigner, Worker)
//     vs the runner in-process (what `codearena exec` does, without its Node start-up) vs bare python3.
//  2. Throughput of trivial C runs with 2 Workers: through the stack vs a bare loop of sandboxed runs.
//  3. One run printing 100 MB: MB/s end to end (WebSocket) vs the same run via the runner.
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { findLanguage } from '../dist/src/sandbox/languages.js';
import { validateLimits } from '../dist/src/sandbox/limits.js';
import { startRun } from '../dist/src/sandbox/runner.js';
import { SandboxPool } from '../dist/src/sandbox/sandbox-process.js';

const RUNS = Number(process.env.RUNS ?? 100);
const CLI = fileURLToPath(new URL('../bin/codearena.js', import.meta.url));
const PORT = 18_580;
const url = `http://127.0.0.1:${PORT}`;
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

const up = spawn(process.execPath, [CLI, 'up', '--workers', '2', '--port', String(PORT), '--base-port', '18470'], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((resolve, reject) => {
  let out = '';
  up.stdout.on('data', (d) => {
    out += d;
    if (out.includes('listening on')) resolve();
  });
  up.once('exit', () => reject(new Error('up exited')));
});
const stopUp = () => new Promise((r) => { if (up.exitCode !== null) return r(); up.once('exit', r); up.kill('SIGTERM'); });
// Whatever happens to this script, the cluster it started goes too.
process.on('exit', () => up.kill('SIGTERM'));
process.on('uncaughtException', (err) => { console.error(err); process.exit(1); });
process.on('unhandledRejection', (err) => { console.error(err); process.exit(1); });

async function viaStack(body) {
  const r = await fetch(`${url}/api/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, wait: true }) });
  const j = await r.json();
  if (j.status !== 'ok') throw new Error(JSON.stringify(j).slice(0, 300));
  return j;
}
const limits = validateLimits({});
const pool = new SandboxPool({ workDirKb: limits.workDirKb, tmpDirKb: limits.workDirKb, size: 2 });
pool.refill();
async function viaRunner(lang, source, extra = {}) {
  const run = startRun({ language: findLanguage(lang), source: Buffer.from(source), interactive: false, limits: validateLimits(extra), pool });
  run.endInput();
  let bytes = 0;
  for await (const c of run.chunks) bytes += c.data.length;
  const r = await run.result;
  if (r.status !== 'ok') throw new Error(r.status);
  return bytes;
}
const bare = () => new Promise((res, rej) => execFile('/usr/bin/python3', ['-c', 'print("hello")'], (e) => (e ? rej(e) : res())));

// 1. latency
const HELLO = 'print("hello")\n';
for (let i = 0; i < 5; i++) { await viaStack({ language: 'python', source: HELLO }); await viaRunner('python', HELLO); await bare(); }
const lat = { stack: [], runner: [], bare: [] };
for (let i = 0; i < RUNS; i++) {
  let t = process.hrtime.bigint(); await bare(); lat.bare.push(ms(t));
  await new Promise((r) => setTimeout(r, 20));
  t = process.hrtime.bigint(); await viaRunner('python', HELLO); lat.runner.push(ms(t));
  await new Promise((r) => setTimeout(r, 20));
  t = process.hrtime.bigint(); await viaStack({ language: 'python', source: HELLO }); lat.stack.push(ms(t));
  await new Promise((r) => setTimeout(r, 20));
}
const b50 = pct(lat.bare, 0.5);
console.log(`1. Python hello world, ${RUNS} runs each, ms          p50      p99   p50 ratio to bare`);
for (const [k, xs] of [['bare python3', lat.bare], ['runner in-process (exec)', lat.runner], ['full stack (HTTP wait)', lat.stack]]) {
  console.log(`   ${k.padEnd(44)} ${pct(xs, 0.5).toFixed(1).padStart(7)} ${pct(xs, 0.99).toFixed(1).padStart(8)}   ${(pct(xs, 0.5) / b50).toFixed(2)}x`);
}

// 2. throughput
const C0 = 'int main(void){return 0;}\n';
const N = Number(process.env.THROUGHPUT_RUNS ?? 60);
async function throughput(fn, concurrency) {
  let next = 0;
  const t = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next++ < N) await fn(); }));
  return N / (ms(t) / 1000);
}
const bareLoop = await throughput(() => viaRunner('c', C0), 2);
const stackRate = await throughput(() => viaStack({ language: 'c', source: C0 }), 4);
console.log(`2. trivial C runs (compile + run), ${N} runs: sandboxed loop (2 at a time) ${bareLoop.toFixed(1)} runs/s; full stack with 2 Workers ${stackRate.toFixed(1)} runs/s = ${((stackRate / bareLoop) * 100).toFixed(0)}%`);

// 3. 100 MB of output
const BIG = 'import sys\nb = b"x" * 1048575 + b"\\n"\nfor _ in range(100): sys.stdout.buffer.write(b)\n';
const OUT = 100 * 1048576;
let t = process.hrtime.bigint();
const got = await viaRunner('python', BIG, { outputBytesMax: 128 * 1048576 });
const runnerMBs = got / 1048576 / (ms(t) / 1000);
t = process.hrtime.bigint();
const wsBytes = await new Promise((resolve, reject) => {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/runs/stream`);
  ws.on('error', reject);
  let n = 0;
  ws.on('open', () => ws.send(JSON.stringify({ type: 'start', language: 'python', source: BIG, interactive: false, output_limit: 128 * 1048576 })));
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    if (m.type === 'output') n += Buffer.from(m.data, 'base64').length;
    else if (m.type === 'exit') { ws.close(); m.result.status === 'ok' ? resolve(n) : reject(new Error(m.result.status)); }
    else if (m.type === 'error') reject(new Error(m.message));
  });
});
const stackMBs = wsBytes / 1048576 / (ms(t) / 1000);
if (got !== OUT || wsBytes !== OUT) console.log(`   (bytes: runner ${got}, stack ${wsBytes}, expected ${OUT})`);
console.log(`3. one run printing 100 MB: runner ${runnerMBs.toFixed(0)} MB/s; full stack over WebSocket ${stackMBs.toFixed(1)} MB/s (${((stackMBs / runnerMBs) * 100).toFixed(0)}%)`);

await pool.stop();
await stopUp();
