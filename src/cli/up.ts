import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodeArenaError } from '../common/errors.js';
import { childNodeFlags, stopChildren } from '../common/processes.js';
import { loadConfig, randomSecret } from '../config/index.js';
import { accountingDir, removeAccountingGroups } from '../worker/accounting.js';

const CLI = fileURLToPath(new URL('../../../bin/codearena.js', import.meta.url));
const NODES: ReadonlyArray<[string, string]> = [
  ['gw', 'gateway'],
  ['mon-1', 'monitor'],
  ['mon-2', 'monitor'],
  ['asg-1', 'assigner'],
  ['asg-2', 'assigner'],
  ['wrk-1', 'worker'],
  ['empty-1', 'empty'],
];
/** How long `up` waits for the Gateway and a first Worker before giving up. */
const READY_TIMEOUT_MS = 60_000;

export interface UpOptions {
  workers?: string;
  port?: string;
  standbyPort?: string;
  basePort?: string;
  auth?: boolean;
  queueMax?: string;
  slots?: string;
}

function intOption(value: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new CodeArenaError('BAD_INPUT', `${flag} must be an integer between ${min} and ${max}, got "${value}"`, `e.g. ${flag} ${fallback}`);
  return n;
}

async function waitReady(url: string, token: string | null, children: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  while (Date.now() < deadline) {
    if (children.some((c) => c.exitCode !== null)) throw new CodeArenaError('BAD_INPUT', 'a node of the local cluster exited during start-up', 'see the logs named above (a port may be in use: try --base-port)');
    try {
      const r = await fetch(`${url}/api/v1/cluster`, { headers, signal: AbortSignal.timeout(1000) });
      const view = (await r.json()) as { nodes: Array<{ name: string; role: string; state: string }> };
      // Worker processes (host-wN) are what take runs; the host itself only supervises them.
      const workersUp = view.nodes.filter((n) => n.role === 'worker' && n.state === 'alive' && /-w\d+$/.test(n.name)).length;
      const assignersUp = view.nodes.filter((n) => n.role === 'assigner' && n.state === 'alive').length;
      if (workersUp > 0 && assignersUp >= 2) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new CodeArenaError('BAD_INPUT', `the local cluster did not become ready in ${READY_TIMEOUT_MS / 1000} s`, 'see the logs named above');
}

/** Starts a whole cluster on this machine as separate processes; stops them all on SIGINT/SIGTERM. */
export async function upCommand(opts: UpOptions): Promise<number> {
  const workers = intOption(opts.workers, '--workers', 1, 64, os.availableParallelism());
  const port = intOption(opts.port, '--port', 1, 65535, 8080);
  const basePort = intOption(opts.basePort, '--base-port', 1024, 65000, 7470);
  // On one machine the standby Monitor cannot take the Gateway's port (no virtual IP without
  // root): it serves on its own, and clients list both.
  const standbyPort = intOption(opts.standbyPort, '--standby-port', 1, 65535, port < 65535 ? port + 1 : port - 1);
  if (standbyPort === port) throw new CodeArenaError('BAD_INPUT', `--standby-port must differ from --port (${port})`, `e.g. --standby-port ${port + 1}`);
  const internal = NODES.map((_, i) => basePort + i);
  for (const [flag, p] of [['--port', port], ['--standby-port', standbyPort]] as const) {
    if (internal.includes(p)) throw new CodeArenaError('BAD_INPUT', `${flag} ${p} is one of the internal ports ${basePort}..${basePort + NODES.length - 1}`, 'pick another port or another --base-port');
  }
  const queueMax = intOption(opts.queueMax, '--queue-max', 1, 100_000, 256);
  const slots = intOption(opts.slots, '--slots', 1, 16, 1);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-up-'));
  chmodSync(dir, 0o700);
  const token = opts.auth ? randomBytes(18).toString('base64url') : null;
  const config = {
    cluster: { name: 'local', secret: randomSecret() },
    gateway: { host: 'gw', port, standbyPort },
    nodes: NODES.map(([name, role], i) => ({ name, address: '127.0.0.1', port: basePort + i, role })),
    workers: { perHostMax: workers, slotsPerWorker: slots },
    queue: { runsMax: queueMax },
    auth: token ? { enabled: true, tokens: [{ token, user: 'local', concurrentRunsMax: 64 }] } : { enabled: false },
  };
  const file = path.join(dir, 'lab.json');
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  loadConfig(file); // refuse now, with the config's own message, rather than in seven processes

  const children: ChildProcess[] = [];
  for (const [name] of NODES) {
    const log = openSync(path.join(dir, `${name}.log`), 'a');
    children.push(spawn(process.execPath, [...childNodeFlags(), CLI, 'node', '--config', file, '--name', name, '--state-dir', path.join(dir, 'state')], { stdio: ['ignore', log, log] }));
  }
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    await stopChildren(children, 5_000);
    // CODEARENA_KEEP_LOGS=1 keeps the logs (and the config) for a look after the cluster stopped.
    if (process.env.CODEARENA_KEEP_LOGS === '1') process.stderr.write(`codearena: logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
    const acct = accountingDir('local');
    if (acct) removeAccountingGroups(acct);
  };
  const stopped = new Promise<void>((resolve) => {
    const onSignal = () => void stopAll().then(resolve);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  const url = `http://127.0.0.1:${port}`;
  process.stderr.write(`codearena: starting ${NODES.length} nodes and ${workers} Worker processes; logs in ${dir}\n`);
  try {
    await waitReady(url, token, children);
  } catch (err) {
    await stopAll();
    throw err;
  }
  const standbyUrl = `http://127.0.0.1:${standbyPort}`;
  const tokenLine = token ? `token: ${token}\n` : '';
  process.stdout.write(
    `${tokenLine}CodeArena gateway listening on ${url}\n` +
      `standby gateway (a Monitor; serves if the gateway dies): ${standbyUrl}\n` +
      `run a file: codearena run FILE --gateway ${url},${standbyUrl}${token ? ` --token ${token}` : ''}\n`,
  );
  await stopped;
  return 0;
}
