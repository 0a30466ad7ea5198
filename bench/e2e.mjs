// End-to-end cost of the cluster, measured side by side in one run (ratios, not absolute claims):
//  1. Python hello world: full stack (HTTP wait:true through Gateway, Monitor, Assigner, Worker)
//     vs the runner in-process (what `codearena exec` does, without its Node start-up) vs bare python3.
//  2. Throughput of trivial C runs with 2 Workers: through the stack vs a bare loop of sandboxed runs.
//  3. One run printing 100 MB: MB/s end to end (WebSocket) vs the same run via the runner.
//  4. 100 concurrent interactive runs, each echoing a line sent every 100 ms: stdin -> output latency
//     (on a second cluster: 8 Worker processes taking 13 runs each), vs one such run alone.
//  5. Worker process memory (RSS and PSS from /proc) idle, and busy during 4.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { startUp as startCluster } from './up.mjs';
import { findLanguage } from '../dist/src/sandbox/languages.js';
import { validateLimits } from '../dist/src/sandbox/limits.js';
import { startRun } from '../dist/src/sandbox/runner.js';
import { SandboxPool } from '../dist/src/sandbox/sandbox-process.js';

const RUNS = Number(process.env.RUNS ?? 100);
const PORT = 18_580;
let url = `http://127.0.0.1:${PORT}`;
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

async function startUp(args, port = PORT, basePort = 18_470) {
  const cluster = await startCluster({ args, port, basePort });
  url = cluster.url;
  return cluster;
}
let up = await startUp(['--workers', '2']);
const stopUp = () => up.stop();
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
// The stack first (three times, the median counts), then the runner: the runner's 100 MB passes
// through this process and its garbage would slow the WebSocket client measured after it.
const BIG_TRIES = 3;
function viaWebSocket(binary) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/runs/stream`);
    ws.on('error', reject);
    let n = 0;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'start', language: 'python', source: BIG, interactive: false, output_limit: 128 * 1048576, binary_output: binary })));
    ws.on('message', (d, isBinary) => {
      if (isBinary) {
        n += d.length - 9; // channel byte, first_seq, seq
        return;
      }
      const m = JSON.parse(d.toString());
      if (m.type === 'output') n += Buffer.from(m.data, 'base64').length;
      else if (m.type === 'exit') { ws.close(); m.result.status === 'ok' ? resolve(n) : reject(new Error(m.result.status)); }
      else if (m.type === 'error') reject(new Error(m.message));
    });
  });
}
const stackRates = [];
const binaryRates = [];
for (let i = 0; i < BIG_TRIES; i++) {
  for (const binary of [false, true]) {
    const t = process.hrtime.bigint();
    const wsBytes = await viaWebSocket(binary);
    if (wsBytes !== OUT) console.log(`   (bytes: stack ${wsBytes}, expected ${OUT})`);
    (binary ? binaryRates : stackRates).push(wsBytes / 1048576 / (ms(t) / 1000));
  }
}
let t = process.hrtime.bigint();
const got = await viaRunner('python', BIG, { outputBytesMax: 128 * 1048576 });
const runnerMBs = got / 1048576 / (ms(t) / 1000);
if (got !== OUT) console.log(`   (bytes: runner ${got}, expected ${OUT})`);
const stackMBs = pct(stackRates, 0.5);
console.log(`3. one run printing 100 MB: runner ${runnerMBs.toFixed(0)} MB/s; full stack over WebSocket ${stackMBs.toFixed(1)} MB/s as JSON (median of ${BIG_TRIES}: ${stackRates.map((r) => r.toFixed(1)).join(', ')}), ${pct(binaryRates, 0.5).toFixed(1)} MB/s as binary frames (${binaryRates.map((r) => r.toFixed(1)).join(', ')})`);

await pool.stop();
await stopUp();

// 4 and 5: many interactive runs at once, on Workers that take 25 runs each.
// It says "ready" once running, so the lines are timed from then. Python, not C: 100 compiles at
// once would take this 2-core machine ~15 s of CPU before the first line.
const ECHO = 'import sys\nprint("ready", flush=True)\nfor line in sys.stdin:\n    print(line, end="", flush=True)\n';
const SESSIONS = Number(process.env.SESSIONS ?? 100);
const LINES = Number(process.env.LINES ?? 50);
// Ports of its own: the first cluster's may not all be free again yet.
const HOSTS = 8; // Worker processes; each takes up to 16 runs
up = await startUp(['--workers', String(HOSTS), '--slots', String(Math.ceil(SESSIONS / HOSTS)), '--queue-max', String(SESSIONS * 2)], PORT + 200, 18_600);
async function workerPids() {
  const view = await (await fetch(`${url}/api/v1/cluster`)).json();
  return view.nodes.filter((n) => /-w\d+$/.test(n.name) && n.pid).map((n) => n.pid);
}
function memoryOf(pids) {
  const kb = (text, key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  const rows = pids.map((pid) => {
    const smaps = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    // USS: pages only this process holds — what one more Worker process costs the PC.
    return { rss: kb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS') / 1024, pss: kb(smaps, 'Pss') / 1024, uss: (kb(smaps, 'Private_Clean') + kb(smaps, 'Private_Dirty')) / 1024 };
  });
  return { rss: Math.max(...rows.map((r) => r.rss)), pss: Math.max(...rows.map((r) => r.pss)), uss: Math.max(...rows.map((r) => r.uss)) };
}
// Each Worker process fills a pool of 14 sandboxes at start: let 8 of them finish on 2 cores.
await new Promise((r) => setTimeout(r, 20_000));
const pids = await workerPids();
const idle = memoryOf(pids);

/** One interactive session: sends a numbered line every 100 ms, times each until its echo arrives. */
function session(lines, samples) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/runs/stream`);
    const sentAt = new Map();
    let text = '';
    let sent = 0;
    let timer = null;
    // Bounded: a session whose run never ends (its Gateway gone, say) fails the bench instead of
    // holding it for ever. 60 s past its lines is far beyond any run that works.
    const giveUp = setTimeout(() => {
      clearInterval(timer);
      ws.terminate();
      reject(new Error(`a session got no exit within ${(lines * 100 + 60_000) / 1000} s (${sent} of ${lines} lines sent)`));
    }, lines * 100 + 60_000);
    const fail = (err) => { clearTimeout(giveUp); clearInterval(timer); reject(err); };
    ws.on('error', fail);
    ws.on('close', () => fail(new Error(`the session's WebSocket closed before the run's exit (${sent} of ${lines} lines sent)`)));
    ws.on('open', () => ws.send(JSON.stringify({ type: 'start', language: 'python', source: ECHO, interactive: true, wall_time_limit: 120 })));
    const sendOne = () => {
      if (sent === lines) { clearInterval(timer); ws.send(JSON.stringify({ type: 'eof' })); return; }
      const line = `line ${++sent}`;
      sentAt.set(line, process.hrtime.bigint());
      ws.send(JSON.stringify({ type: 'stdin', data: `${line}\n` }));
    };
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'output') {
        text += Buffer.from(m.data, 'base64').toString();
        let nl;
        while ((nl = text.indexOf('\n')) >= 0) {
          const line = text.slice(0, nl).replace(/\r$/, '');
          text = text.slice(nl + 1);
          if (line === 'ready' && timer === null) timer = setInterval(sendOne, 100);
          const t0 = sentAt.get(line);
          if (t0 !== undefined) { samples.push(ms(t0)); sentAt.delete(line); }
        }
      } else if (m.type === 'exit') {
        clearTimeout(giveUp);
        clearInterval(timer);
        ws.removeAllListeners('close');
        ws.close();
        if (sentAt.size > 0) return reject(new Error(`${sentAt.size} lines never came back (${m.result.status})`));
        resolve();
      } else if (m.type === 'error') fail(new Error(m.message));
    });
  });
}
const alone = [];
await session(LINES, alone);
const loaded = [];
let busy = { rss: 0, pss: 0, uss: 0 };
const sampler = setInterval(() => { try { const m = memoryOf(pids); busy = { rss: Math.max(busy.rss, m.rss), pss: Math.max(busy.pss, m.pss), uss: Math.max(busy.uss, m.uss) }; } catch {} }, 250);
await Promise.all(Array.from({ length: SESSIONS }, () => session(LINES, loaded)));
clearInterval(sampler);
console.log(`4. interactive echo, a line every 100 ms, stdin -> output latency in ms     p50     p99   (lines)`);
console.log(`   one session alone                                              ${pct(alone, 0.5).toFixed(1).padStart(6)} ${pct(alone, 0.99).toFixed(1).padStart(7)}   ${alone.length}`);
console.log(`   ${String(SESSIONS).padStart(3)} sessions at once                                          ${pct(loaded, 0.5).toFixed(1).padStart(6)} ${pct(loaded, 0.99).toFixed(1).padStart(7)}   ${loaded.length}`);
const mem = (m) => `RSS ${m.rss.toFixed(1)} / PSS ${m.pss.toFixed(1)} / USS ${m.uss.toFixed(1)}`;
console.log(`5. Worker process memory, MB (largest of ${pids.length} Workers): idle ${mem(idle)}; busy (${Math.ceil(SESSIONS / HOSTS)} runs each) ${mem(busy)}`);
await stopUp();
// The floor under any Worker process: this Node, idle, with one idle worker_threads thread (the
// heartbeat thread the design asks for) and nothing else loaded.
const floorChild = spawn(process.execPath, ['-e', "new (require('node:worker_threads').Worker)('setInterval(() => {}, 1000)', { eval: true }); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 2000));
const floor = memoryOf([floorChild.pid]);
floorChild.kill();
console.log(`   floor: a bare Node ${process.versions.node} process with one idle worker thread: ${mem(floor)}`);
