import type { AgentContext, RoleService } from '../agent/agent.js';
import { nowMs } from '../agent/driver.js';
import type { AgentMessage } from '../agent/agent-messages.js';
import type { RunMessage } from '../runs/messages.js';
import { AssignerCore, type AssignerAction, type WorkerLoadView } from './core.js';

/** How often the Assigner reads the Workers' loads its Monitors sent (they come every 500 ms). */
const VIEW_POLL_MS = 100;

/**
 * The Assigner role: AssignerCore (pure placement and relay) driven by messages from the Gateway
 * and Workers, the Workers' loads from Monitor heartbeats, and timers.
 */
export function startAssigner(ctx: AgentContext): RoleService {
  const core = new AssignerCore({
    name: ctx.self.name,
    queueMax: ctx.config.queue.runsMax,
    runsMax: ctx.config.queue.runsMax * 4,
    offerTimeoutMs: 2 * ctx.config.heartbeat.intervalMs,
    psiAcceptBelow: ctx.config.psi.acceptBelow,
    workerStaleMs: 4 * ctx.config.heartbeat.intervalMs,
    retryAfterMs: 250,
  });
  const timers = new Map<string, NodeJS.Timeout>();
  let known = new Set<string>();

  const apply = (actions: AssignerAction[]) => {
    for (const a of actions) {
      if (a.kind === 'send') {
        ctx.peers.send(a.to, a.msg);
        continue;
      }
      const prev = timers.get(a.key);
      if (prev) clearTimeout(prev);
      timers.set(
        a.key,
        setTimeout(() => {
          timers.delete(a.key);
          apply(core.onTimer(a.key, nowMs()));
        }, Math.max(0, a.atMs - nowMs())),
      );
    }
  };

  const poll = setInterval(() => {
    const view = ctx.driver.node.assigner;
    if (!view) return;
    const now = nowMs();
    const workers: WorkerLoadView[] = view.known(now).map((w) => ({ name: w.name, incarnation: w.incarnation, load: w.load, languages: [...w.languages] }));
    const names = new Set(workers.map((w) => w.name));
    for (const gone of known) if (!names.has(gone)) {
      ctx.log.warn({ event: 'worker_lost', worker: gone }, `worker ${gone} is gone from the Monitors' heartbeats`);
      apply(core.onWorkerDead(gone, now));
    }
    known = names;
    apply(core.onMonitorHeartbeat(workers, now));
  }, VIEW_POLL_MS);

  return {
    handle(from: string, msg: RunMessage | AgentMessage) {
      const now = nowMs();
      switch (msg.type) {
        case 'run_submit':
          return apply(core.onSubmit(from, msg.run, now));
        case 'run_input':
        case 'run_eof':
        case 'run_kill':
          return apply(core.onGatewayMessage(msg, now));
        case 'run_evicted':
          return apply(core.onEvicted(from, msg.id, now));
        case 'offer_reply':
          return apply(core.onOfferReply(from, msg.id, msg.accepted, now));
        case 'run_output':
        case 'run_exit': {
          const actions = core.onWorkerMessage(from, msg, now);
          apply(actions);
          // Read no more from this Worker until the Gateway's link has room: back-pressure.
          const to = actions.find((a) => a.kind === 'send');
          return to && to.kind === 'send' ? ctx.peers.whenWritable(to.to) : undefined;
        }
        default:
          ctx.log.debug({ type: msg.type, from }, 'assigner ignored a message');
      }
    },
    async stop() {
      clearInterval(poll);
      for (const t of timers.values()) clearTimeout(t);
    },
  };
}
