// Cluster protocol cost as the lab grows: 10 → 100 → 1,000 PCs, in the deterministic simulator.
// Usage: npm run build && node bench/cluster.mjs
//
// Each PC is one node; a Worker PC's 8 Worker processes are its 8 load slots. Monitors ≈ PCs ÷ 50
// (at least 2), two Assigners. Per Monitor it reports messages/s and bytes/s handled (sent +
// received; bytes = msgpack size), Monitor CPU time per simulated second (process.cpuUsage
// around its step calls), and how long a Worker crash takes to be known by its Monitor and by
// every Monitor. It then checks that per-Monitor load grows at most linearly with PCs ÷ Monitors.
import { pack } from 'msgpackr';
import { Simulation } from '../dist/src/sim/simulator.js';

const SIZES = [10, 100, 1000];
const PCS_PER_MONITOR = 50;
const ASSIGNERS = 2;
const SLOTS_PER_PC = 8;
/** Long enough for every pair of Monitors to have paged through each other's change log once
 * (the cold-start transient), so the window measures steady state. */
const WARMUP_MS = 60_000;
const MEASURE_MS = 10_000;
const CRASH_WAIT_MS = 40_000;
/** A run starts or ends on a Worker PC about every this often (its load changes). */
const LOAD_CHANGE_EVERY_MS = 2_000;
/** Allowed factor over "linear in PCs ÷ Monitors" (the leader's few extra messages, ack lists). */
const LINEAR_SLACK = 1.5;
const SEED = 20261125;

function clusterOf(pcs) {
  const monitors = Math.max(2, Math.round(pcs / PCS_PER_MONITOR));
  const nodes = [];
  for (let i = 0; i < pcs; i++) {
    const role = i < monitors ? 'monitor' : i < monitors + ASSIGNERS ? 'assigner' : 'worker';
    nodes.push({ name: `${role}-${i}`, role, languages: ['c', 'cpp', 'python', 'java', 'javascript'] });
  }
  return { nodes, monitors: nodes.filter((n) => n.role === 'monitor').map((n) => n.name) };
}

/** A deterministic stream of load changes: busy slots drift as runs start and end. */
function loadFaults(nodes, untilMs) {
  let x = SEED;
  const next = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 4294967296);
  const faults = [];
  for (const n of nodes) {
    if (n.role === 'monitor') continue;
    for (let t = next() * LOAD_CHANGE_EVERY_MS; t < untilMs; t += LOAD_CHANGE_EVERY_MS * (0.5 + next())) {
      const busy = Math.floor(next() * (SLOTS_PER_PC + 1));
      const load = { psiCpu: next() * 0.4, psiMemory: next() * 0.1, psiIo: next() * 0.1, slotsFree: SLOTS_PER_PC - busy, slotsBusy: busy };
      faults.push({ kind: 'load', atMs: Math.floor(t), node: n.name, load });
    }
  }
  return faults;
}

function measure(pcs) {
  const { nodes, monitors } = clusterOf(pcs);
  const isMonitor = new Set(monitors);
  const stats = new Map(monitors.map((m) => [m, { msgs: 0, bytes: 0, cpuUs: 0 }]));
  /** Bytes per message type, summed over Monitors: where the cost goes. */
  const byType = new Map();
  const victim = nodes.filter((n) => n.role === 'worker')[0].name;
  const crashAtMs = WARMUP_MS + MEASURE_MS;
  const knewAtMs = new Map();
  /** When each Monitor's table first held every PC (cold start: all boot within 0.5 s). */
  const completeAtMs = new Map();
  let sim;
  let cpuStart = null;
  const inWindow = () => sim.nowMs >= WARMUP_MS && sim.nowMs < crashAtMs;
  const observer = {
    onSend(from, to, message) {
      if (!inWindow() || (!isMonitor.has(from) && !isMonitor.has(to))) return;
      const bytes = pack(message).length;
      byType.set(message.type, (byType.get(message.type) ?? 0) + bytes * ((isMonitor.has(from) ? 1 : 0) + (isMonitor.has(to) ? 1 : 0)));
      for (const m of [from, to]) {
        const s = stats.get(m);
        if (s !== undefined) {
          s.msgs += 1;
          s.bytes += bytes;
        }
      }
    },
    beforeStep(name) {
      cpuStart = isMonitor.has(name) && inWindow() ? process.cpuUsage() : null;
    },
    afterStep(name, node, _out, nowMs) {
      if (cpuStart !== null) {
        const d = process.cpuUsage(cpuStart);
        stats.get(name).cpuUs += d.user + d.system;
        cpuStart = null;
      }
      if (!completeAtMs.has(name) && node.monitor !== null && node.monitor.table.size === pcs) completeAtMs.set(name, nowMs);
      if (nowMs >= crashAtMs && !knewAtMs.has(name) && node.monitor?.table.get(victim)?.status === 'dead') knewAtMs.set(name, nowMs);
    },
  };
  const untilMs = crashAtMs + CRASH_WAIT_MS;
  sim = new Simulation({
    seed: SEED, nodes, durationMs: untilMs, settle: false, observer,
    network: { duplicateProbability: 0 },
    faults: [...loadFaults(nodes, untilMs), { kind: 'crash', atMs: crashAtMs, node: victim }],
  });
  const started = performance.now();
  sim.runUntil(crashAtMs - 1);
  const owner = sim.node(victim)?.reportsTo;
  for (let t = crashAtMs; t <= untilMs && knewAtMs.size < monitors.length; t += 100) sim.runUntil(t);
  const per = [...stats.values()];
  const seconds = MEASURE_MS / 1000;
  const col = (f) => ({ mean: per.reduce((a, s) => a + f(s), 0) / per.length, max: Math.max(...per.map(f)) });
  return {
    pcs,
    monitors: monitors.length,
    pcsPerMonitor: pcs / monitors.length,
    msgsPerS: col((s) => s.msgs / seconds),
    bytesPerS: col((s) => s.bytes / seconds),
    cpuMsPerSimS: col((s) => s.cpuUs / 1000 / seconds),
    ownerKnewMs: knewAtMs.has(owner) ? knewAtMs.get(owner) - crashAtMs : null,
    completeMs: completeAtMs.size === monitors.length ? Math.max(...completeAtMs.values()) : null,
    allKnewMs: knewAtMs.size === monitors.length ? Math.max(...knewAtMs.values()) - crashAtMs : null,
    violations: sim.checker.violations,
    byType: [...byType].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([t, b]) => `${t} ${((b / per.length / seconds) / 1024).toFixed(1)}`).join(', '),
    wallMs: performance.now() - started,
  };
}

const fmt = (x, digits = 0) => (x === null ? 'never' : x.toFixed(digits));
const rows = SIZES.map(measure);
console.log('| PCs | Monitors | PCs/Monitor | msgs/s per Monitor (mean / max) | KiB/s per Monitor (mean / max) | Monitor CPU ms per sim-s (mean / max) | crash known by its Monitor | by every Monitor | cold start: all tables full | wall s |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.pcs} | ${r.monitors} | ${r.pcsPerMonitor.toFixed(0)} | ${fmt(r.msgsPerS.mean)} / ${fmt(r.msgsPerS.max)} | ` +
      `${fmt(r.bytesPerS.mean / 1024, 1)} / ${fmt(r.bytesPerS.max / 1024, 1)} | ${fmt(r.cpuMsPerSimS.mean, 2)} / ${fmt(r.cpuMsPerSimS.max, 2)} | ` +
      `${fmt(r.ownerKnewMs)} ms | ${fmt(r.allKnewMs)} ms | ${fmt(r.completeMs)} ms | ${(r.wallMs / 1000).toFixed(1)} |`,
  );
}

console.log('\nKiB/s per Monitor by message type (top 4):');
for (const r of rows) console.log(`  ${r.pcs} PCs: ${r.byType}`);
console.log('');
let ok = true;
for (const r of rows) {
  if (r.violations.length > 0) {
    ok = false;
    console.log(`${r.pcs} PCs: invariant violations: ${JSON.stringify(r.violations.slice(0, 3))}`);
  }
  if (r.allKnewMs === null) {
    ok = false;
    console.log(`${r.pcs} PCs: the crash never reached every Monitor`);
  }
}
for (let i = 1; i < rows.length; i++) {
  const [a, b] = [rows[i - 1], rows[i]];
  const allowed = LINEAR_SLACK * (b.pcsPerMonitor / a.pcsPerMonitor);
  for (const [what, key] of [['msgs/s', 'msgsPerS'], ['bytes/s', 'bytesPerS']]) {
    for (const agg of ['mean', 'max']) {
      const growth = b[key][agg] / a[key][agg];
      const pass = growth <= allowed;
      ok &&= pass;
      console.log(`${pass ? 'ok  ' : 'FAIL'} ${what} ${agg} per Monitor, ${a.pcs} → ${b.pcs} PCs: ×${growth.toFixed(2)} (PCs/Monitor ×${(b.pcsPerMonitor / a.pcsPerMonitor).toFixed(2)}, allowed ×${allowed.toFixed(2)})`);
    }
  }
  // CPU is reported, not gated: at 10 PCs it is mostly JIT warm-up, so its ratio means little.
  console.log(`info CPU mean per Monitor, ${a.pcs} → ${b.pcs} PCs: ×${(b.cpuMsPerSimS.mean / a.cpuMsPerSimS.mean).toFixed(2)}`);
}
process.exit(ok ? 0 : 1);
