import path from 'node:path';
import type { AgentContext } from '../agent/context.js';
import { deadBoundMs } from '../cluster/timing.js';
import { nowMs, type StateFile } from '../agent/driver.js';
import { everyBeat, processWallOffsetMs } from '../common/beat.js';
import type { Timer } from '../common/clock.js';
import { GatewayFailover, type FailoverNote, type FailoverView } from '../cluster/gateway-failover.js';
import { GATEWAY_FILE_BYTES_MAX, type GatewayDataMessage, type GatewayFailoverMessage } from '../cluster/gateway-messages.js';
import { JobeFileStore } from './compat/jobe-files.js';
import { prepareGatewayApi, type GatewayApi } from './service.js';
import { ProblemSync } from '../judge/sync.js';
import type { JudgeSyncMessage } from '../judge/sync-messages.js';
import { JudgeReplica } from '../judge/replica.js';
import { REPLICA_BOUNDS } from '../judge/service.js';

/** How often a standby asks the Gateway for problems it lacks. */
const PROBLEM_SYNC_MS = 2_000;
/**
 * How often a standby asks the Gateway for the judge's journal (submissions, batches, finished
 * tests): a takeover runs again at most the tests that finished in the last interval (plus those
 * running). An answer that says there is more is followed at once.
 */
const JOURNAL_SYNC_MS = 500;
import { execRunner, VirtualIp, type CommandRunner } from './vip.js';

export interface GatewayFailoverHandle {
  /** A gw_* message from a peer. */
  receive(from: string, msg: GatewayFailoverMessage): void;
  /** The serving Gateway's data for its standby (a Jobe file). */
  receiveData(from: string, msg: GatewayDataMessage): void;
  /** A judge_* message: the standby's copy of the judge's problems (judge/sync.ts) and of its
   * submissions and batches (judge/replica.ts). */
  receiveJudge(from: string, msg: JudgeSyncMessage): void;
  /** The Gateway API while this node serves it (or holds it warm as standby): it takes the runs'
   * streams and the Monitors' answers. */
  api(): GatewayApi | null;
  readonly serving: boolean;
  stop(): Promise<void>;
}

export interface FailoverServiceOptions {
  /** Runs `ip` and `arping` (tests inject a fake). */
  vipRunner?: CommandRunner;
}

/** Test hook: CODEARENA_VIP_BIN_DIR names a folder whose `ip` and `arping` run instead of the real ones. */
function testHookRunner(): CommandRunner | null {
  const dir = process.env.CODEARENA_VIP_BIN_DIR;
  return dir ? (cmd, args) => execRunner(path.join(dir, cmd), args) : null;
}

/**
 * Runs the Gateway standby protocol (src/cluster/gateway-failover.ts) for a node agent on real
 * time and links, and does what it decides: serve the Gateway API (and take the virtual IP) for an
 * epoch this node holds, stop when a newer epoch appears, keep the API built while standby.
 */
export function startGatewayFailover(ctx: AgentContext, stateFile: StateFile, opts: FailoverServiceOptions = {}): GatewayFailoverHandle {
  const { config, self, log } = ctx;
  const seeds = config.nodes.filter((n) => n.role === 'monitor').map((n) => n.name);
  const core = new GatewayFailover(
    {
      self: self.name,
      configuredGateway: config.gateway.host,
      intervalMs: config.heartbeat.gatewayIntervalMs,
      missedLimit: config.heartbeat.missedLimit,
      // As long as a new Monitor leader waits before its first order: nodes booting with it
      // (the Gateway among them) have not all reported yet.
      graceMs: 2 * deadBoundMs({ missedLimit: config.heartbeat.missedLimit, heartbeatIntervalMs: config.heartbeat.intervalMs }),
      designationIntervalMs: config.heartbeat.intervalMs,
      // A node with nothing due sleeps a heartbeat interval; a change of its view wakes it sooner
      // (the cluster driver's steps are watched below).
      idleTickMs: config.heartbeat.intervalMs,
      // Its periodic steps on the wall-clock beats, with the cluster core's (src/common/beat.ts).
      grid: { wallOffsetMs: processWallOffsetMs },
    },
    stateFile.loadGateway(),
    seeds,
    nowMs(),
  );
  const run = opts.vipRunner ?? testHookRunner();
  const vip = config.gateway.virtualIp ? new VirtualIp({ address: config.gateway.virtualIp, ownAddress: self.address, log, ...(run ? { run } : {}) }) : null;
  const port = self.name === config.gateway.host ? config.gateway.port : (config.gateway.standbyPort ?? config.gateway.port);
  // With a virtual IP the Gateway answers on it and on its own address alike.
  const host = vip ? '0.0.0.0' : self.address;
  let api: GatewayApi | null = null;
  let serving = false;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  // API start/stop is asynchronous; one chain keeps them in the protocol's order.
  let chain: Promise<void> = Promise.resolve();
  const later = (f: () => Promise<void>) => {
    chain = chain.then(f).catch((err: Error) => log.error({ event: 'gateway', err: err.message }, `gateway: ${err.message}`));
  };

  const view = (): FailoverView => {
    const m = ctx.driver.node.monitor;
    if (!m) return { isMonitor: false, term: 0, leader: false, voters: seeds, live: seeds };
    return { isMonitor: true, term: m.election.term, leader: m.election.role === 'leader', voters: m.table.knownMonitors(), live: m.table.liveMonitors() };
  };

  // Jobe's files live here, not in one API instance: a standby keeps what the serving Gateway
  // copies to it whether or not its API is built yet, and serves them after a takeover.
  const jobeFiles = new JobeFileStore();
  const copyJobeFile = (id: string, data: Buffer): void => {
    // Bigger files (rare in CodeRunner) are left to the protocol: a 404 makes it upload again.
    if (!serving || data.length > GATEWAY_FILE_BYTES_MAX) return;
    const standby = core.standbyTarget;
    // No standby known yet: every live Monitor (the heartbeat does likewise), one of them is it.
    const to = standby !== null ? [standby] : view().live.filter((n) => n !== self.name);
    for (const m of to) ctx.peers.send(m, { type: 'gw_jobe_file', from: self.name, id, data: data as Uint8Array<ArrayBuffer> }); // a Buffer is a Uint8Array: no copy
  };

  const ensureApi = async (): Promise<GatewayApi> => {
    if (!api) api = await prepareGatewayApi(ctx, { files: jobeFiles, onPut: copyJobeFile });
    return api;
  };

  // The standby's copy of the judge's journal (submissions, batches, finished tests). It lives
  // here, beside the Jobe files, not in one API instance: a takeover hands it to the new API.
  const journalCopy = new JudgeReplica(self.name, (to, m) => ctx.peers.send(to, m), REPLICA_BOUNDS);
  let droppedLogged = 0;

  const onNote = (n: FailoverNote): void => {
    switch (n.kind) {
      case 'serve': {
        serving = true;
        const url = `http://${vip ? config.gateway.virtualIp : self.address}:${port}`;
        log.info({ event: 'gateway_serve', epoch: n.epoch, takeover: n.takeover, port }, n.takeover ? `took over as Gateway (epoch ${n.epoch})` : `Gateway epoch ${n.epoch} confirmed by the Monitors`);
        later(async () => {
          if (!serving || stopped) return;
          const a = await ensureApi();
          a.backend.epoch = n.epoch;
          if (n.takeover) {
            // Before the API answers: GET of a submission or batch the dead Gateway held finds it.
            const r = a.judge.adopt(journalCopy);
            journalCopy.clear();
            if (r.submissions + r.batches + r.lost.length > 0) {
              log.info({ event: 'judge_adopted', ...r, lost: r.lost.length }, `judge: took over ${r.submissions} submissions (${r.finished} finished, ${r.testsToRun} tests to run) and ${r.batches} batches`);
            }
            if (r.lost.length > 0) log.error({ event: 'judge_lost', submissions: r.lost.slice(0, 20) }, `judge: ${r.lost.length} submissions not resumed: their problem was not copied before the Gateway failed`);
          }
          await a.listen(host, port);
          log.info({ event: 'gateway', port, epoch: n.epoch }, `CodeArena gateway listening on ${url} (epoch ${n.epoch})`);
          if (vip) await vip.acquire();
        });
        return;
      }
      case 'stop':
        serving = false;
        log.warn({ event: 'gateway_stepped_down', epoch: n.epoch, newer: n.record }, `stepped down as Gateway: epoch ${n.record.epoch} belongs to ${n.record.holder} (ours was ${n.epoch})`);
        later(async () => {
          const a = api;
          api = null;
          // Clients first, while the address is still ours: the close frames reach them and they
          // resume (through the address, at the new Gateway). A client left on a connection whose
          // address moved would wait for output that never comes (the lab found runs lost so).
          a?.dropClients();
          // Then the address: clients' next packets must not reach a Gateway that is closing.
          await vip?.release();
          await a?.close(true);
        });
        return;
      case 'standby':
        log.info({ event: 'gateway_standby', acting: n.acting, term: n.term }, n.acting ? `Gateway standby (term ${n.term})` : 'no longer Gateway standby');
        later(async () => {
          if (n.acting && !stopped) await ensureApi(); // warm: a takeover then only listens
          else if (!n.acting && !serving) journalCopy.clear();
          if (!n.acting && !serving && api) {
            const a = api;
            api = null;
            await a.close(true);
          }
        });
        return;
      case 'claim':
        log.warn({ event: 'gateway_claim', epoch: n.epoch, silentMs: n.silentMs }, `Gateway silent for ${n.silentMs} ms: claiming epoch ${n.epoch}`);
        return;
      case 'granted':
        log.info({ event: 'gateway_granted', epoch: n.epoch, to: n.to }, `granted Gateway epoch ${n.epoch} to ${n.to}`);
        return;
      case 'designated':
        log.info({ event: 'gateway_designated', standby: n.standby, term: n.term }, `designated ${n.standby} Gateway standby (term ${n.term})`);
        return;
      default: {
        const never: never = n;
        return never;
      }
    }
  };

  // The standby keeps a copy of the Gateway's problems, so after a takeover they are there.
  const problems = new ProblemSync(self.name, (to, m) => ctx.peers.send(to, m));
  // The copies are fetched only while this node holds the API warm and does not serve it (a
  // standby). Their timers start the first time that is so (checked at every step), and then run
  // for good: a node that is never standby (most agents) is not woken by them at all.
  // On the wall-clock beats (src/common/beat.ts): they wake the standby with its other timers.
  let syncTimers: { problems: Timer; journal: Timer } | null = null;
  const startSyncTimers = (): void => {
    if (syncTimers !== null || api === null || serving || stopped) return;
    syncTimers = {
      problems: everyBeat(PROBLEM_SYNC_MS, () => {
        if (api && !serving && !stopped) problems.tick(core.record.holder, nowMs());
      }, { unref: true }),
      journal: everyBeat(JOURNAL_SYNC_MS, () => {
        if (api && !serving && !stopped) journalCopy.tick(core.record.holder, nowMs());
      }, { unref: true }),
    };
  };

  const receiveJudge = (from: string, msg: JudgeSyncMessage): void => {
    switch (msg.type) {
      case 'judge_problems_ask':
      case 'judge_problems':
      case 'judge_problem_ask':
      case 'judge_problem_part':
        return problems.receive(from, msg, api?.judge ?? null, nowMs());
      case 'judge_log_ask': {
        // Only the serving Gateway's journal is the one to copy (a warm standby's judge is empty).
        if (!serving || !api) return;
        const { message, refused } = api.judge.answerLog(self.name, msg);
        if (refused > 0) log.error({ event: 'judge_journal_refused', refused }, `judge: ${refused} journal items do not fit the wire schema; the standby cannot resume them`);
        ctx.peers.send(from, message);
        return;
      }
      case 'judge_log': {
        if (serving || from !== core.record.holder) return;
        const needed = journalCopy.receive(from, msg, nowMs());
        if (journalCopy.dropped > droppedLogged) {
          log.error({ event: 'judge_journal_dropped', dropped: journalCopy.dropped }, `judge: the standby's copy dropped ${journalCopy.dropped - droppedLogged} items over its bounds`);
          droppedLogged = journalCopy.dropped;
        }
        // A submission of a problem not copied yet: fetch the problems now, not in 2 s.
        if (api && needed.some((id) => !api?.judge.problem(id))) problems.tick(core.record.holder, nowMs());
        return;
      }
      default: {
        const never: never = msg;
        return never;
      }
    }
  };

  /** What of the view the core acts on at once: Monitor or not, the term, leader or not. */
  const viewKey = (): string => {
    const m = ctx.driver.node.monitor;
    return m ? `${m.election.term}/${m.election.role === 'leader'}` : '-';
  };
  let steppedViewKey = '';
  const step = (event: Parameters<GatewayFailover['step']>[0]): void => {
    if (stopped) return;
    steppedViewKey = viewKey();
    const out = core.step(event, nowMs(), view());
    // Written before anything leaves: a grant is a vote.
    if (out.persist) stateFile.saveGateway(out.persist);
    for (const m of out.messages) ctx.peers.send(m.to, m.message);
    for (const n of out.notes) onNote(n);
    if (api) api.backend.standby = core.standby;
    startSyncTimers();
    if (timer) clearTimeout(timer);
    // nextAtMs is already on the beat when it is a periodic step (the core's grid, above), and
    // exact when it is a one-off deadline (a claim), which must not wait for a beat.
    timer = setTimeout(() => step({ type: 'tick' }), Math.max(1, out.nextAtMs - nowMs()));
  };
  // The configured Gateway builds its API before it takes part in the protocol: building it
  // (fastify, the judge's stored problems, the web assets) holds the event loop for up to a second
  // on a busy PC, and once the Monitors had granted it an epoch that silence let the standby take
  // over a Gateway that was only starting (seen on `up` under load: a chain of false takeovers).
  // Until then what the peers send is dropped, as a lossy link would: the protocol sends again.
  let started = self.name !== config.gateway.host;
  // The core sleeps while it has nothing due; a new term or leadership (seen by the cluster core)
  // steps it at once, as its 100 ms tick used to within a tick: a new leader designates at once.
  ctx.driver.afterEachStep(() => {
    if (started && viewKey() !== steppedViewKey) step({ type: 'tick' });
  });
  if (started) step({ type: 'tick' });
  else
    later(async () => {
      try {
        await ensureApi();
      } finally {
        // A build that failed is logged by later(); the protocol runs regardless (serve retries it).
        started = true;
        if (!stopped) step({ type: 'tick' });
      }
    });

  return {
    receive: (from, msg) => {
      if (started) step({ type: 'receive', from, message: msg });
    },
    receiveData: (_from, msg) => {
      if (!serving) jobeFiles.put(msg.id, Buffer.from(msg.data));
    },
    receiveJudge,
    api: () => api,
    get serving() {
      return serving;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (syncTimers) {
        syncTimers.problems.cancel();
        syncTimers.journal.cancel();
      }
      await chain;
      const a = api;
      api = null;
      await a?.close(false);
      await vip?.release();
    },
  };
}
