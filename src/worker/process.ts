import { mkdirSync, rmSync } from 'node:fs';
import { listenForMembers, memberLinks } from '../agent/links.js';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AddressBook, WORKER_PORT_OFFSET, workerProcessName } from '../agent/address-book.js';
import { nowMs } from '../agent/driver.js';
import { createLogger } from '../agent/log.js';
import { isClusterMessage, type WireMessage } from '../agent/wire-messages.js';
import { loadConfig } from '../config/index.js';
import { CHUNKS_PER_MESSAGE_MAX, unmeasuredResult, type RunMessage, type RunMessageOf, type RunResultWire, type RunSpecWire } from '../protocol/run-messages.js';
import { sandboxRequestOf } from '../protocol/run-spec.js';
import { availableLanguages } from '../sandbox/languages.js';
import { startRun, type RunHandle } from '../sandbox/runner.js';
import { killOrphanSandboxes, SandboxPool } from '../sandbox/sandbox-process.js';
import { configureCompileCache } from '../sandbox/compile-cache.js';
import { joinAccountingGroup, ownerGroupDir } from './accounting.js';
import { PsiSampler, worstPressure } from './psi.js';
import type { HeartbeatThreadData } from './heartbeat-thread.js';

/** Output bytes a run may have sent but not had acknowledged before its program is paused. */
export const UNACKED_BYTES_MAX = 4 * 1024 * 1024;
/** A run's end waits this long for an acknowledgement before the Worker forgets it. */
const HELD_END_MS_MAX = 10 * 60_000;
/** A run's end not acknowledged this long is sent again (with what is unacknowledged before it). */
const END_RESEND_MS = 5_000;
/** Assigners told when a slot comes free: those that offered a run in the last minute, at most 16. */
const OFFERERS_MAX = 16;
const OFFERER_FORGET_MS = 60_000;
/** How long a run's output waits for acknowledgements before going on without them. */
const ACK_WAIT_MS_MAX = 30_000;

type Chunk = RunMessageOf<'run_output'>['chunks'][number];

/** One run's output until its Assigner pair holds it: what a takeover sends again. */
class HeldOutput {
  readonly unacked: Chunk[] = [];
  private unackedBytes = 0;
  private lastInputN = 0;
  private waiter: (() => void) | null = null;
  private moved: { promise: Promise<void>; resolve: () => void } = HeldOutput.signal();

  private static signal(): { promise: Promise<void>; resolve: () => void } {
    let resolve = () => {};
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  }
  end: RunMessageOf<'run_exit'> | RunMessageOf<'run_evicted'> | null = null;
  endedAtMs = 0;

  constructor(
    readonly id: string,
    public assigner: string,
    public buddy: string | null,
  ) {}

  /** The newest chunk sent (-1: none yet); the exit carries it so a gap before it shows. */
  lastSeq = -1;

  keep(chunks: Chunk[]): void {
    for (const c of chunks) {
      this.lastSeq = c.seq;
      this.unacked.push(c);
      this.unackedBytes += c.data.byteLength;
    }
  }

  ackUpTo(seq: number): void {
    let drop = 0;
    while (drop < this.unacked.length && (this.unacked[drop] as Chunk).seq <= seq) this.unackedBytes -= (this.unacked[drop++] as Chunk).data.byteLength;
    this.unacked.splice(0, drop);
    if (this.unackedBytes <= UNACKED_BYTES_MAX) this.waiter?.();
  }

  /**
   * Resolves once the unacknowledged output is under its bound, or after ACK_WAIT_MS_MAX: with
   * both Assigners of the pair gone the run goes on (its output limit still bounds what is kept)
   * so that it ends and frees its slot.
   */
  roomForMore(): Promise<void> | undefined {
    if (this.unackedBytes <= UNACKED_BYTES_MAX) return undefined;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.waiter?.(), ACK_WAIT_MS_MAX);
      this.waiter = () => {
        clearTimeout(timer);
        this.waiter = null;
        resolve();
      };
    });
  }

  /** Resolves when a takeover moves the run to another Assigner (a wait on the dead one's link ends). */
  reassigned(): Promise<void> {
    return this.moved.promise;
  }

  moveTo(assigner: string): void {
    this.assigner = assigner;
    this.buddy = null;
    const moved = this.moved;
    this.moved = HeldOutput.signal();
    moved.resolve();
  }

  /** Input is numbered by the Gateway; a line sent again after a takeover is dropped. */
  freshInput(n: number | undefined): boolean {
    if (n === undefined) return true;
    if (n <= this.lastInputN) return false;
    this.lastInputN = n;
    return true;
  }
}

export interface WorkerProcessOptions {
  configPath: string;
  host: string;
  index: number;
  stateDir: string;
}

/**
 * One Worker process: the communicator (this thread) takes offers from Assigners and accepts one
 * only with a free slot and the PC's pressure below the bound; runners run them in the sandbox;
 * the heartbeat thread (heartbeat-thread.ts) keeps the Worker's membership while this thread
 * answers its pings.
 */
export async function runWorkerProcess(opts: WorkerProcessOptions): Promise<{ stop(): Promise<void> }> {
  const config = loadConfig(opts.configPath);
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
  // Runs whose program is going (they hold a slot) …
  const running = new Map<string, { handle: RunHandle; interactive: boolean; evicted: string | null }>();
  // … and every run whose output is not yet acknowledged by its Assigner pair: kept to send again
  // to the buddy if the Assigner dies. A run stays here after its program ended until its end is acked.
  const held = new Map<string, HeldOutput>();
  const languages = (await availableLanguages()).map((l) => l.id);

  const peers = memberLinks({ config, name, book, log, dispatch: (from, msg) => dispatch(from, msg) });

  const load = (busy = running.size) => {
    const p = psi.read();
    return { psiCpu: p.cpu, psiMemory: p.memory, psiIo: p.io, slotsFree: Math.max(0, slots - busy), slotsBusy: busy };
  };
  // Assigners that offered runs lately hear at once when a slot comes free (bounded; oldest dropped).
  const offeredBy = new Map<string, number>();
  function rememberOfferer(assigner: string): void {
    offeredBy.delete(assigner);
    offeredBy.set(assigner, nowMs());
    if (offeredBy.size > OFFERERS_MAX) offeredBy.delete(offeredBy.keys().next().value as string);
  }
  function tellSlotFree(): void {
    const now = nowMs();
    const l = load();
    for (const [assigner, at] of offeredBy) {
      if (now - at > OFFERER_FORGET_MS) offeredBy.delete(assigner);
      else peers.send(assigner, { type: 'worker_load', from: name, load: l });
    }
  }

  /** Whether to take an offered run: a free slot, the PC's pressure below the bound, the toolchain. */
  function decide(run: RunSpecWire): { ok: boolean; reason?: string } {
    if (running.size >= slots) return { ok: false, reason: 'no free slot' };
    const pressure = worstPressure(psi.read());
    if (pressure >= config.psi.acceptBelow) return { ok: false, reason: `PC pressure ${pressure.toFixed(2)} is at or above ${config.psi.acceptBelow}` };
    if (!languages.includes(run.language)) return { ok: false, reason: `no ${run.language} toolchain here` };
    return { ok: true };
  }

  function startOne(assigner: string, buddy: string | null, run: RunSpecWire): void {
    const handle = startRun({ ...sandboxRequestOf(run), pool });
    if (!run.interactive) handle.endInput();
    running.set(run.id, { handle, interactive: run.interactive, evicted: null });
    const out = new HeldOutput(run.id, assigner, buddy);
    held.set(run.id, out);
    void (async () => {
      for await (const first of handle.chunks) {
        const batch = [first, ...handle.chunks.takeNow(CHUNKS_PER_MESSAGE_MAX - 1)];
        const chunks = batch.map((c) => ({ seq: c.seq, stream: c.stream, data: c.data as Uint8Array<ArrayBuffer> })); // a Buffer is a Uint8Array: no copy
        out.keep(chunks);
        peers.send(out.assigner, { type: 'run_output', from: name, id: run.id, chunks });
        // A slow link, or a pair slow to acknowledge, pauses the program (through the runner's
        // bounded queue), never drops output.
        await Promise.race([peers.whenWritable(out.assigner), out.reassigned()]);
        await out.roomForMore();
      }
      let result: RunResultWire;
      try {
        const r = await handle.result;
        result = { ...r, ...(r.message ? { message: r.message.slice(0, 4000) } : {}) };
      } catch (err) {
        result = unmeasuredResult('internal_error', run.language, (err as Error).message);
      }
      const evicted = running.get(run.id)?.evicted ?? null;
      running.delete(run.id);
      out.end = evicted ? { type: 'run_evicted', from: name, id: run.id, reason: evicted } : { type: 'run_exit', from: name, id: run.id, result, lastSeq: out.lastSeq };
      out.endedAtMs = nowMs();
      peers.send(out.assigner, out.end);
      tellSlotFree();
    })();
  }

  /** The pair acknowledged output (and maybe the end): forget it. */
  function onAck(from: string, id: string, seq: number, exit: boolean): void {
    const out = held.get(id);
    if (!out || from !== out.assigner) return;
    out.ackUpTo(seq);
    if (exit && out.end) held.delete(id);
  }

  /** The run's Assigner died and its buddy holds the run now: send it what was not acknowledged. */
  function onTakeover(from: string, id: string): void {
    const out = held.get(id);
    if (!out) {
      // Nothing of it here (it ended and was acknowledged, or never ran): the new holder places it again or ends it.
      peers.send(from, { type: 'run_evicted', from: name, id, reason: `worker ${name} does not hold run ${id}` });
      return;
    }
    // From the buddy after a death, or from any Assigner the run was handed to (an Assigner that
    // left the role); every cluster member is authenticated.
    log.info({ event: 'takeover', run: id, from: out.assigner, to: from }, `run ${id} now goes to assigner ${from}`);
    out.moveTo(from);
    resendHeld(out);
  }

  /** Sends the run's Assigner what it has not acknowledged: the chunks, and the end if there is one. */
  function resendHeld(out: HeldOutput): void {
    for (let i = 0; i < out.unacked.length; i += CHUNKS_PER_MESSAGE_MAX) {
      peers.send(out.assigner, { type: 'run_output', from: name, id: out.id, chunks: out.unacked.slice(i, i + CHUNKS_PER_MESSAGE_MAX) });
    }
    if (out.end) peers.send(out.assigner, out.end);
  }

  /** Ends nobody acknowledged for this long are forgotten: both Assigners of the pair are gone. */
  const forgetUnacked = setInterval(() => {
    const now = nowMs();
    for (const [id, out] of held) {
      if (out.end && now - out.endedAtMs > HELD_END_MS_MAX) {
        log.warn({ event: 'unacked', run: id }, `run ${id}: nobody acknowledged its end in ${HELD_END_MS_MAX / 1000} s; forgetting it`);
        out.ackUpTo(Number.MAX_SAFE_INTEGER);
        held.delete(id);
      } else if (out.end && now - out.endedAtMs > END_RESEND_MS) {
        // An end not acknowledged by now was lost on the way (a link reset): send it again.
        resendHeld(out);
      }
    }
  }, END_RESEND_MS);
  forgetUnacked.unref();

  function dispatch(from: string, msg: WireMessage): void {
    if (isClusterMessage(msg)) {
      thread.postMessage({ from, msg });
      return;
    }
    const m = msg as RunMessage;
    switch (m.type) {
      case 'offer': {
        if (held.has(m.run.id)) {
          // Already going here. From the run's buddy it means the buddy holds the run now (it took
          // over and offered it again): say yes and send it what was not acknowledged. (An offer
          // from anyone else is a stale one, e.g. from an Assigner that died after sending it.)
          if (from === held.get(m.run.id)?.buddy) {
            peers.send(from, { type: 'offer_reply', from: name, id: m.run.id, accepted: true });
            onTakeover(from, m.run.id);
          }
          return;
        }
        const a = decide(m.run);
        rememberOfferer(from);
        // The answer leaves before the sandbox work starts: the Assigner is waiting on it.
        peers.send(from, { type: 'offer_reply', from: name, id: m.run.id, accepted: a.ok, ...(a.reason ? { reason: a.reason } : {}), load: load(running.size + (a.ok ? 1 : 0)) });
        if (!a.ok) {
          log.info({ event: 'refused', run: m.run.id, reason: a.reason }, `refused run ${m.run.id}: ${a.reason}`);
          return;
        }
        const buddy = m.buddy ?? null;
        if (buddy) peers.send(buddy, { type: 'run_claim', from: name, id: m.run.id });
        startOne(from, buddy, m.run);
        return;
      }
      case 'run_input':
        if (held.get(m.id)?.freshInput(m.n)) running.get(m.id)?.handle.write(m.data);
        return;
      case 'run_eof':
        if (held.get(m.id)?.freshInput(m.n)) running.get(m.id)?.handle.endInput();
        return;
      case 'run_ack':
        onAck(from, m.id, m.seq, m.exit);
        return;
      case 'run_takeover':
        onTakeover(from, m.id);
        return;
      case 'run_kill':
        running.get(m.id)?.handle.kill();
        return;
      default:
        log.debug({ type: m.type, from }, 'ignored message');
    }
  }

  /**
   * Above the second PSI bound the person at the PC comes first: batch runs stop here and run
   * elsewhere (the Assigner places them again). Interactive runs stay: someone is typing to them.
   */
  function evictIfOwnerNeedsThePc(): void {
    const pressure = worstPressure(psi.read());
    if (pressure < config.psi.pauseAbove) return;
    for (const [id, r] of running) {
      if (r.interactive || r.evicted) continue;
      r.evicted = `PC pressure ${pressure.toFixed(2)} is above ${config.psi.pauseAbove}`;
      log.warn({ event: 'evicted', run: id, pressure }, `stopping batch run ${id}: ${r.evicted}`);
      r.handle.kill();
    }
  }

  // The heartbeat thread pings here; the pong carries the load.
  const runDir = path.join(opts.stateDir, 'run');
  mkdirSync(runDir, { recursive: true });
  const socketPath = path.join(runDir, `${name}.sock`);
  rmSync(socketPath, { force: true });
  const pingServer = net.createServer((sock) => {
    sock.on('data', () => {
      psi.sample(nowMs());
      evictIfOwnerNeedsThePc();
      sock.write(`${JSON.stringify(load())}\n`);
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((resolve) => pingServer.listen(socketPath, resolve));

  const threadData: HeartbeatThreadData = { config, name, socketPath, statePath: path.join(opts.stateDir, `${name}.json`), languages };
  const thread = new Worker(new URL('./heartbeat-thread.js', import.meta.url), { workerData: threadData });
  thread.on('error', (err) => {
    log.error({ err: err.message }, 'heartbeat thread died; exiting so the host restarts this Worker');
    process.exit(1);
  });

  const listener = await listenForMembers({ config, name, book, log, dispatch, host: hostNode.address, port: hostNode.port + WORKER_PORT_OFFSET + opts.index });

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
      clearInterval(forgetUnacked);
      for (const r of running.values()) r.handle.kill();
      await thread.terminate();
      pingServer.close();
      peers.close();
      await listener.close();
      await pool.stop();
    },
  };
}
