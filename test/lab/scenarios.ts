import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { arpEntry, macOf, setLink } from './netns.js';
import { CLIENT_NS, GATEWAY_VIP, pc, WORKERS_PER_HOST, type Lab } from './lab.js';
import type { ClusterSnapshot, RunReport } from './load.js';

// The lab's scenario table. Each scenario puts the cluster under load (batch runs printing known
// sequences), injects one fault into one PC, and measures: runs accepted / finished / lost, chunks
// lost or duplicated, time to detect (fault → the Gateway's /api/v1/cluster showing the PC dead,
// or alive again for a restart) and time to recover (fault → the first run submitted after it
// finishing ok). A scenario asserts only what the current code guarantees; what it cannot assert
// yet is printed, with a note naming the feature that will tighten it.

export type Fault =
  /** Every process in the PC's namespace SIGKILLed: the PC switched off. */
  | 'power_off'
  /** The PC's switch port (its veth on the bridge) down until the PC is declared dead, then up again. */
  | 'partition'
  /** The PC's agent started again (the PC switched back on) after it was declared dead. */
  | 'restart';

export interface Guarantees {
  /** Every accepted run reaches a terminal status before the scenario's deadline. */
  noRunLost: boolean;
  /**
   * Every accepted batch run ends `ok` (placed again when its Worker is lost); an interactive run
   * ends `ok`, or `node_lost` having shown the start of its exact output.
   */
  allOk: boolean;
  /** The Gateway's cluster view shows the fault (dead, or alive again after a restart). */
  detects: boolean;
  /** After a partition heals, the PC is alive again in the cluster view. */
  rejoins: boolean;
  /**
   * Every run accepted after the fault took effect (the PC's processes all dead, or its port down)
   * ends ok: the cluster keeps serving new work even where it loses old work.
   */
  newRunsOk: boolean;
}

export interface ScenarioContext {
  lab: Lab;
  scenario: Scenario;
  /** The PC the fault hit. */
  target: string;
  faultAtMs: number;
  runs: RunReport[];
  /** Notes for the scenario's line; violations fail the lab. */
  notes: string[];
  violations: string[];
}

export interface Scenario {
  id: string;
  title: string;
  /** The PC to hit; a function picks it from the cluster view (e.g. the Monitor leader). */
  target: string | ((view: ClusterSnapshot) => string);
  fault: Fault;
  /** Before the load starts: these must be alive, with this many Worker processes and Assigners. */
  ready: { alive: string[]; workerProcesses: number; assigners: number };
  load: { runs: number; spacingMs: number; lines: number; periodMs: number; interactiveEvery?: number };
  /** From the load's start to the fault: long enough that runs are going on every Worker. */
  faultAfterMs: number;
  /**
   * Then, before the fault, wait (at most this long) until an interactive run is running on the
   * target, so its loss is seen; without one the fault comes anyway and the row says so.
   */
  waitInteractiveOnTargetMs?: number;
  /** From the load's start: runs not finished by then are lost. */
  loadDeadlineMs: number;
  /** From the fault: the first new run must finish ok within this. */
  recoverTimeoutMs?: number;
  guarantees: Guarantees;
  /** Why a guarantee is not asserted yet, and what will tighten it. Printed with the row. */
  pending?: string;
  /** A feature this scenario needs that is not built yet: the row is printed as skipped, with this. */
  requires?: string;
  /** Watches started at the fault, beside detection and recovery (e.g. a promotion's time). */
  during?: (ctx: ScenarioContext) => Promise<void>;
  /** Switch every PC earlier scenarios powered off on again first (their agents restart). */
  powerOnAll?: boolean;
  /** More checks after the load ended (rejoined PCs serving, ARP entries). */
  after?: (ctx: ScenarioContext) => Promise<void>;
}

const LOAD = { runs: 12, spacingMs: 300, lines: 25, periodMs: 100 };
const ALL_UP = ['gw', 'mon-1', 'mon-2', 'asg-1', 'asg-2', 'wrk-1', 'wrk-2'];

/** Runs that finished after `sinceMs` on one of PC `host`'s Worker processes. */
function finishedOn(runs: RunReport[], host: string, sinceMs: number): number {
  return runs.filter((r) => r.status === 'ok' && (r.finishedAtMs ?? 0) >= sinceMs && r.worker?.startsWith(`${host}-w`)).length;
}

export const SCENARIOS: Scenario[] = [
  {
    id: 'a',
    title: 'kill -9 Worker host wrk-1 (power-off)',
    target: 'wrk-1',
    fault: 'power_off',
    ready: { alive: ALL_UP, workerProcesses: 2 * WORKERS_PER_HOST, assigners: 2 },
    // Every 2nd run interactive: one running on wrk-1 at the kill must end node_lost (the client is told).
    load: { ...LOAD, interactiveEvery: 2 },
    faultAfterMs: 1_500,
    waitInteractiveOnTargetMs: 3_000,
    loadDeadlineMs: 35_000,
    // Design §4: a lost Worker's batch runs are placed again (at most 3 placements).
    guarantees: { noRunLost: true, allOk: true, detects: true, rejoins: false, newRunsOk: true },
  },
  {
    id: 'c',
    title: 'wrk-1 back on after declared dead',
    target: 'wrk-1',
    fault: 'restart',
    ready: { alive: ALL_UP.filter((n) => n !== 'wrk-1'), workerProcesses: WORKERS_PER_HOST, assigners: 2 },
    load: { ...LOAD, runs: 16 },
    faultAfterMs: 500,
    loadDeadlineMs: 35_000,
    guarantees: { noRunLost: true, allOk: true, detects: true, rejoins: true, newRunsOk: true },
    async after(ctx) {
      // Rejoined means serving: its Worker processes alive again and taking runs.
      const names = Array.from({ length: WORKERS_PER_HOST }, (_, i) => `${ctx.target}-w${i}`);
      const view = await ctx.lab.client.call<ClusterSnapshot>('cluster', {}, 10_000);
      const down = names.filter((n) => view.nodes.find((x) => x.name === n)?.state !== 'alive');
      if (down.length > 0) ctx.violations.push(`${down.join(', ')} not alive after ${ctx.target} rejoined`);
      const served = finishedOn(ctx.runs, ctx.target, ctx.faultAtMs);
      ctx.notes.push(`${served} runs finished on ${ctx.target} after it rejoined`);
      if (served === 0) ctx.violations.push(`no run was placed on ${ctx.target} after it rejoined`);
    },
  },
  {
    id: 'b',
    title: 'partition wrk-2 (veth down, dead, up)',
    target: 'wrk-2',
    fault: 'partition',
    ready: { alive: ALL_UP, workerProcesses: 2 * WORKERS_PER_HOST, assigners: 2 },
    load: LOAD,
    faultAfterMs: 2_000,
    loadDeadlineMs: 35_000,
    guarantees: { noRunLost: true, allOk: true, detects: true, rejoins: true, newRunsOk: true },
  },
  {
    id: 'd',
    title: 'kill -9 Assigner asg-1 (power-off)',
    target: 'asg-1',
    fault: 'power_off',
    ready: { alive: ALL_UP, workerProcesses: 2 * WORKERS_PER_HOST, assigners: 2 },
    load: LOAD,
    faultAfterMs: 2_000,
    loadDeadlineMs: 35_000,
    recoverTimeoutMs: 25_000,
    // The buddy (asg-2) takes the killed Assigner's runs over: none lost, all ok, nothing repeated.
    guarantees: { noRunLost: true, allOk: true, detects: true, rejoins: false, newRunsOk: true },
    async during(ctx) {
      // The Monitor leader promotes an Empty node, paired with the orphaned buddy.
      try {
        const args = { alive: [], notAlive: [ctx.target], workerProcesses: 0, assigners: 2, timeoutMs: 20_000 };
        const view = await ctx.lab.client.call<ClusterSnapshot>('wait_ready', args, 25_000);
        const promoted = view.nodes.filter((n) => n.role === 'assigner' && n.state === 'alive' && n.name.startsWith('empty-')).map((n) => n.name);
        ctx.notes.push(`Assigners restored to 2 (${promoted.join(', ') || 'none'} promoted) by +${view.atMs - ctx.faultAtMs} ms`);
      } catch (err) {
        ctx.violations.push(`the Assigners were not restored to 2: ${(err as Error).message}`);
      }
    },
  },
  {
    id: 'e',
    title: 'kill -9 the Monitor leader (power-off)',
    target: (view) => view.leader ?? 'mon-1',
    fault: 'power_off',
    ready: { alive: ['gw', 'mon-1', 'mon-2', 'wrk-1', 'wrk-2'], workerProcesses: 2 * WORKERS_PER_HOST, assigners: 2 },
    load: LOAD,
    faultAfterMs: 2_000,
    loadDeadlineMs: 30_000,
    // Runs never pass through a Monitor, so none may be lost; a Worker that heartbeated to the dead
    // Monitor drops out of the Assigners' loads until it fails over, but only a Monitor's "dead"
    // ends its runs, so nothing should start again.
    guarantees: { noRunLost: true, allOk: true, detects: true, rejoins: false, newRunsOk: true },
    async during(ctx) {
      // The Hydra: the Assigners elect a pair that become Monitors; at least 2 serve again.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const view = await ctx.lab.client.call<ClusterSnapshot>('wait_ready', { alive: [], notAlive: [ctx.target], workerProcesses: 0, assigners: 0, timeoutMs: 5_000 }, 10_000);
        const monitors = view.nodes.filter((n) => n.role === 'monitor' && n.state === 'alive').map((n) => n.name);
        if (monitors.length >= 2) {
          ctx.notes.push(`Monitors back to ${monitors.length} (${monitors.join(', ')}) by +${view.atMs - ctx.faultAtMs} ms`);
          return;
        }
        if (Date.now() > deadline) {
          ctx.violations.push(`only ${monitors.length} Monitors 20 s after the kill: ${monitors.join(', ')}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  },
  {
    id: 'f',
    title: 'kill -9 Gateway PC (VIP to standby)',
    target: 'gw',
    fault: 'power_off',
    // A takeover needs a majority of the Monitors to grant the standby its epoch: both, with two.
    powerOnAll: true,
    ready: { alive: ALL_UP, workerProcesses: 2 * WORKERS_PER_HOST, assigners: 2 },
    load: LOAD,
    faultAfterMs: 2_000,
    loadDeadlineMs: 35_000,
    guarantees: { noRunLost: true, allOk: true, detects: true, rejoins: false, newRunsOk: true },
    async after(ctx) {
      // The client's ARP entry for the virtual IP must now name the standby's MAC, not the dead Gateway's.
      const entry = await arpEntry(CLIENT_NS, GATEWAY_VIP);
      const oldMac = macOf('gw');
      if (!entry?.mac || entry.mac === oldMac) ctx.violations.push(`client's ARP entry for ${GATEWAY_VIP} is ${entry?.mac ?? 'missing'} (the dead Gateway's is ${oldMac})`);
    },
  },
];

/** Partition: the port goes down; it comes back once the Gateway shows the PC dead (or after at most this). */
export const PARTITION_MAX_MS = 10_000;
/** After the partition heals (or a restart), the PC must be alive again within this. */
export const REJOIN_TIMEOUT_MS = 20_000;
/** Probes for a new run finishing ok give up after this. */
export const RECOVER_TIMEOUT_MS = 25_000;
/** Before each scenario's load: a run must finish ok within this. */
export const SERVING_TIMEOUT_MS = 90_000;

export interface Row {
  id: string;
  title: string;
  target: string;
  skipped: string | null;
  accepted: number;
  refused: number;
  finished: number;
  ok: number;
  lost: number;
  restarts: number;
  chunksLost: number;
  chunksDup: number;
  badOutput: number;
  detectMs: number | null;
  recoverMs: number | null;
  rejoinMs: number | null;
  wallMs: number;
  notes: string[];
  violations: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runScenario(lab: Lab, s: Scenario): Promise<Row> {
  const started = Date.now();
  const row: Row = {
    id: s.id,
    title: s.title,
    target: typeof s.target === 'string' ? s.target : '?',
    skipped: s.requires ?? null,
    accepted: 0,
    refused: 0,
    finished: 0,
    ok: 0,
    lost: 0,
    restarts: 0,
    chunksLost: 0,
    chunksDup: 0,
    badOutput: 0,
    detectMs: null,
    recoverMs: null,
    rejoinMs: null,
    wallMs: 0,
    notes: [],
    violations: [],
  };
  if (s.requires) return row;
  if (s.powerOnAll) for (const name of [...lab.off]) lab.startAgent(name);
  const client = lab.client;
  const ready = await client.call<ClusterSnapshot>('wait_ready', { ...s.ready, timeoutMs: 30_000 }, 35_000);
  // And serving: a run finishes ok before the load starts (a previous fault may still be settling).
  await client.call('probe', { timeoutMs: SERVING_TIMEOUT_MS }, SERVING_TIMEOUT_MS + 5_000);
  const target = typeof s.target === 'string' ? s.target : s.target(ready);
  row.target = target;
  pc(target); // a PC of the lab

  const loadStart = Date.now();
  const loadP = client.call<RunReport[]>('load', { tag: `s${s.id}`, ...s.load, deadlineMs: loadStart + s.loadDeadlineMs }, s.loadDeadlineMs + 30_000);
  await sleep(s.faultAfterMs);
  let interactiveOnTarget: string | null = null;
  if (s.waitInteractiveOnTargetMs) {
    try {
      const args = { host: target, interactive: true, timeoutMs: s.waitInteractiveOnTargetMs };
      interactiveOnTarget = (await client.call<{ tag: string }>('wait_running_on', args, s.waitInteractiveOnTargetMs + 5_000)).tag;
    } catch {
      row.notes.push(`no interactive run was on ${target} at the fault`);
    }
  }

  const faultAtMs = Date.now();
  const expectState = s.fault === 'restart' ? ['alive'] : ['dead', 'absent'];
  const detectP = client.call<{ atMs: number }>('wait_node', { node: target, states: expectState, timeoutMs: REJOIN_TIMEOUT_MS }, REJOIN_TIMEOUT_MS + 5_000);
  const recoverTimeoutMs = s.recoverTimeoutMs ?? RECOVER_TIMEOUT_MS;
  const recoverP = client.call<{ atMs: number; worker: string | null }>('probe', { timeoutMs: recoverTimeoutMs }, recoverTimeoutMs + 5_000);
  // When the fault has fully taken effect: runs accepted after it never touched the old state.
  let faultDoneAtMs = faultAtMs;
  let rejoinP: Promise<{ atMs: number }> | null = null;
  const ctx: ScenarioContext = { lab, scenario: s, target, faultAtMs, runs: [], notes: row.notes, violations: row.violations };
  const duringP = s.during ? s.during(ctx) : Promise.resolve();
  switch (s.fault) {
    case 'power_off': {
      const n = await lab.powerOff(target);
      faultDoneAtMs = Date.now();
      row.notes.push(`${n} processes killed`);
      break;
    }
    case 'restart':
      lab.startAgent(target);
      break;
    case 'partition': {
      await setLink(target, false);
      faultDoneAtMs = Date.now();
      // Heal once the PC is declared dead (or after PARTITION_MAX_MS): the interesting case is a
      // PC that comes back after the cluster gave up on it.
      const healAt = faultAtMs + PARTITION_MAX_MS;
      await Promise.race([detectP.catch(() => {}), sleep(PARTITION_MAX_MS)]);
      await sleep(Math.max(0, Math.min(1_000, healAt - Date.now())));
      await setLink(target, true);
      row.notes.push(`port down ${Date.now() - faultAtMs} ms`);
      rejoinP = client.call<{ atMs: number }>('wait_node', { node: target, states: ['alive'], timeoutMs: REJOIN_TIMEOUT_MS }, REJOIN_TIMEOUT_MS + 5_000);
      break;
    }
  }

  const [detect, recover, load, rejoin, during] = await Promise.allSettled([detectP, recoverP, loadP, rejoinP ?? Promise.resolve(null), duringP]);
  if (during.status === 'rejected') row.violations.push(`watch failed: ${during.reason.message}`);
  if (detect.status === 'fulfilled') row.detectMs = detect.value.atMs - faultAtMs;
  else if (s.guarantees.detects) row.violations.push(`not detected: ${detect.reason.message}`);
  if (recover.status === 'fulfilled') row.recoverMs = recover.value.atMs - faultAtMs;
  else row.violations.push(`the cluster did not serve a new run: ${recover.reason.message}`);
  if (rejoin.status === 'fulfilled' && rejoin.value) row.rejoinMs = rejoin.value.atMs - faultAtMs;
  else if (rejoin.status === 'rejected' && s.guarantees.rejoins) row.violations.push(`did not rejoin: ${rejoin.reason.message}`);
  if (s.fault === 'restart') row.rejoinMs = row.detectMs;

  const runs = load.status === 'fulfilled' ? load.value : [];
  // Every run's report, for a post-mortem (kept with the logs when the lab fails).
  writeFileSync(path.join(lab.dir, `runs-${s.id}.json`), JSON.stringify({ target, faultAtMs, runs }, null, 1));
  if (load.status === 'rejected') row.violations.push(`load failed: ${load.reason.message}`);
  tally(row, runs, s, faultDoneAtMs);
  if (interactiveOnTarget) {
    // Design §4: the running interactive runs of a lost Worker end as node lost, and the client is told.
    const r = runs.find((x) => x.tag === interactiveOnTarget);
    if (r?.status === 'node_lost') row.notes.push(`interactive ${r.tag} on ${target}: node_lost told +${(((r.finishedAtMs ?? 0) - faultAtMs) / 1000).toFixed(1)} s`);
    else if (s.fault === 'power_off') row.violations.push(`interactive ${interactiveOnTarget} was running on ${target} at the power-off but ended ${r?.status ?? 'lost'}, not node_lost`);
  }
  ctx.runs = runs;
  if (s.after) await s.after(ctx);
  if (s.pending) row.notes.push(`pending: ${s.pending}`);
  row.wallMs = Date.now() - started;
  return row;
}

/** Counts the runs and checks the guarantees every scenario has, and the scenario's own. */
function tally(row: Row, runs: RunReport[], s: Scenario, faultDoneAtMs: number): void {
  const accepted = runs.filter((r) => r.accepted);
  row.accepted = accepted.length;
  row.refused = runs.reduce((n, r) => n + r.refusals, 0);
  row.finished = accepted.filter((r) => r.status !== null).length;
  row.ok = accepted.filter((r) => r.status === 'ok').length;
  row.lost = row.accepted - row.finished;
  row.restarts = accepted.reduce((n, r) => n + r.restarts, 0);
  row.chunksLost = accepted.reduce((n, r) => n + r.chunksLost, 0);
  row.chunksDup = accepted.reduce((n, r) => n + r.chunksDup, 0);
  const badOutput = (r: RunReport) => (r.status === 'ok' && !(r.streamOk && r.storedOk)) || (r.status === 'node_lost' && r.interactive && !r.streamPrefixOk);
  row.badOutput = accepted.filter(badOutput).length;
  const notAccepted = runs.filter((r) => !r.accepted);
  const resumes = accepted.reduce((n, r) => n + r.resumes, 0);
  if (resumes > 0) row.notes.push(`${resumes} WebSocket resumes`);

  // Every scenario: the client sees exactly the program's output, and at most one terminal status.
  if (row.chunksLost > 0 || row.chunksDup > 0) row.violations.push(`${row.chunksLost} chunks lost, ${row.chunksDup} duplicated`);
  if (row.badOutput > 0) {
    const bad = accepted.filter(badOutput).map((r) => `${r.tag}=${r.status}${r.streamOk ? '' : ' (stream)'}${r.storedOk ? '' : ' (GET)'}`);
    row.violations.push(`${row.badOutput} runs whose output differs from the program's: ${bad.join(', ')}`);
  }
  const multi = accepted.filter((r) => r.exits > 1);
  if (multi.length > 0) row.violations.push(`${multi.length} runs got more than one terminal status`);
  const errors = runs.filter((r) => r.error !== null).map((r) => `${r.tag}: ${r.error}`);
  if (notAccepted.length > 0) row.notes.push(`${notAccepted.length} runs never accepted${errors.length ? ` (${errors.slice(0, 3).join('; ')})` : ''}`);
  if (row.accepted === 0) row.violations.push('no run was accepted');

  if (s.guarantees.noRunLost && row.lost > 0) {
    row.violations.push(`${row.lost} accepted runs reached no terminal status: ${accepted.filter((r) => r.status === null).map((r) => r.tag).join(', ')}`);
  }
  const interactive = accepted.filter((r) => r.interactive);
  if (interactive.length > 0) {
    const by = (st: string) => interactive.filter((r) => r.status === st).length;
    row.notes.push(`interactive runs: ${by('ok')} ok, ${by('node_lost')} node_lost`);
  }
  // An interactive run whose Worker died is not placed again: node_lost (with its output so far) is its right end.
  const notOk = accepted.filter((r) => r.status !== null && r.status !== 'ok' && !(r.interactive && r.status === 'node_lost'));
  if (notOk.length > 0) {
    const list = notOk.map((r) => `${r.tag}=${r.status}`).join(', ');
    if (s.guarantees.allOk) row.violations.push(`runs that did not end ok: ${list}`);
    else row.notes.push(`not ok: ${list}`);
  }
  if (row.lost > 0 && !s.guarantees.noRunLost) row.notes.push(`${row.lost} runs lost (not asserted yet)`);
  // Accepted after the fault took effect (+100 ms for messages already on the wire).
  const fresh = accepted.filter((r) => (r.acceptedAtMs ?? 0) > faultDoneAtMs + 100);
  const freshBad = fresh.filter((r) => r.status !== 'ok');
  if (!s.guarantees.noRunLost || !s.guarantees.allOk) row.notes.push(`${fresh.length - freshBad.length}/${fresh.length} runs accepted after the fault ended ok`);
  if (s.guarantees.newRunsOk && freshBad.length > 0) {
    row.violations.push(`runs accepted after the fault that did not end ok: ${freshBad.map((r) => `${r.tag}=${r.status ?? 'lost'}`).join(', ')}`);
  }
}

/** Before the scenarios: the client's ARP entry for the virtual IP names the Gateway's MAC (it holds the address). */
export async function checkArpHelper(): Promise<string> {
  const entry = await arpEntry(CLIENT_NS, GATEWAY_VIP);
  const mac = macOf('gw');
  if (!entry || entry.mac !== mac) throw new Error(`client's ARP entry for the virtual IP ${GATEWAY_VIP} is ${JSON.stringify(entry)}, gw's eth0 is ${mac}`);
  return `client's ARP entry for the virtual IP ${GATEWAY_VIP}: ${entry.mac} (${entry.state}) = gw's eth0`;
}

const fmtMs = (ms: number | null) => (ms === null ? '-' : (ms / 1000).toFixed(1));

export const TABLE_HEADER =
  'scenario                                       accepted finished   ok lost refused restarts chunks-lost/dup bad-output detect-s recover-s rejoin-s verdict';

export function formatRow(r: Row): string {
  const name = `(${r.id}) ${r.title}`.slice(0, 46).padEnd(46);
  if (r.skipped) return `${name} skipped: needs ${r.skipped}`;
  const cells = [
    String(r.accepted).padStart(8),
    String(r.finished).padStart(8),
    String(r.ok).padStart(4),
    String(r.lost).padStart(4),
    String(r.refused).padStart(7),
    String(r.restarts).padStart(8),
    `${r.chunksLost}/${r.chunksDup}`.padStart(15),
    String(r.badOutput).padStart(10),
    fmtMs(r.detectMs).padStart(8),
    fmtMs(r.recoverMs).padStart(9),
    fmtMs(r.rejoinMs).padStart(8),
    r.violations.length === 0 ? ' PASS' : ' FAIL',
  ];
  return `${name} ${cells.join(' ')}`;
}

export function formatDetails(r: Row): string {
  const lines = [`    (${r.id}) target ${r.target}; ${(r.wallMs / 1000).toFixed(1)} s${r.notes.length ? `; ${r.notes.join('; ')}` : ''}`];
  for (const v of r.violations) lines.push(`    (${r.id}) VIOLATED: ${v}`);
  return lines.join('\n');
}
