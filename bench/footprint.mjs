// What the cloud costs the PC it lives on, per role (issue 16): a `codearena up` cluster left idle
// for IDLE_S seconds, then under a steady light load (one small Python run every LOAD_EVERY_MS, LOAD_RUNS
// of them), and in the same run two floors: a bare Node process with one idle worker thread, and
// a process that wakes as an idle Worker process must (floor-shape.mjs) with none of its work.
//
// Per process, from /proc:
//   USS, PSS      /proc/PID/smaps_rollup (Private_Clean+Private_Dirty; Pss) at the window's end
//   CPU ms/s      utime+stime of /proc/PID/stat over the window (CPU time consumed, not share of a core)
//   wake-ups/s    voluntary+nonvoluntary ctxt switches of every thread (/proc/PID/task/*/status)
//   link KB/s     bytes_sent+bytes_received of the process's established TCP sockets (`ss -tinp`),
//                 the HTTP ports excluded: the cluster links only. A socket closed during the window
//                 drops out (the figure is a lower bound then).
// The heartbeat thread is read from /proc/PID/task/TID (its TID is in its start-up log line): its CPU
// and wake-ups are part of its Worker process's; memory is per process only.
//
// The idle 8-core lab PC total is derived from per-process figures (not measured on such a PC):
// one Worker host (the node agent that runs the Worker host role) + 8 × the mean Worker process.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startUp } from './up.mjs';

const IDLE_S = Number(process.env.IDLE_S ?? 30);
const LOAD_RUNS = Number(process.env.LOAD_RUNS ?? 40);
const LOAD_EVERY_MS = Number(process.env.LOAD_EVERY_MS ?? 500);
const SETTLE_S = Number(process.env.SETTLE_S ?? 15);
const WORKERS = Number(process.env.WORKERS ?? os.availableParallelism());
const PORT = Number(process.env.PORT ?? 18_780);
const BASE_PORT = Number(process.env.BASE_PORT ?? 18_760);
const CLK_TCK = 100; // getconf CLK_TCK on Linux
process.on('unhandledRejection', (err) => { console.error(err); process.exit(1); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const read = (p) => { try { return readFileSync(p, 'utf8'); } catch { return ''; } };

/** utime+stime in ms of a /proc/.../stat file (fields after the command's closing parenthesis). */
function cpuMs(statPath) {
  const s = read(statPath);
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}
function switches(statusPath) {
  const s = read(statusPath);
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1] ?? 0) + Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1] ?? 0);
}
function wakeups(pid) {
  let n = 0;
  for (const t of readdirSync(`/proc/${pid}/task`, { withFileTypes: false })) n += switches(`/proc/${pid}/task/${t}/status`);
  return n;
}
function memKb(pid) {
  const s = read(`/proc/${pid}/smaps_rollup`);
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { uss: kb('Private_Clean') + kb('Private_Dirty'), pss: kb('Pss'), rss: kb('Rss') };
}
/** TCP bytes per pid, the given (HTTP) ports excluded. */
function tcpBytes(excludePorts) {
  const out = execFileSync('ss', ['-tinpH', 'state', 'established'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const byPid = new Map();
  const lines = out.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const head = lines[i];
    const pid = /pid=(\d+)/.exec(head)?.[1];
    if (!pid) continue;
    const ports = [...head.matchAll(/:(\d+)\s/g)].map((m) => Number(m[1]));
    const info = lines[i + 1] ?? '';
    if (ports.some((p) => excludePorts.includes(p))) continue;
    const b = Number(/bytes_sent:(\d+)/.exec(info)?.[1] ?? 0) + Number(/bytes_received:(\d+)/.exec(info)?.[1] ?? 0);
    for (const m of head.matchAll(/pid=(\d+)/g)) byPid.set(Number(m[1]), (byPid.get(Number(m[1])) ?? 0) + b);
  }
  return byPid;
}
function children(pid) {
  const out = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    for (const c of read(`/proc/${pid}/task/${t}/children`).split(' ').filter(Boolean)) out.push(Number(c));
  }
  return out;
}
const argv = (pid) => read(`/proc/${pid}/cmdline`).split('\0');
const argAfter = (a, flag) => a[a.indexOf(flag) + 1];

/** Everything measured at one instant, per tracked process (and thread). */
function snapshot(procs, excludePorts) {
  const tcp = tcpBytes(excludePorts);
  const at = performance.now();
  return new Map(procs.map((p) => [p.key, {
    at,
    cpu: p.tid ? cpuMs(`/proc/${p.pid}/task/${p.tid}/stat`) : cpuMs(`/proc/${p.pid}/stat`),
    wake: p.tid ? switches(`/proc/${p.pid}/task/${p.tid}/status`) : wakeups(p.pid),
    io: p.tid ? null : tcp.get(p.pid) ?? 0,
  }]));
}
function window(procs, a, b) {
  return procs.map((p) => {
    const x = a.get(p.key), y = b.get(p.key);
    const s = (y.at - x.at) / 1000;
    return { ...p, cpuMsPerS: (y.cpu - x.cpu) / s, wakePerS: (y.wake - x.wake) / s, linkKBps: x.io === null ? null : (y.io - x.io) / 1024 / s, mem: p.tid ? null : memKb(p.pid) };
  });
}

const FLOOR = 'floor (bare Node + 1 idle worker thread)';
const SHAPE = "floor: an idle Worker's wake-ups, no CodeArena code";
const SHAPE_SINK = 'floor: its stand-in Monitor';
const ROLE_ORDER = ['gateway', 'monitor', 'assigner', 'worker host', 'worker process', 'heartbeat thread', 'empty', FLOOR, SHAPE, SHAPE_SINK];
const f1 = (x) => (x === null || x === undefined ? '—' : x.toFixed(1));
const range = (xs) => (xs.length === 0 ? '—' : xs.length === 1 || Math.min(...xs).toFixed(1) === Math.max(...xs).toFixed(1) ? f1(xs[0]) : `${f1(Math.min(...xs))}–${f1(Math.max(...xs))}`);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
function table(title, rows) {
  console.log(`\n${title}`);
  console.log(`  ${'role'.padEnd(52)} ${'n'.padStart(2)}  ${'USS MB'.padStart(11)} ${'PSS MB'.padStart(11)} ${'CPU ms/s'.padStart(11)} ${'wake-ups/s'.padStart(11)} ${'link KB/s'.padStart(11)}`);
  for (const role of ROLE_ORDER) {
    const rs = rows.filter((r) => r.role === role);
    if (rs.length === 0) continue;
    const mem = rs.filter((r) => r.mem);
    console.log(`  ${role.padEnd(52)} ${String(rs.length).padStart(2)}  ${range(mem.map((r) => r.mem.uss / 1024)).padStart(11)} ${range(mem.map((r) => r.mem.pss / 1024)).padStart(11)} ${range(rs.map((r) => r.cpuMsPerS)).padStart(11)} ${range(rs.map((r) => r.wakePerS)).padStart(11)} ${range(rs.filter((r) => r.linkKBps !== null).map((r) => r.linkKBps)).padStart(11)}`);
  }
}
function labPc(rows, what) {
  const host = rows.filter((r) => r.role === 'worker host');
  const wp = rows.filter((r) => r.role === 'worker process');
  const sum = (f) => mean(host.map(f)) + 8 * mean(wp.map(f));
  const cpu = sum((r) => r.cpuMsPerS);
  console.log(`  ${what} 8-core lab PC (derived: 1 Worker host incl. its agent + 8 × mean Worker process): USS ${(sum((r) => r.mem.uss) / 1024).toFixed(0)} MB, PSS ${(sum((r) => r.mem.pss) / 1024).toFixed(0)} MB, CPU ${cpu.toFixed(1)} ms/s = ${(cpu / 10).toFixed(2)}% of one core, ${sum((r) => r.wakePerS).toFixed(0)} wake-ups/s`);
}

const load0 = os.loadavg();
console.log(`footprint: codearena up --workers ${WORKERS}; settle ${SETTLE_S} s, idle ${IDLE_S} s, then ${LOAD_RUNS} Python runs, one every ${LOAD_EVERY_MS} ms; load average at start ${load0.map((x) => x.toFixed(1)).join(' ')} on ${os.availableParallelism()} cores`);

// The floor: Node with one idle worker thread, nothing loaded.
const floor = spawn(process.execPath, ['-e', "new (require('node:worker_threads').Worker)('setInterval(()=>{},1e9)',{eval:true}); setInterval(()=>{},1e9)"], { stdio: 'ignore' });
// The floor of the Worker process's wake-up pattern: its heartbeats, acks and pings with none of
// its work (floor-shape.mjs), beside a stand-in Monitor that acks every other heartbeat.
const shapeDir = mkdtempSync(path.join(os.tmpdir(), 'footprint-shape-'));
const shapeScript = new URL('./floor-shape.mjs', import.meta.url).pathname;
const sink = spawn(process.execPath, [shapeScript, 'sink', path.join(shapeDir, 'port')], { stdio: 'ignore' });
let sinkPort = '';
for (let i = 0; i < 100 && !sinkPort; i++) {
  await sleep(50);
  sinkPort = read(path.join(shapeDir, 'port'));
}
if (!sinkPort) throw new Error('footprint: the stand-in Monitor did not start');
const shape = spawn(process.execPath, [shapeScript, 'worker', sinkPort], { stdio: 'ignore' });
process.on('exit', () => {
  for (const c of [floor, sink, shape]) c.kill('SIGKILL');
  rmSync(shapeDir, { recursive: true, force: true });
});
// On a machine this loaded the standby may take the Gateway over during start-up (then `up` never
// sees its Gateway ready): start again, up to three times.
let up;
for (let attempt = 1; !up; attempt++) {
  try {
    up = await startUp({ args: ['--workers', String(WORKERS)], port: PORT, basePort: BASE_PORT });
  } catch (err) {
    if (attempt >= 3) throw err;
    console.log(`  (start-up ${attempt} failed under load; starting again)`);
    const dir = /logs kept in (\S+)/.exec(String(err.message))?.[1];
    if (dir?.includes('codearena-up-')) rmSync(dir, { recursive: true, force: true });
  }
}
const exclude = [PORT, PORT + 1];
try {
  // Let start-up (elections, first gossip rounds, sandbox pools) finish before measuring.
  await sleep(SETTLE_S * 1000);
  const view = await (await fetch(`${up.url}/api/v1/cluster`)).json();
  const roleOf = new Map(view.nodes.map((n) => [n.name, n.role]));
  const procs = [
    { key: 'floor', role: FLOOR, pid: floor.pid },
    { key: 'shape', role: SHAPE, pid: shape.pid },
    { key: 'shape-sink', role: SHAPE_SINK, pid: sink.pid },
  ];
  const tids = new Map();
  for (const f of readdirSync(up.logDir).filter((x) => x.endsWith('.log'))) {
    for (const line of read(path.join(up.logDir, f)).split('\n')) {
      if (!line.includes('"heartbeat_thread"')) continue;
      const j = JSON.parse(line);
      tids.set(j.pid, j.tid); // the newest line wins (a restarted Worker process logs again)
    }
  }
  for (const pid of children(up.pid)) {
    const name = argAfter(argv(pid), '--name');
    const role = roleOf.get(name);
    procs.push({ key: name, name, pid, role: role === 'worker' ? 'worker host' : role });
    for (const c of children(pid)) {
      const a = argv(c);
      if (!a.includes('worker-proc')) continue;
      const wname = `${name}-w${argAfter(a, '--index')}`;
      procs.push({ key: wname, name: wname, pid: c, role: 'worker process' });
      const tid = tids.get(c);
      if (tid && read(`/proc/${c}/task/${tid}/stat`)) procs.push({ key: `${wname}/heartbeat`, pid: c, tid, role: 'heartbeat thread' });
    }
  }

  const i0 = snapshot(procs, exclude);
  await sleep(IDLE_S * 1000);
  const idle = window(procs, i0, snapshot(procs, exclude));
  const loadIdle = os.loadavg();

  const l0 = snapshot(procs, exclude);
  let failed = 0;
  const t0 = performance.now();
  for (let i = 0; i < LOAD_RUNS; i++) {
    const next = t0 + (i + 1) * LOAD_EVERY_MS;
    const r = await fetch(`${up.url}/api/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ language: 'python', source: `print(${i})\n`, wait: true }) });
    const j = await r.json();
    if (j.status !== 'ok' && ++failed <= 3) console.error(`footprint: run ${i} was not ok: ${JSON.stringify(j).slice(0, 300)}`);
    await sleep(Math.max(0, next - performance.now()));
  }
  const busy = window(procs, l0, snapshot(procs, exclude));
  const loadBusy = os.loadavg();

  table(`idle ${IDLE_S} s (load average ${loadIdle.map((x) => x.toFixed(1)).join(' ')})`, idle);
  labPc(idle, 'idle');
  table(`light load: ${LOAD_RUNS} Python runs, one every ${LOAD_EVERY_MS} ms, ${failed} not ok (load average ${loadBusy.map((x) => x.toFixed(1)).join(' ')})`, busy);
  labPc(busy, 'under this load, an');
  console.log('\n  memory: at the end of each window. CPU: time consumed over the window (valid on a loaded machine); wake-ups: context switches of all the process\'s threads.');
  console.log('  link KB/s: TCP bytes sent+received on the process\'s cluster links (ss), HTTP excluded; the heartbeat thread\'s Unix-socket pings are not on a link.');
  if (!procs.some((p) => p.role === 'heartbeat thread')) console.log('  (no heartbeat thread TID found in the logs: its row is missing)');
} finally {
  await up.stop();
  for (const c of [floor, sink, shape]) c.kill('SIGKILL');
}
