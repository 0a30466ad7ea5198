import type { LeastLoadedAssignerReply } from '../cluster/messages.js';
import type { AgentMessage } from '../agent/agent-messages.js';
import type { Logger } from '../agent/log.js';
import type { AssignerView } from '../cluster/assigner-view.js';
import { SLOTS_MAX } from '../protocol/bounds.js';
import type { RunMessage } from '../protocol/run-messages.js';
import type { Clock, Timer } from '../common/clock.js';
import type { Transport } from '../common/transport.js';
import type { AssignerAction, AssignerCore, WorkerLoadView } from './core.js';

/**
 * The Assigner's driver: feeds messages, the Monitors' view of the Workers and time to the
 * AssignerCore and carries out its actions with the ports it is given (links, clock, the node's
 * view). It decides nothing of placement or relay; startAssigner (service.ts) builds it with the
 * real ports, tests with the twins (src/worker/twins.ts: ManualClock).
 */

/** A Worker missing from every Monitor's loads this long, never declared dead, is taken for lost. */
export const WORKER_SILENT_LOST_MS = 10_000;
/** How long an Assigner leaving its role waits for another Assigner to hand its runs to. */
export const HANDOFF_WAIT_MS = 120_000;
/** How often a leaving Assigner looks again for another one (the table changes at gossip pace). */
export const HANDOFF_LOOK_MS = 250;
/** Acknowledgements (cumulative) wait this long to be merged with the next ones. */
export const ACK_COALESCE_MS = 20;

/** The links to other members (the one Transport port). */
export type AssignerLinks = Transport<RunMessage>;

/** What the Assigner reads of its node: the Monitors' heartbeats, its buddy, the table. */
export interface AssignerSight {
  /** The Workers' loads and the Assigners' states from Monitor heartbeats; null while not an Assigner. */
  view(): Pick<AssignerView, 'known' | 'takeDeaths' | 'assigner'> | null;
  /** The buddy the newest role order named. */
  buddy(): string | null;
  /** Assigners the node's table shows alive, this one included (empty without a table). */
  liveAssigners(): string[];
  /**
   * Calls listener after every step of the node's cluster core (src/agent/driver.ts
   * afterEachStep) until the returned function is called. The view changes only in such a step
   * (a Monitor's heartbeat, an order), and the node's own heartbeat steps it every heartbeat
   * interval, so reading the view then misses nothing and costs no wake-up of its own.
   */
  watch(listener: () => void): () => void;
}

export interface AssignerDriverOptions {
  core: AssignerCore;
  clock: Clock;
  links: AssignerLinks;
  sight: AssignerSight;
  log: Logger;
  /** This node's name (never a handoff target). */
  self: string;
  /** The core's bound on runs held: room left is reported against it. */
  runsMax: number;
}

/**
 * The core's keyed deadlines, so one clock timer serves them all: a key set again moves its
 * deadline. Bounded by the core's own state (one offer deadline per run held, plus 'retry' and
 * 'expire'), so no bound of its own.
 */
export class Deadlines {
  private readonly atMs = new Map<string, number>();

  set(key: string, atMs: number): void {
    this.atMs.delete(key); // re-inserted: among equal deadlines the newest request goes last
    this.atMs.set(key, atMs);
  }

  /** The earliest deadline, or null. */
  next(): number | null {
    let min: number | null = null;
    for (const at of this.atMs.values()) if (min === null || at < min) min = at;
    return min;
  }

  /** Removes and returns the keys due at nowMs, earliest first. */
  takeDue(nowMs: number): string[] {
    const due = [...this.atMs].filter(([, at]) => at <= nowMs).sort((a, b) => a[1] - b[1]);
    for (const [key] of due) this.atMs.delete(key);
    return due.map(([key]) => key);
  }

  clear(): void {
    this.atMs.clear();
  }
}

type AckMessage = Extract<RunMessage, { type: 'run_ack' | 'replica_ack' }>;

export class AssignerDriver {
  private readonly deadlines = new Deadlines();
  private wake: { atMs: number; timer: Timer } | null = null;
  private unwatch: (() => void) | null = null;
  /** The wake-up for the earliest missing Worker's WORKER_SILENT_LOST_MS (no step may come then). */
  private silent: { atMs: number; timer: Timer } | null = null;
  private stopped = false;
  /** Workers in the last poll's loads. */
  private known = new Set<string>();
  /** Workers gone from the Monitors' loads without being declared dead: name → since when. */
  private readonly missing = new Map<string, number>();
  /** The incarnation of each watched Assigner's life we copy to or hold copies of. */
  private readonly lives = new Map<string, number>();
  // Acknowledgements are cumulative: within ACK_COALESCE_MS only the newest per (peer, run) goes
  // out, so a chatty interactive run costs one ack pair per window, not one per line. Bounded by
  // the runs held (one entry per peer and run).
  private readonly acks = new Map<string, { to: string; msg: AckMessage }>();
  private ackTimer: Timer | null = null;

  constructor(private readonly o: AssignerDriverOptions) {}

  /**
   * Reads the Monitors' view after every step of the node's cluster core, where it changes. It
   * used to be polled every 100 ms: ten wake-ups a second on every idle Assigner for a view that
   * changes twice a second per Monitor, in steps that wake the process anyway.
   */
  start(): void {
    this.unwatch = this.o.sight.watch(() => this.pollView());
  }

  /**
   * A message for the role. A returned promise holds back further messages from that link until
   * it settles: a Worker's output is read no faster than the Gateway's and the buddy's links take it.
   */
  onMessage(from: string, msg: RunMessage | AgentMessage | LeastLoadedAssignerReply): void | Promise<void> {
    const core = this.o.core;
    const now = this.o.clock.nowMs();
    switch (msg.type) {
      case 'run_submit':
        this.step(() => core.onSubmit(from, msg.run, now));
        return;
      case 'run_input':
      case 'run_eof':
      case 'run_kill':
        this.step(() => core.onGatewayMessage(msg, now));
        return;
      case 'run_evicted':
        this.step(() => core.onEvicted(from, msg.id, now));
        return;
      case 'offer_reply':
        this.step(() => core.onOfferReply(from, msg.id, msg.accepted, now, msg.load, msg.life));
        return;
      case 'worker_load':
        this.step(() => core.onWorkerLoad(from, msg.load, now));
        return;
      case 'run_claim':
        this.step(() => core.onClaim(from, msg.id));
        return;
      case 'run_attach':
        this.step(() => core.onAttach(from, msg.id, msg.afterSeq));
        return;
      case 'replica_hold':
      case 'replica_placed':
      case 'replica_output':
      case 'replica_exit':
      case 'replica_restart':
      case 'replica_ack':
      case 'replica_handoff':
        this.step(() => core.onReplica(from, msg, now));
        return;
      case 'run_output':
      case 'run_exit': {
        const actions = this.step(() => core.onWorkerMessage(from, msg, now));
        const targets = actions.flatMap((a) => (a.kind === 'send' && (a.msg.type === 'run_output' || a.msg.type === 'replica_output') ? [a.to] : []));
        return targets.length === 0 ? undefined : Promise.all(targets.map((t) => this.o.links.whenWritable(t))).then(() => undefined);
      }
      // The Gateway's and the Worker's legs, not the Assigner's.
      case 'run_queued':
      case 'run_started':
      case 'run_refused':
      case 'run_restart':
      case 'run_attached':
      case 'offer':
      case 'run_ack':
      case 'run_takeover':
        this.o.log.debug({ type: msg.type, from }, 'assigner ignored a message');
        return;
      default: {
        // Every run message is a case above: only the agent's own messages are left.
        const other: Exclude<typeof msg, RunMessage> = msg;
        this.o.log.debug({ type: other.type, from }, 'assigner ignored a message');
        return;
      }
    }
  }

  /** Runs held against the bound: the Monitors name the least busy Assigner to the Gateway. */
  load(): { slotsFree: number; slotsBusy: number; queued: number } {
    const core = this.o.core;
    const held = Math.min(core.runCount, SLOTS_MAX);
    return { slotsBusy: held, slotsFree: Math.max(0, Math.min(SLOTS_MAX, this.o.runsMax) - held), queued: core.queueLength };
  }

  /**
   * The node leaves the Assigner role (the Hydra made it a Monitor): its runs go to another live
   * Assigner — not its buddy, which may be leaving too — as soon as the Monitors' table shows one.
   * Until then it keeps relaying them. Bounded: past HANDOFF_WAIT_MS they are left to end here.
   */
  async drain(): Promise<void> {
    const core = this.o.core;
    const leaving = core.buddyName;
    const deadline = this.o.clock.nowMs() + HANDOFF_WAIT_MS;
    while (core.runCount > 0 && this.o.clock.nowMs() < deadline && !this.stopped) {
      const to = this.o.sight.liveAssigners().filter((n) => n !== this.o.self && n !== leaving).sort()[0];
      if (to) {
        this.o.log.info({ event: 'handoff', to, runs: core.runCount }, `leaving the Assigner role: ${core.runCount} runs handed to ${to}`);
        this.step(() => core.handOff(to));
        return;
      }
      // Only while leaving the role with runs held: no idle wake-up, so not on a beat.
      await new Promise<void>((r) => this.o.clock.after(HANDOFF_LOOK_MS, r));
    }
  }

  /** Sends the acks still waiting and stops every timer. */
  stop(): void {
    this.stopped = true;
    this.ackTimer?.cancel();
    this.flushAcks();
    this.unwatch?.();
    this.unwatch = null;
    this.silent?.timer.cancel();
    this.silent = null;
    this.wake?.timer.cancel();
    this.wake = null;
    this.deadlines.clear();
  }

  /** One read of the Monitors' view: buddies lost, Workers dead or long missing, the loads. */
  pollView(): void {
    if (this.stopped) return;
    const view = this.o.sight.view();
    if (!view) return;
    const core = this.o.core;
    const now = this.o.clock.nowMs();
    this.watchBuddies(view, now);
    const workers: WorkerLoadView[] = view.known(now).map((w) => ({ name: w.name, incarnation: w.incarnation, life: w.life, load: w.load, languages: [...w.languages] }));
    // A Worker is lost when a Monitor declares it dead. Missing from the loads alone it only gets no
    // offers (it may be moving to another Monitor, whose one died); missing for long, it is lost.
    for (const dead of view.takeDeaths()) {
      this.o.log.warn({ event: 'worker_lost', worker: dead }, `worker ${dead} was declared dead by the Monitors`);
      this.missing.delete(dead);
      this.step(() => core.onWorkerDead(dead, now));
    }
    const names = new Set(workers.map((w) => w.name));
    for (const gone of this.known) if (!names.has(gone) && !this.missing.has(gone)) this.missing.set(gone, now);
    for (const name of names) this.missing.delete(name);
    for (const [gone, since] of this.missing) {
      if (now - since < WORKER_SILENT_LOST_MS) continue;
      this.missing.delete(gone);
      this.o.log.warn({ event: 'worker_lost', worker: gone }, `worker ${gone} has been missing from the Monitors' heartbeats for ${WORKER_SILENT_LOST_MS / 1000} s`);
      this.step(() => core.onWorkerDead(gone, now));
    }
    this.known = names;
    this.step(() => core.onMonitorHeartbeat(workers, now));
    this.armSilent(now);
  }

  /** A wake-up when the earliest missing Worker's time is up, in case no step comes by then. */
  private armSilent(now: number): void {
    let atMs: number | null = null;
    for (const since of this.missing.values()) if (atMs === null || since + WORKER_SILENT_LOST_MS < atMs) atMs = since + WORKER_SILENT_LOST_MS;
    if (this.silent !== null && this.silent.atMs === atMs) return;
    this.silent?.timer.cancel();
    this.silent = null;
    if (atMs === null || this.stopped) return;
    // Exact, not on a beat: the deadline is rare (a Worker gone without a word) and one-off.
    const timer = this.o.clock.after(Math.max(0, atMs - now), () => {
      this.silent = null;
      this.pollView();
    });
    this.silent = { atMs, timer };
  }

  /**
   * The pair: the buddy named by the newest order, and the buddy's life we copy to. A buddy the
   * Monitors declare dead, or that comes back with a higher life (restarted, its state lost), is lost:
   * this Assigner takes its runs over. Every Assigner that ever copied runs here is watched too.
   * An order naming an Assigner the Monitors declare dead is stale (the leader has not re-paired
   * yet): it is no buddy until its next life, and a life is taken over once (again only for
   * copies of it that arrived since) — else every poll copied all runs to the dead one (holding
   * every Worker's acks for it) and took them back.
   */
  private watchBuddies(view: Pick<AssignerView, 'assigner'>, now: number): void {
    const core = this.o.core;
    const named = this.o.sight.buddy();
    const buddy = named !== null && view.assigner(named)?.status === 'dead' ? null : named;
    if (buddy !== core.buddyName) {
      this.o.log.info({ event: 'buddy', buddy }, `buddy is now ${buddy ?? 'nobody'}`);
      this.step(() => core.setBuddy(buddy));
    }
    const owners = core.replicaOwners();
    for (const name of new Set([...(named ? [named] : []), ...owners])) {
      const state = view.assigner(name);
      if (!state) continue;
      const life = this.lives.get(name);
      if (life === undefined && state.status !== 'dead') this.lives.set(name, state.life);
      // A higher incarnation in the same life is a refutation (the buddy was only suspected): its
      // runs are still there, and taking them over would give each of them two Assigners.
      const lost = (state.status === 'dead' && (life !== undefined || owners.has(name))) || (life !== undefined && state.life > life);
      if (!lost) continue;
      this.lives.delete(name);
      this.o.log.warn({ event: 'buddy_lost', assigner: name, status: state.status }, `assigner ${name} is lost (${state.status}): taking its runs over`);
      this.step(() => core.onBuddyLost(name, now));
    }
  }

  /** Runs one core step, carries out its actions, and sets the wake timer for the next deadline. */
  private step(fn: () => AssignerAction[]): AssignerAction[] {
    if (this.stopped) return [];
    const actions = fn();
    for (const a of actions) this.carry(a);
    this.rearm();
    return actions;
  }

  private carry(a: AssignerAction): void {
    switch (a.kind) {
      case 'send':
        if (a.msg.type === 'run_ack' || a.msg.type === 'replica_ack') this.ack(a.to, a.msg);
        else this.o.links.send(a.to, a.msg);
        return;
      case 'dropped':
        this.o.log.warn(
          { event: 'dropped', bound: a.bound, run: a.run, boundMax: a.boundMax, droppedTotal: this.o.core.dropCounts[a.bound] },
          `run ${a.run}: ${a.bound} holds ${a.boundMax} messages; further ones are dropped`,
        );
        return;
      case 'timer':
        this.deadlines.set(a.key, a.atMs);
        return;
      default: {
        const never: never = a;
        throw new Error(`unhandled assigner action ${JSON.stringify(never)}`);
      }
    }
  }

  private rearm(): void {
    const atMs = this.deadlines.next();
    if (this.wake !== null && this.wake.atMs === atMs) return;
    this.wake?.timer.cancel();
    this.wake = null;
    if (atMs === null) return;
    // Exact, not on a beat: the core's deadlines are one-off (an offer's timeout moves the run to
    // the next Worker; a retry; an expiry), and on idle there are none, so no wake-up to share.
    const timer = this.o.clock.after(atMs - this.o.clock.nowMs(), () => {
      this.wake = null;
      const now = this.o.clock.nowMs();
      // Each due key is its own step: a step's actions may set (or move) the next keys.
      for (const key of this.deadlines.takeDue(now)) this.step(() => this.o.core.onTimer(key, now));
      this.rearm();
    });
    this.wake = { atMs, timer };
  }

  private ack(to: string, m: AckMessage): void {
    const key = `${to}|${m.type}|${m.id}`;
    const prev = this.acks.get(key)?.msg;
    const msg = prev?.exit ? { ...m, exit: true } : m;
    if (msg.exit || msg.seq < 0) {
      // A run's hold (the Gateway hears of the run only after it) or its end: at once. Acks are
      // cumulative, so this one covers any still waiting.
      this.acks.delete(key);
      this.o.links.send(to, msg);
      return;
    }
    this.acks.set(key, { to, msg });
    // Exact: a coalescing window while output flows (its length bounds the ack's delay), never idle.
    this.ackTimer ??= this.o.clock.after(ACK_COALESCE_MS, () => this.flushAcks());
  }

  private flushAcks(): void {
    this.ackTimer = null;
    for (const { to, msg } of this.acks.values()) this.o.links.send(to, msg);
    this.acks.clear();
  }
}
