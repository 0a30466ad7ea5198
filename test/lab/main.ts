import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createBridge, currentNetns, privateNetnsDir, sh } from './netns.js';
import { Lab, LAB_PCS } from './lab.js';
import { checkArpHelper, formatDetails, formatRow, runScenario, SCENARIOS, TABLE_HEADER, type Row } from './scenarios.js';

// `npm run test:lab`: the network-namespace failover lab (design §7: lab PCs as network
// namespaces on a bridge, the whole lab inside an outer network namespace of its own).
//
// Outer process (the machine's root namespace): checks it can run at all (root, unshare, ip),
// then re-executes itself under `unshare --net --mount --pid --fork --kill-child --mount-proc`,
// and does nothing else — no socket, no `ip` command, no traffic. The new PID namespace is the
// cleanup guarantee: when the inner process ends, however it ends, the kernel kills every process
// of the lab (agents, Workers, sandboxes, the client), and the outer network namespace with its
// bridge and veths disappears with them.
//
// Inner process: checks it is really in a fresh network namespace, builds the PCs, starts the
// cluster and the client, runs the scenario table, prints it, stops everything.

const SELF = fileURLToPath(import.meta.url);
const INNER = '--inner';
/** The whole lab, inner side: past it the scenarios stop and everything is torn down. */
const LAB_TIMEOUT_MS = 4 * 60_000;
/** The outer side's last resort: SIGKILL the namespace (and so every lab process) after this. */
const HARD_TIMEOUT_MS = LAB_TIMEOUT_MS + 45_000;
const READY_TIMEOUT_MS = 60_000;

function skip(why: string): never {
  process.stdout.write(`test:lab skipped: needs root for network namespaces — ${why}\n`);
  process.exit(0);
}

function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

async function outer(): Promise<number> {
  if (process.platform !== 'linux') skip(`this is ${process.platform}, not Linux`);
  if (process.getuid?.() !== 0) skip('run it as root (sudo npm run test:lab)');
  for (const tool of ['unshare', 'ip', 'mount']) if (!has(tool)) skip(`"${tool}" is missing (apt-get install util-linux iproute2)`);
  const unshareArgs = ['--net', '--mount', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private'];
  const probe = spawnSync('unshare', [...unshareArgs, 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) skip(`unshare ${unshareArgs.join(' ')} failed: ${(probe.stderr || probe.error?.message || '').trim()}`);

  const t0 = Date.now();
  const child = spawn('unshare', [...unshareArgs, process.execPath, SELF, INNER], {
    stdio: 'inherit',
    env: { ...process.env, CODEARENA_LAB_ROOT_NETNS: currentNetns() },
  });
  const hard = setTimeout(() => {
    process.stderr.write(`test:lab: no result after ${HARD_TIMEOUT_MS / 1000} s; killing the lab's namespace\n`);
    child.kill('SIGKILL'); // --kill-child: the lab's PID 1 dies, and with it every lab process
  }, HARD_TIMEOUT_MS);
  // Ctrl-C reaches the inner process too (same process group) and it cleans up; SIGTERM is forwarded as a kill.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGKILL'));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  clearTimeout(hard);
  process.stdout.write(`test:lab: ${code === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s (wall, including start-up and teardown)\n`);
  return code;
}

/** Refuses to go on unless this process is in a network namespace of its own, with nothing but loopback. */
function checkIsolated(): void {
  const root = process.env.CODEARENA_LAB_ROOT_NETNS;
  const here = currentNetns();
  if (!root || root === here) throw new Error(`lab: not in a fresh network namespace (here ${here}, machine's ${root ?? 'unknown'}); refusing to run`);
  const links = sh('ip', ['-o', 'link', 'show']).trim().split('\n');
  if (links.length !== 1 || !/^\d+: lo:/.test(links[0] as string)) throw new Error(`lab: the new namespace already has links: ${links.join(' | ')}`);
}

async function inner(): Promise<number> {
  const t0 = Date.now();
  checkIsolated();
  privateNetnsDir();
  createBridge();
  const lab = new Lab({ realPsi: process.env.CODEARENA_LAB_REAL_PSI === '1', clientDieAfterMs: LAB_TIMEOUT_MS + 30_000 });
  process.stdout.write(`lab: ${LAB_PCS.length} PCs + client on a bridge in a private network namespace; logs in ${lab.dir}\n`);
  const rows: Row[] = [];
  let failure: string | null = null;
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    failure = 'interrupted';
    process.stdout.write('\nlab: interrupted; stopping every lab process\n');
    void lab.stop().then(() => process.exit(130));
    stopping = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`lab: global timeout of ${LAB_TIMEOUT_MS / 1000} s`)), LAB_TIMEOUT_MS - (Date.now() - t0)).unref());
  try {
    await Promise.race([
      (async () => {
        lab.build();
        lab.startAll();
        const ready = Date.now();
        await lab.client.call('wait_ready', { alive: LAB_PCS.map((p) => p.name), workerProcesses: 4, assigners: 2, timeoutMs: READY_TIMEOUT_MS }, READY_TIMEOUT_MS + 5_000);
        process.stdout.write(`lab: cluster ready in ${((Date.now() - ready) / 1000).toFixed(1)} s\n`);
        process.stdout.write(`lab: ${await checkArpHelper()}\n\n${TABLE_HEADER}\n`);
        // CODEARENA_LAB_SCENARIOS=a,c picks scenarios (for debugging one; the order stays the table's).
        const only = process.env.CODEARENA_LAB_SCENARIOS?.split(',').map((x) => x.trim());
        for (const s of SCENARIOS.filter((x) => !only || only.includes(x.id))) {
          const row = await runScenario(lab, s);
          rows.push(row);
          process.stdout.write(`${formatRow(row)}\n${row.skipped ? '' : `${formatDetails(row)}\n`}`);
        }
      })(),
      timeout,
    ]);
  } catch (err) {
    failure = (err as Error).message;
  }
  const violated = rows.filter((r) => r.violations.length > 0);
  process.stdout.write(`\n${TABLE_HEADER}\n${rows.map(formatRow).join('\n')}\n`);
  if (failure) process.stdout.write(`\nlab: FAILED: ${failure}\n`);
  if (violated.length > 0) process.stdout.write(`\nlab: FAILED: guarantees violated in ${violated.map((r) => `(${r.id})`).join(' ')}\n${violated.map(formatDetails).join('\n')}\n`);
  const ok = failure === null && violated.length === 0;
  if (!ok) process.stdout.write(`\n${lab.logTails()}\nlab: logs kept in ${lab.dir}\n`);
  await lab.stop();
  // CODEARENA_LAB_KEEP=1 keeps the logs of a passing lab too (a failing one keeps them anyway).
  if (ok && process.env.CODEARENA_LAB_KEEP !== '1') lab.removeFiles();
  else if (ok) process.stdout.write(`lab: logs in ${lab.dir}\n`);
  process.stdout.write(`lab: ${ok ? 'passed' : 'FAILED'}; lab time ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return ok ? 0 : 1;
}

const run = process.argv.includes(INNER) ? inner : outer;
run().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`test:lab: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
