import type { AgentContext, RoleService } from '../agent/context.js';
import { nowMs } from '../agent/driver.js';
import type { AgentMessage } from '../agent/agent-messages.js';
import { SLOTS_MAX } from '../cluster/messages.js';
import type { RunMessage } from '../protocol/run-messages.js';
import { AssignerCore, type AssignerAction, type WorkerLoadView } from './core.js';

/** How often the Assigner reads the Workers' loads its Monitors sent (they come every 500 ms). */
const VIEW_POLL_MS = 100;
/** A Worker missing from every Monitor's loads this long, never declared dead, is taken for lost. */
const WORKER_SILENT_LOST_MS = 10_000;
/** How long an Assigner leaving its role waits for another Assigner to hand its runs to. */
const HANDOFF_WAIT_MS = 120_000;
/** Acknowledgements (cumulative) wait this long to be merged with the next ones. */
const ACK_COALESCE_MS = 20;
/** A finished run's output stays with its pair this long: a client resuming through a new Gateway finds it. */
const FINISHED_RETAIN_MS = 5 * 60_000;
/** …and at most this many bytes of finished output per Assigner (own runs and the buddy's copies). */
const FINISHED_RETAIN_BYTES_MAX = 256 * 1024 * 1024;

/**
 * The Assigner role: AssignerCore (pure placement and relay) driven by messages from the Gateway
 * and Workers, the Workers' loads from Monitor heartbeats, and timers.
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
  const timers = new Map<string, NodeJS.Timeout>();
  let stopped = false;
  let known = new Set<string>();
  /** Workers gone from the Monitors' loads without being declared dead: name → since when. */
  const missing = new Map<string, number>();

  // Acknowledgements are cumulative: within ACK_COALESCE_MS only the newest per (peer, run) goes
  // out, so a chatty interactive run costs one ack pair per window, not one per line.
  const acks = new Map<string, { to: string; msg: RunMessage }>();
  let ackTimer: NodeJS.Timeout | null = null;
  const flushAcks = () => {
    ackTimer = null;
    for (const { to, msg } of acks.values()) ctx.peers.send(to, msg);
    acks.clear();
  };
  const apply = (actions: AssignerAction[]) => {
    for (const a of actions) {
      if (a.kind === 'send') {
        if (a.msg.type === 'run_ack' || a.msg.type === 'replica_ack') {
          const key = `${a.to}|${a.msg.type}|${a.msg.id}`;
          const prev = acks.get(key)?.msg as { exit: boolean } | undefined;
          const msg = prev?.exit ? { ...a.msg, exit: true } : a.msg;
          if (msg.exit || msg.seq < 0) {
            // A run's hold (the Gateway hears of the run only after it) or its end: at once. Acks
            // are cumulative, so this one covers any still waiting.
            acks.delete(key);
            ctx.peers.send(a.to, msg);
            continue;
          }
          acks.set(key, { to: a.to, msg });
          ackTimer ??= setTimeout(flushAcks, ACK_COALESCE_MS);
          continue;
        }
        ctx.peers.send(a.to, a.msg);
        continue;
      }
      if (a.kind === 'dropped') {
        ctx.log.warn(
          { event: 'dropped', bound: a.bound, run: a.run, boundMax: a.boundMax, droppedTotal: core.dropCounts[a.bound] },
          `run ${a.run}: ${a.bound} holds ${a.boundMax} messages; further ones are dropped`,
        );
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

  // The pair: the buddy named by the newest order, and the buddy's life we copy to. A buddy the
  // Monitors declare dead, or that comes back with a higher incarnation (its state lost), is lost:
  // this Assigner takes its runs over. Every Assigner that ever copied runs here is watched too.
  const lives = new Map<string, number>();
  const watchBuddies = (now: number) => {
    const view = ctx.driver.node.assigner;
    const buddy = ctx.driver.node.buddy;
    if (buddy !== core.buddyName) {
      ctx.log.info({ event: 'buddy', buddy }, `buddy is now ${buddy ?? 'nobody'}`);
      apply(core.setBuddy(buddy));
    }
    if (!view) return;
    for (const name of new Set([...(buddy ? [buddy] : []), ...core.replicaOwners()])) {
      const state = view.assigner(name);
      if (!state) continue;
      const life = lives.get(name);
      if (life === undefined && state.status !== 'dead') lives.set(name, state.incarnation);
      const lost = state.status === 'dead' || (life !== undefined && state.incarnation > life);
      if (!lost) continue;
      lives.delete(name);
      ctx.log.warn({ event: 'buddy_lost', assigner: name, status: state.status }, `assigner ${name} is lost (${state.status}): taking its runs over`);
      apply(core.onBuddyLost(name, now));
    }
  };

  const poll = setInterval(() => {
    const view = ctx.driver.node.assigner;
    if (!view) return;
    const now = nowMs();
    watchBuddies(now);
    const workers: WorkerLoadView[] = view.known(now).map((w) => ({ name: w.name, incarnation: w.incarnation, load: w.load, languages: [...w.languages] }));
    // A Worker is lost when a Monitor declares it dead. Missing from the loads alone it only gets no
    // offers (it may be moving to another Monitor, whose one died); missing for long, it is lost.
    for (const dead of view.takeDeaths()) {
      ctx.log.warn({ event: 'worker_lost', worker: dead }, `worker ${dead} was declared dead by the Monitors`);
      missing.delete(dead);
      apply(core.onWorkerDead(dead, now));
    }
    const names = new Set(workers.map((w) => w.name));
    for (const gone of known) if (!names.has(gone) && !missing.has(gone)) missing.set(gone, now);
    for (const name of names) missing.delete(name);
    for (const [gone, since] of missing) {
      if (now - since < WORKER_SILENT_LOST_MS) continue;
      missing.delete(gone);
      ctx.log.warn({ event: 'worker_lost', worker: gone }, `worker ${gone} has been missing from the Monitors' heartbeats for ${WORKER_SILENT_LOST_MS / 1000} s`);
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
          return apply(core.onOfferReply(from, msg.id, msg.accepted, now, msg.load));
        case 'worker_load':
          return apply(core.onWorkerLoad(from, msg.load, now));
        case 'run_claim':
          return apply(core.onClaim(from, msg.id));
        case 'run_attach':
          return apply(core.onAttach(from, msg.id, msg.afterSeq));
        case 'replica_hold':
        case 'replica_placed':
        case 'replica_output':
        case 'replica_exit':
        case 'replica_restart':
        case 'replica_ack':
        case 'replica_handoff':
          return apply(core.onReplica(from, msg, now));
        case 'run_output':
        case 'run_exit': {
          const actions = core.onWorkerMessage(from, msg, now);
          apply(actions);
          // Read no more from this Worker until the Gateway's and the buddy's links have room: back-pressure.
          const targets = actions.flatMap((a) => (a.kind === 'send' && (a.msg.type === 'run_output' || a.msg.type === 'replica_output') ? [a.to] : []));
          return targets.length === 0 ? undefined : Promise.all(targets.map((t) => ctx.peers.whenWritable(t))).then(() => undefined);
        }
        default:
          ctx.log.debug({ type: msg.type, from }, 'assigner ignored a message');
      }
    },
    load() {
      // Runs held against the bound: the Monitors name the least busy Assigner to the Gateway.
      const held = Math.min(core.runCount, SLOTS_MAX);
      return { slotsBusy: held, slotsFree: Math.max(0, Math.min(SLOTS_MAX, runsMax) - held), queued: core.queueLength };
    },
    /**
     * The node leaves the Assigner role (the Hydra made it a Monitor): its runs go to another live
     * Assigner — not its buddy, which may be leaving too — as soon as the Monitors' table shows one.
     * Until then it keeps relaying them. Bounded: past HANDOFF_WAIT_MS they are left to end here.
     */
    async drain() {
      const leaving = core.buddyName;
      const deadline = Date.now() + HANDOFF_WAIT_MS;
      while (core.runCount > 0 && Date.now() < deadline && !stopped) {
        const rows = ctx.driver.table()?.rows ?? [];
        const to = rows.filter((r) => r.role === 'assigner' && r.status === 'alive' && r.name !== ctx.self.name && r.name !== leaving).map((r) => r.name).sort()[0];
        if (to) {
          ctx.log.info({ event: 'handoff', to, runs: core.runCount }, `leaving the Assigner role: ${core.runCount} runs handed to ${to}`);
          apply(core.handOff(to));
          return;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async stop() {
      stopped = true;
      if (ackTimer) clearTimeout(ackTimer);
      flushAcks();
      clearInterval(poll);
      for (const t of timers.values()) clearTimeout(t);
    },
  };
}
