// `blog up`: a small world on this machine, each server its own process and SQLite file.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { localWorldYaml } from '../world/local.js';
import { loadWorld, urlOf, type ServerEntry } from '../world/world.js';
import { intOption, UsageError } from './options.js';

const CLI = fileURLToPath(new URL('../../../bin/blog.js', import.meta.url));
/** How long `up` waits for every server's /healthz before giving up. */
const READY_TIMEOUT_MS = 60_000;
/** After SIGTERM, how long a server gets to close its database before SIGKILL. */
const STOP_GRACE_MS = 5_000;

export interface UpOptions {
  basePort?: string;
  propagationMs?: string;
  syncMs?: string;
  dir?: string;
}

async function waitHealthy(servers: ServerEntry[], children: Map<string, ChildProcess>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const pending = new Set(servers.map((s) => s.name));
  while (pending.size > 0) {
    if (Date.now() > deadline) throw new UsageError(`servers not healthy after ${READY_TIMEOUT_MS / 1000} s: ${[...pending].join(', ')}`);
    for (const s of servers) {
      if (!pending.has(s.name)) continue;
      const c = children.get(s.name);
      if (c?.exitCode !== null && c?.exitCode !== undefined) {
        throw new UsageError(`${s.name} exited during start-up (code ${c.exitCode}); a port may be in use: try --base-port`);
      }
      try {
        const r = await fetch(`${urlOf(s)}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (r.ok) pending.delete(s.name);
      } catch {
        // not listening yet
      }
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 200));
  }
}

export async function stopAll(children: Iterable<ChildProcess>): Promise<void> {
  const live = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(
    live.map(
      (c) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(() => c.kill('SIGKILL'), STOP_GRACE_MS);
          c.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

export async function upCommand(opts: UpOptions): Promise<number> {
  const basePort = intOption(opts.basePort, '--base-port', 1024, 65000, 7400);
  const intervals: Record<string, number> = {};
  if (opts.propagationMs !== undefined) intervals['propagationTimeoutMs'] = intOption(opts.propagationMs, '--propagation-ms', 1, 7 * 86_400_000, 0);
  if (opts.syncMs !== undefined) intervals['syncIntervalMs'] = intOption(opts.syncMs, '--sync-ms', 1, 30 * 86_400_000, 0);
  const dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'blog-up-'));
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
  const worldFile = path.join(dir, 'world.yaml');
  writeFileSync(worldFile, localWorldYaml({ basePort, intervals }), { mode: 0o600 });
  const world = loadWorld(worldFile);
  process.stdout.write(`world file, databases and logs in ${dir}\n`);
  const children = new Map<string, ChildProcess>();
  for (const s of world.servers) {
    const log = openSync(path.join(dir, `${s.name}.log`), 'a');
    const child = spawn(process.execPath, [CLI, 'node', '--world', worldFile, '--name', s.name, '--data', dir], {
      stdio: ['ignore', log, log],
    });
    children.set(s.name, child);
  }
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('stopping every server…\n');
    await stopAll(children.values());
  };
  try {
    await waitHealthy(world.servers, children);
  } catch (err) {
    await stop();
    throw err;
  }
  for (const s of world.servers) {
    const where = s.kind === 'l1' ? `L1 ${s.continent}` : `L2 ${s.country} (${s.continent})`;
    process.stdout.write(`${s.kind === 'l2' ? 'L2' : 'L1'} ${s.name.padEnd(18)} ${urlOf(s).padEnd(24)} ${where}\n`);
  }
  process.stdout.write('blog world up: use the L2 URLs above (Ctrl-C stops everything)\n');
  await new Promise<void>((resolve) => {
    const onSignal = (): void => {
      void stop().then(resolve);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    for (const [name, c] of children) {
      c.once('exit', (code, signal) => {
        if (!stopping) process.stderr.write(`${name} exited (${signal ?? code}); see ${path.join(dir, `${name}.log`)}\n`);
      });
    }
  });
  return 0;
}
