// The seated user first, shown (issue 16, item 4). A "person at the PC" runs a CPU hog (one busy
// Python loop per core) and a memory hog (a Python process holding MEM_MB and writing through every
// page of it) on the machine a `codearena up --workers 2` cluster lives on. Measured, in one run:
//
//   A  the hogs alone (no cloud work)                                  — their throughput: the baseline
//   B  the hogs while the cloud is kept busy with CPU-bound batch runs  — the same, plus what the
//      Worker did: its pressure (PSI) as the Gateway shows it, when it stopped taking runs, which
//      of its batch runs it stopped (evicted) and where they finished
//   C  the hogs beside the same programs started directly at nice 0     — what the cloud's runs would
//      cost without nice 19 and the idle I/O class
//
// Two Worker processes on one host: wrk-1-w0 reads this machine's real pressure (/proc/pressure minus
// CodeArena's own cgroup where there is one); wrk-1-w1 stands for another lab PC with nobody seated:
// its pressure is pinned to 0 through the test hook CODEARENA_PSI_OVERRIDE_DIR. It still runs on
// this machine's CPUs — so B's hog figures count its runs too, niced like every sandboxed run.
//
// Environment: PHASE_S (default 12) per phase, ROUNDS (2: the phases run A B C, ROUNDS times, since
// the machine is shared and its load drifts), MEM_MB (512), FEED (4 runs in flight), PORT/BASE_PORT.
// Each phase also reports the CPU pressure over it: the machine's (/proc/pressure/cpu) and that of
// CodeArena's own cgroup v2 group, which a Worker subtracts (src/worker/psi.ts).
// Throughput is the hogs' own work counters (loop iterations, passes over the memory) per second.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startUp } from './up.mjs';

const PHASE_S = Number(process.env.PHASE_S ?? 12);
const MEM_MB = Number(process.env.MEM_MB ?? 512);
const FEED = Number(process.env.FEED ?? 4);
const PORT = Number(process.env.PORT ?? 18_880);
const BASE_PORT = Number(process.env.BASE_PORT ?? 18_860);
const PYTHON = '/usr/bin/python3';
const CORES = os.availableParallelism();
process.on('unhandledRejection', (err) => { console.error(err); process.exit(1); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A cloud run's program and the nice-0 twin of phase C: one CPU-second of busy Python.
const BUSY_SRC = 'import time\nt = time.process_time()\nwhile time.process_time() - t < 1.0: pass\nprint("done")\n';
const CPU_HOG = 'import sys, time\nend = time.time() + float(sys.argv[1])\nn = 0\nwhile time.time() < end:\n    for _ in range(20000): pass\n    n += 1\nprint(n * 20000)\n';
// The memory hog touches every page once before its clock starts: the passes timed are over memory it holds.
const MEM_HOG = `import sys, time\nb = bytearray(${MEM_MB} << 20)\nb[::4096] = bytes([1]) * len(range(0, len(b), 4096))\nend = time.time() + float(sys.argv[1])\nn = 0\nwhile time.time() < end:\n    b[::4096] = bytes([n & 255]) * len(range(0, len(b), 4096))\n    n += 1\nprint(n)\n`;

function runPython(src, args = [], opts = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, ['-c', src, ...args], { stdio: ['ignore', 'pipe', 'inherit'], ...opts });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`hog exited ${code}`))));
  });
}

/** The `some` total (µs stalled) of a PSI file; null where it cannot be read. */
function psiTotalUs(file) {
  try {
    return Number(/^some .*total=(\d+)/m.exec(readFileSync(file, 'utf8'))?.[1]);
  } catch {
    return null;
  }
}
// CodeArena's own processes' group (src/worker/accounting.ts): the Workers subtract its pressure.
const OWN_GROUP = '/sys/fs/cgroup/unified/codearena-local/cpu.pressure';

/**
 * The seated user's work for PHASE_S seconds: returns iterations/s (all CPU hogs), passes/s, and the
 * CPU pressure over the phase: the machine's (/proc/pressure/cpu) and CodeArena's own group's.
 */
async function hogs() {
  const t0 = performance.now();
  const m0 = psiTotalUs('/proc/pressure/cpu');
  const o0 = psiTotalUs(OWN_GROUP);
  const cpu = Array.from({ length: CORES }, () => runPython(CPU_HOG, [String(PHASE_S)]));
  const mem = runPython(MEM_HOG, [String(PHASE_S)]);
  const [its, passes] = await Promise.all([Promise.all(cpu).then((xs) => xs.reduce((a, b) => a + b, 0)), mem]);
  const spanUs = (performance.now() - t0) * 1000;
  const share = (a, b) => (a === null || b === null ? null : (b - a) / spanUs);
  return { cpuMitPerS: its / PHASE_S / 1e6, memPassesPerS: passes / PHASE_S, machinePsi: share(m0, psiTotalUs('/proc/pressure/cpu')), ownPsi: share(o0, psiTotalUs(OWN_GROUP)) };
}

const psiDir = mkdtempSync(path.join(os.tmpdir(), 'codearena-seated-psi-'));
writeFileSync(path.join(psiDir, 'wrk-1-w1.json'), JSON.stringify({ cpu: 0, memory: 0, io: 0 }));
process.env.CODEARENA_PSI_OVERRIDE_DIR = psiDir;
const hasPsi = readdirSync('/proc').includes('pressure');
const load0 = os.loadavg();
console.log(`seated: ${CORES} cores, /proc/pressure ${hasPsi ? 'present' : 'ABSENT (no PSI: Workers see pressure 0 and never refuse)'}; phases of ${PHASE_S} s; load average at start ${load0.map((x) => x.toFixed(1)).join(' ')}`);

let up;
for (let attempt = 1; !up; attempt++) {
  try {
    up = await startUp({ args: ['--workers', '2'], port: PORT, basePort: BASE_PORT });
  } catch (err) {
    if (attempt >= 3) throw err;
    console.log(`  (start-up ${attempt} failed under load; starting again)`);
  }
}
const config = JSON.parse(readFileSync(path.join(up.logDir, 'lab.json'), 'utf8'));
const acceptBelow = config.psi?.acceptBelow ?? 0.6;
const pauseAbove = config.psi?.pauseAbove ?? 0.9;

/** The Gateway's view of the two Worker processes: their worst pressure (null: not heard yet). */
async function workerPressure() {
  const view = await (await fetch(`${up.url}/api/v1/cluster`)).json();
  const out = {};
  for (const n of view.nodes) if (n.role === 'worker' && /-w\d+$/.test(n.name)) out[n.name] = n.load ? Math.max(n.load.psi_cpu, n.load.psi_memory, n.load.psi_io) : null;
  return out;
}

/** Keeps FEED batch runs in flight until stopped; records where each ran and how it ended. */
function feeder() {
  const runs = [];
  let stopping = false;
  const loops = Array.from({ length: FEED }, async () => {
    while (!stopping) {
      const at = performance.now();
      try {
        const r = await fetch(`${up.url}/api/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ language: 'python', source: BUSY_SRC, cpu_time_limit: 5, wall_time_limit: 60, interactive: false, wait: true }) });
        const j = await r.json();
        runs.push({ at, end: performance.now(), status: j.status ?? `http ${r.status}`, worker: j.worker ?? null, id: j.id });
      } catch (err) {
        runs.push({ at, end: performance.now(), status: `error ${err.message}`, worker: null });
      }
    }
  });
  return { runs, stop: async () => { stopping = true; await Promise.all(loops); } };
}

/** Phase C's load: the same programs, FEED... no: as many at once as the cloud's slots (2), at nice 0. */
function directTwins() {
  let stopping = false;
  let done = 0;
  const loops = Array.from({ length: 2 }, async () => {
    while (!stopping) {
      await new Promise((res) => spawn(PYTHON, ['-c', BUSY_SRC], { stdio: 'ignore' }).on('exit', res));
      done++;
    }
  });
  return { stop: async () => { stopping = true; await Promise.all(loops); return done; } };
}

function evictions() {
  const out = [];
  for (const f of readdirSync(up.logDir).filter((x) => x.endsWith('.log'))) {
    for (const line of readFileSync(path.join(up.logDir, f), 'utf8').split('\n')) {
      if (!line.includes('"evicted"')) continue;
      try { const j = JSON.parse(line); out.push({ time: j.time, run: j.run, pressure: j.pressure }); } catch { /* a torn last line */ }
    }
  }
  return out;
}

const fmt = (x, d = 2) => (x === null || x === undefined ? '—' : x.toFixed(d));
try {
  await sleep(8_000); // elections, first heartbeats, sandbox pools
  const before = await workerPressure();
  console.log(`  pressure before anything (as the Gateway shows it): ${Object.entries(before).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}; accept below ${acceptBelow}, evict batch runs above ${pauseAbove}`);

  const ROUNDS = Number(process.env.ROUNDS ?? 2);
  const results = { A: [], B: [], C: [] };
  let timeline = [];
  let feedRuns = [];
  let evicted = [];
  let duringRuns = [];
  let busyBefore = {};
  let twinsDone = 0;
  // Phases interleaved (A B C, ROUNDS times): the machine is shared, and its load drifts.
  for (let round = 0; round < ROUNDS; round++) {
    results.A.push(await hogs());

    // B: the cloud busy first (so w0 holds runs when the person sits down), then the hogs.
    const feed = feeder();
    await sleep(4_000);
    const before = await workerPressure();
    const hogStart = performance.now();
    const hogStartEpoch = Date.now();
    const samples = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push({ t: (performance.now() - hogStart) / 1000, p: await workerPressure().catch(() => ({})) });
        await sleep(250);
      }
    })();
    results.B.push(await hogs());
    sampling = false;
    await sampler;
    await feed.stop();
    if (round === 0) {
      busyBefore = before;
      timeline = samples;
    }
    feedRuns = feedRuns.concat(feed.runs);
    duringRuns = duringRuns.concat(feed.runs.filter((r) => r.at >= hogStart));
    evicted = evicted.concat(evictions().filter((e) => e.time >= hogStartEpoch - 1000 && !evicted.some((x) => x.run === e.run)));

    const twins = directTwins();
    results.C.push(await hogs());
    twinsDone += await twins.stop();
  }
  const loadEnd = os.loadavg();
  const feedRunsAll = feedRuns;
  const w0 = (s) => s.p['wrk-1-w0'];
  const refusedAt = timeline.find((s) => w0(s) !== null && w0(s) !== undefined && w0(s) >= acceptBelow)?.t;
  const evictAt = timeline.find((s) => w0(s) !== null && w0(s) !== undefined && w0(s) >= pauseAbove)?.t;
  const placed = (rs, w) => rs.filter((r) => r.worker === w).length;
  console.log(`\n  B: cloud busy (${FEED} batch runs in flight) from 4 s before the hogs; wrk-1-w0's pressure before the hogs ${fmt(busyBefore['wrk-1-w0'])} (first round)`);
  console.log(`     wrk-1-w0 pressure over the first B phase (s: value): ${timeline.filter((_, i) => i % 4 === 0).map((s) => `${s.t.toFixed(1)}: ${fmt(w0(s))}`).join(', ')}`);
  console.log(`     at or above accept bound ${acceptBelow} from ${refusedAt === undefined ? 'never' : `${refusedAt.toFixed(1)} s`} after the hogs started; above the eviction bound ${pauseAbove} from ${evictAt === undefined ? 'never' : `${evictAt.toFixed(1)} s`}`);
  console.log(`     runs started during the hogs: ${duringRuns.length} (${placed(duringRuns, 'wrk-1-w0')} finished on wrk-1-w0, ${placed(duringRuns, 'wrk-1-w1')} on wrk-1-w1); all runs: ${feedRunsAll.length}, ${feedRunsAll.filter((r) => r.status !== 'ok').length} not ok (${[...new Set(feedRunsAll.filter((r) => r.status !== 'ok').map((r) => r.status))].join(', ') || '-'})`);
  console.log(`     evictions logged during the hogs: ${evicted.length}${evicted.length ? ` (pressure ${evicted.map((e) => fmt(e.pressure)).join(', ')}; ${evicted.map((e) => { const r = feedRunsAll.find((x) => x.id === e.run); return r ? `${e.run.slice(0, 8)} ended ${r.status} on ${r.worker}` : `${e.run.slice(0, 8)} ?`; }).join('; ')})` : ''}`);
  const mean = (xs, f) => { const v = xs.map(f).filter((x) => x !== null); return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null; };
  const base = { cpu: mean(results.A, (x) => x.cpuMitPerS), mem: mean(results.A, (x) => x.memPassesPerS) };
  console.log(`\n  ${'seated user\'s throughput (mean of ' + ROUNDS + ' phases; each phase\'s own in brackets)'.padEnd(70)} ${'CPU hogs Mit/s'.padStart(15)} ${'memory passes/s'.padStart(16)}  machine CPU PSI  CodeArena group CPU PSI`);
  const row = (name, xs) => {
    const cpu = mean(xs, (x) => x.cpuMitPerS), mem = mean(xs, (x) => x.memPassesPerS);
    console.log(`  ${name.padEnd(70)} ${`${fmt(cpu)} (${((cpu / base.cpu) * 100).toFixed(0)}%)`.padStart(15)} ${`${fmt(mem, 1)} (${((mem / base.mem) * 100).toFixed(0)}%)`.padStart(16)}  ${fmt(mean(xs, (x) => x.machinePsi)).padStart(15)}  ${fmt(mean(xs, (x) => x.ownPsi)).padStart(23)}`);
    console.log(`  ${''.padEnd(70)} [${xs.map((x) => `${fmt(x.cpuMitPerS)} / ${fmt(x.memPassesPerS, 1)}`).join('; ')}]`);
  };
  row('A  hogs alone', results.A);
  row('B  hogs + cloud busy (sandboxed runs: nice 19, idle I/O)', results.B);
  row(`C  hogs + the same programs at nice 0, 2 at once (${twinsDone} ran)`, results.C);
  console.log(`  (percentages against A's mean; load average at the end ${loadEnd.map((x) => x.toFixed(1)).join(' ')})`);
} finally {
  await up.stop();
  rmSync(psiDir, { recursive: true, force: true });
}
