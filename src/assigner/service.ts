import type { AgentContext, RoleService } from '../agent/context.js';
import { systemClock } from '../common/clock.js';
import { AssignerCore } from './core.js';
import { AssignerDriver } from './driver.js';

/** A finished run's output stays with its pair this long: a client resuming through a new Gateway finds it. */
const FINISHED_RETAIN_MS = 5 * 60_000;
/** …and at most this many bytes of finished output per Assigner (own runs and the buddy's copies). */
const FINISHED_RETAIN_BYTES_MAX = 256 * 1024 * 1024;

/**
 * The Assigner role: AssignerCore (pure placement and relay) built from the lab config, driven by
 * an AssignerDriver (driver.ts) over the node's links, clock and Monitor-fed view.
 */
export function startAssigner(ctx: AgentContext): RoleService {
  const runsMax = ctx.config.queue.runsMax * 4;
  const core = new AssignerCore({
    name: ctx.self.name,
    queueMax: ctx.config.queue.runsMax,
    runsMax,
    offerTimeoutMs: 2 * ctx.config.heartbeat.intervalMs,
    psiAcceptBelow: ctx.config.psi.acceptBelow,
    workerStaleMs: 4 * ctx.config.heartbeat.intervalMs,
    retryAfterMs: ctx.config.queue.offerRetryMs,
    finishedRetainMs: FINISHED_RETAIN_MS,
    finishedRetainBytesMax: FINISHED_RETAIN_BYTES_MAX,
    finishedRetainCountMax: ctx.config.queue.runsMax * 16,
  });
  const driver = new AssignerDriver({
    core,
    clock: systemClock,
    links: ctx.peers,
    sight: {
      view: () => ctx.driver.node.assigner,
      buddy: () => ctx.driver.node.buddy,
      liveAssigners: () => (ctx.driver.table()?.rows ?? []).filter((r) => r.role === 'assigner' && r.status === 'alive').map((r) => r.name),
      watch: (listener) => ctx.driver.afterEachStep(listener),
    },
    log: ctx.log,
    self: ctx.self.name,
    runsMax,
  });
  driver.start();
  return {
    handle: (from, msg) => driver.onMessage(from, msg),
    load: () => driver.load(),
    drain: () => driver.drain(),
    stop: async () => driver.stop(),
  };
}
