import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { workersPerHost } from '../config/index.js';
import type { AgentContext, RoleService } from '../agent/context.js';
import { childNodeFlags, stopChildren } from '../common/processes.js';

const CLI = fileURLToPath(new URL('../../../bin/codearena.js', import.meta.url));
/** A Worker that keeps dying is restarted at most this often. */
const RESTART_DELAY_MIN_MS = 200;
const RESTART_DELAY_MAX_MS = 10_000;
/**
 * V8's young generation grows to 2 × 16 MB semi-spaces per isolate by default; a Worker process
 * (two isolates: communicator and heartbeat thread) allocates little, and 1 MB semi-spaces took its
 * USS from ~59 to ~43 MB with no measurable CPU change (bench/RESULTS.md, footprint). Flags from
 * CODEARENA_NODE_FLAGS come after and win.
 */
export const WORKER_PROCESS_NODE_FLAGS_DEFAULT: readonly string[] = ['--max-semi-space-size=1'];

/** CODEARENA_WORKER_NODE_FLAGS (space-separated; empty: none) replaces the default, to measure without it. */
export function workerProcessNodeFlags(): string[] {
  const env = process.env.CODEARENA_WORKER_NODE_FLAGS;
  return env === undefined ? [...WORKER_PROCESS_NODE_FLAGS_DEFAULT] : env.split(' ').filter((f) => f.length > 0);
}

/**
 * The Worker host role: one Worker process per core (capped by the config), each restarted when it
 * dies — with growing delay if it dies at once again.
 */
export function startWorkerHost(ctx: AgentContext & { stateDir: string }): RoleService {
  const count = workersPerHost(ctx.config);
  const children = new Map<number, ChildProcess>();
  const delays = new Map<number, number>();
  let stopping = false;

  const launch = (i: number) => {
    if (stopping) return;
    const startedAt = Date.now();
    const child = spawn(process.execPath, [...workerProcessNodeFlags(), ...childNodeFlags(), CLI, 'worker-proc', '--config-stdin', '--host', ctx.self.name, '--index', String(i), '--state-dir', ctx.stateDir], {
      // stdin carries the config this host loaded and checked, as one line of JSON (the Worker
      // process loads no config loader or zod), then nothing: it closes when this host dies,
      // however it dies, and the Worker process then stops too (no orphan Worker outlives its host).
      stdio: ['pipe', 'inherit', 'inherit'],
    });
    child.stdin?.on('error', () => {}); // a Worker that died at once: its exit is handled below
    child.stdin?.write(`${JSON.stringify(ctx.config)}\n`);
    children.set(i, child);
    child.on('exit', (code, signal) => {
      children.delete(i);
      if (stopping) return;
      const quick = Date.now() - startedAt < 5_000;
      const delay = quick ? Math.min(RESTART_DELAY_MAX_MS, (delays.get(i) ?? RESTART_DELAY_MIN_MS / 2) * 2) : RESTART_DELAY_MIN_MS;
      delays.set(i, delay);
      ctx.log.warn({ event: 'worker_exit', index: i, code, signal, restartInMs: delay }, `worker ${i} exited; restarting`);
      setTimeout(() => launch(i), delay).unref();
    });
  };
  for (let i = 0; i < count; i++) launch(i);
  ctx.log.info({ event: 'worker_host', workers: count }, `started ${count} Worker processes`);

  return {
    handle() {},
    async stop() {
      stopping = true;
      await stopChildren(children.values(), 3_000);
    },
  };
}
