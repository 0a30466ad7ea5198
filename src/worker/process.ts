import { mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AddressBook, WORKER_PORT_OFFSET, workerProcessName } from '../agent/address-book.js';
import { createLogger } from '../agent/log.js';
import { PeerLinks } from '../agent/peers.js';
import type { WireMessage } from '../agent/wire-messages.js';
import type { LabConfig } from '../config/schema.js';
import { listen } from '../wire/index.js';
import { availableLanguages } from '../sandbox/languages.js';
import { killOrphanSandboxes, SandboxPool } from '../sandbox/sandbox-process.js';
import { configureCompileCache } from '../sandbox/compile-cache.js';
import { joinAccountingGroup, ownerGroupDir } from './accounting.js';
import { WorkerCore } from './core.js';
import { WorkerDriver } from './driver.js';
import { systemClock } from '../common/clock.js';
import { bwrapSandbox } from './ports.js';
import { PsiSampler } from './psi.js';
import type { HeartbeatThreadData } from './heartbeat-thread.js';
import { PingAnswers } from './ping-answer.js';
import { isClusterType, isWorkerRunMessage, workerForm } from './run-form.js';

/** A ping line is ~30 bytes; a partial one longer than this is cut (and then not a ping). */
const PING_LINE_MAX = 64;

export interface WorkerProcessOptions {
  /**
   * The lab config as its host resolved and checked it (workerConfigOf checks the fields this
   * process reads): a Worker process loads neither the config loader nor zod (~8 MB per isolate).
   */
  config: LabConfig;
  host: string;
  index: number;
  stateDir: string;
}

/**
 * One Worker process, composed: the communicator (this thread) holds the run path — its decisions
 * in WorkerCore (core.ts), carried out by WorkerDriver (driver.ts) over the real links, clock and
 * bwrap sandbox; the heartbeat thread (heartbeat-thread.ts) keeps the Worker's membership while this
 * thread answers its pings with the load (each ping takes a pressure sample, which may evict).
 */
export async function runWorkerProcess(opts: WorkerProcessOptions): Promise<{ stop(): Promise<void> }> {
  const config = opts.config;
  const hostNode = config.nodes.find((n) => n.name === opts.host);
  if (!hostNode) throw new Error(`worker host ${opts.host} is not in the config`);
  const name = workerProcessName(opts.host, opts.index);
  const log = createLogger(name);
  const book = new AddressBook(config);
  const slots = config.workers.slotsPerWorker;
  // Test hook: CODEARENA_PSI_OVERRIDE_DIR/<worker name>.json overrides this Worker's pressure.
  const overrideDir = process.env.CODEARENA_PSI_OVERRIDE_DIR;
  const ownGroup = joinAccountingGroup(config.cluster.name, name);
  const ownerGroup = ownerGroupDir();
  if (ownerGroup) log.info({ event: 'psi', ownerGroup }, `the PC owner's pressure is read from ${ownerGroup}`);
  else if (!ownGroup) log.warn({ event: 'psi' }, 'no writable cgroup v2 hierarchy: this Worker counts its own runs as the PC owner\'s pressure');
  else log.warn({ event: 'psi' }, 'no user.slice pressure: the PC owner\'s pressure is the machine\'s minus CodeArena\'s, which hides the owner while CodeArena\'s runs are busy too');
  const psi = new PsiSampler({
    windowMs: config.psi.windowMs,
    ...(ownerGroup ? { ownerGroup } : {}),
    ...(ownGroup ? { excludeGroup: ownGroup } : {}),
    ...(overrideDir ? { overrideFile: path.join(overrideDir, `${name}.json`) } : {}),
  });
  // One spare beyond the slots: a run arriving right after another ended finds a sandbox ready
  // while the pool refills in the background.
  const orphans = killOrphanSandboxes();
  if (orphans.length > 0) log.warn({ event: 'orphans', pids: orphans }, `killed ${orphans.length} sandbox(es) a killed Worker left half-started`);
  const pool = new SandboxPool({ workDirKb: config.sandbox.limitsDefault.workDirKb, tmpDirKb: config.sandbox.limitsDefault.workDirKb, size: slots + 1 });
  pool.refill();
  // One compile cache per Worker host (its processes share the state dir): a judge submission's
  // tests compile once on the host, whichever of its processes runs them.
  configureCompileCache({ dir: path.join(opts.stateDir, `${opts.host}-compile-cache`) });
  const languages = (await availableLanguages()).map((l) => l.id);
  const core = new WorkerCore({ name, slots, psiAcceptBelow: config.psi.acceptBelow, psiPauseAbove: config.psi.pauseAbove, languages });
  // The links check messages by hand (run-form.ts), not with every message's zod schema.
  const secret = config.cluster.secret as string;
  const peers = new PeerLinks<WireMessage>({ name, secret, schema: workerForm, logger: log, resolve: (p) => book.resolve(p), onMessage: (from, msg) => dispatch(from, msg) });
  const driver = new WorkerDriver({ core, clock: systemClock, sandbox: bwrapSandbox(pool), links: peers, pressure: () => psi.read(), log });

  function dispatch(from: string, msg: WireMessage): void {
    if (isClusterType(msg)) thread.postMessage({ from, msg });
    else if (isWorkerRunMessage(msg)) driver.onMessage(from, msg);
    else log.debug({ type: msg.type, from }, 'ignored message');
  }

  // The heartbeat thread pings here; the answer (which ping, and the load) goes to shared memory,
  // where the thread reads it when its next heartbeat leaves.
  const answers = PingAnswers.create();
  const runDir = path.join(opts.stateDir, 'run');
  mkdirSync(runDir, { recursive: true });
  const socketPath = path.join(runDir, `${name}.sock`);
  rmSync(socketPath, { force: true });
  const pingServer = net.createServer((sock) => {
    let partial = '';
    sock.on('data', (d) => {
      // "ping <life> <n>\n": the heartbeat thread's ClusterNode holds the Worker's life. Pings that
      // waited while this thread was busy are answered once, with the newest number.
      const lines = (partial + d.toString()).split('\n');
      partial = (lines.pop() ?? '').slice(0, PING_LINE_MAX);
      let seq = 0;
      for (const line of lines) {
        const m = /^ping (\d+) (\d+)$/.exec(line);
        if (m === null) continue;
        core.life = Math.max(core.life, Number(m[1]));
        seq = Number(m[2]);
      }
      if (seq === 0) return;
      answers.write(seq, driver.onPressure(psi.sample(systemClock.nowMs())));
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((resolve) => pingServer.listen(socketPath, resolve));

  const threadData: HeartbeatThreadData = { config, name, socketPath, answers: answers.buffer, statePath: path.join(opts.stateDir, `${name}.json`), languages };
  const thread = new Worker(new URL('./heartbeat-thread.js', import.meta.url), { workerData: threadData });
  thread.on('error', (err) => {
    log.error({ err: err.message }, 'heartbeat thread died; exiting so the host restarts this Worker');
    process.exit(1);
  });

  const listener = await listen<WireMessage>({
    host: hostNode.address,
    port: hostNode.port + WORKER_PORT_OFFSET + opts.index,
    secret,
    name,
    schema: workerForm,
    logger: log,
    acceptPeer: (p) => book.has(p),
    onConnection: (conn) =>
      void (async () => {
        for await (const msg of conn) dispatch(conn.peerName, msg);
      })(),
    onRejected: (r) => log.warn({ remote: r.remoteAddress, code: r.error.code }, `refused a peer: ${r.error.message}`),
  });

  if (process.env.CODEARENA_TEST_HOOKS === '1') {
    // Test hook: SIGUSR2 blocks this thread's event loop for 10 s, as a wedged Worker would be.
    process.on('SIGUSR2', () => {
      log.warn({ event: 'stall' }, 'test hook: stalling the event loop');
      const until = Date.now() + 10_000;
      while (Date.now() < until) {
        // busy on purpose
      }
    });
  }
  log.info({ event: 'started', slots, port: hostNode.port + WORKER_PORT_OFFSET + opts.index, cpus: os.availableParallelism() }, `worker ${name} started`);
  return {
    async stop() {
      driver.stop();
      await thread.terminate();
      pingServer.close();
      peers.close();
      await listener.close();
      await pool.stop();
    },
  };
}
