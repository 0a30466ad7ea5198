import { periodAfter, type BeatGrid } from '../common/beat.js';
import { majority } from './election.js';
import type { GatewayFailoverMessage, GatewayRecord } from './gateway-messages.js';
import type { NodeName } from './messages.js';

// The Gateway standby protocol, as a pure state machine (events and a clock in, messages, notes
// and state to persist out), run by every node agent that may hold the Gateway: the configured
// Gateway PC and every Monitor.
//
// Epochs. Epoch 1 belongs to the configured Gateway (gateway.host); a takeover is a newer epoch.
// A node serves the API only for an epoch that a majority of the Monitors (the election's
// voters) GRANTED it: a standby whose Gateway fell silent claims the next epoch; a Gateway that
// (re)starts claims the epoch it holds again before serving. Each Monitor grants an epoch to one
// node only, and never one below what it granted or knows held (the grant is persisted before the
// reply leaves, like a Raft vote). Any two majorities share a Monitor, so two nodes never both
// hold one epoch: at most one active Gateway per epoch (contract 3), whatever the designation
// below says. A Gateway that learns of a newer epoch (an ack of its heartbeat, a claim reply, the
// new Gateway's gw_epoch, a designation) stops serving at once and drops the virtual address; a
// Gateway restarted after a takeover finds the newer epoch in the Monitors' replies and never
// serves.
//
// Who is standby. The Monitor leader designates it, stamped with its term, and repeats the
// designation every designationIntervalMs to every live Monitor: the first live Monitor by name
// that does not hold the Gateway (kept while it stays alive, so a re-election does not move it).
// A Monitor acts as standby only while it holds a designation (a) of its own current term and
// (b) renewed within 4 designation intervals. With one leader per term (the election's proof), two
// Monitors of the same term never both act; a Monitor cut off from the leader stops acting within
// the lease; and should a stale designee still try, it cannot win the grant quorum. A
// deterministic rule over live Monitors was the alternative, but two Monitors whose tables
// disagree would both act; the leader's term already orders exactly these decisions.
//
// The active Gateway heartbeats every intervalMs (config heartbeat.gatewayIntervalMs) to the
// standby named in the Monitors' acks, or to every live Monitor while it knows none (or the
// standby stops acking). The standby claims the next epoch after missedLimit intervals without a
// heartbeat from the epoch's holder (graceMs when it has heard none since it became standby:
// the Gateway may be booting, or still sending to the old standby). Two things stretch that
// bound, both learned from false takeovers in the lab (11 PCs starting on 2 cores):
//  - silence while this standby was itself stalled is not the Gateway's: a tick that comes more
//    than an interval after it was asked for means this process did not run, and the heartbeats
//    sent meanwhile are still in its socket (Node runs timers before it reads sockets); the
//    deadline moves to two intervals after the stall;
//  - for graceMs after the standby first hears a holder, the bound is doubled: a PC that has
//    just started its Gateway is at its busiest, and a takeover then costs more than it saves.

/** Gateways whose last ack a Monitor remembers (holders of recent epochs: a handful). */
const ACKED_GATEWAYS_MAX = 16;

export interface FailoverOptions {
  self: NodeName;
  /** gateway.host: the holder of epoch 1. */
  configuredGateway: NodeName;
  intervalMs: number;
  missedLimit: number;
  /** How long a new standby that has not heard the Gateway yet waits before claiming. */
  graceMs: number;
  /** How often the leader repeats its designation; one older than 4 of these is void. */
  designationIntervalMs: number;
  /**
   * How soon a node with nothing due (not serving, claiming, standby or leader) steps again. The
   * driver also steps the core at once when the node's view changes (it became a Monitor, or the
   * leader, or the term moved), so this is only a backstop; every agent runs this core, and a
   * tick every intervalMs on each of them was most of an idle Empty node's wake-ups.
   */
  idleTickMs: number;
  /**
   * Where the periodic steps land (src/common/beat.ts): the idle tick, the leader's designation,
   * the standby's tick, the Gateway's heartbeat and a claim's resend, so they share the node's
   * wake-ups with its cluster core's beats. The one-off deadlines (a claim, a designation lapsing,
   * a claim given up) stay exact: each decides when a takeover starts. None: every interval from
   * the step that set it.
   */
  grid?: BeatGrid;
}

/** Written durably before the messages of the same step leave (a grant is a vote). */
export interface FailoverPersistent {
  /** The newest epoch known to be held, and by whom. */
  record: GatewayRecord;
  /** The newest epoch this Monitor granted, and to whom (null: none yet). */
  granted: GatewayRecord | null;
}

/** What the node's cluster core says right now. */
export interface FailoverView {
  isMonitor: boolean;
  /** The Monitor's election term (0 for other nodes). */
  term: number;
  leader: boolean;
  /** The election's voters: a grant or a confirmation needs a majority of these. */
  voters: readonly NodeName[];
  /** Monitors alive now: heartbeat targets when no standby is known, and standby candidates. */
  live: readonly NodeName[];
}

export type FailoverEvent = { type: 'tick' } | { type: 'receive'; from: NodeName; message: GatewayFailoverMessage };

export type FailoverNote =
  /** Start serving the API (and take the virtual address) for this epoch. */
  | { kind: 'serve'; epoch: number; takeover: boolean }
  /** Stop serving: a newer epoch exists. */
  | { kind: 'stop'; epoch: number; record: GatewayRecord }
  | { kind: 'standby'; acting: boolean; term: number }
  | { kind: 'claim'; epoch: number; silentMs: number }
  | { kind: 'granted'; epoch: number; to: NodeName }
  | { kind: 'designated'; standby: NodeName; term: number };

export interface FailoverOutput {
  messages: Array<{ to: NodeName; message: GatewayFailoverMessage }>;
  persist: FailoverPersistent | null;
  notes: FailoverNote[];
  /** Step again (a tick) no later than this. */
  nextAtMs: number;
}

type Mode = 'member' | 'active';

interface Claim {
  epoch: number;
  /** A standby's claim of a new epoch (else a Gateway claiming its own epoch again). */
  takeover: boolean;
  grants: Set<NodeName>;
  previous: NodeName;
  nextSendMs: number;
  giveUpAtMs: number;
}

export function initialFailoverState(configuredGateway: NodeName): FailoverPersistent {
  return { record: { epoch: 1, holder: configuredGateway }, granted: null };
}

export class GatewayFailover {
  private p: FailoverPersistent;
  private dirty = false;
  private mode: Mode = 'member';
  private myEpoch = 0;
  private view: FailoverView;
  private out: FailoverOutput = { messages: [], persist: null, notes: [], nextAtMs: 0 };
  /** Newest Monitor term heard of (a non-Monitor Gateway learns it from replies). */
  private knownTerm = 0;
  /** Newest epoch any Monitor said it granted: a new claim must go past it. */
  private fenceSeen = 0;
  private claim: Claim | null = null;
  // Holder side
  private nextHeartbeatAtMs = 0;
  private target: NodeName | null = null;
  private targetAckMs = 0;
  // Monitor side
  private designation: { term: number; standby: NodeName; atMs: number } | null = null;
  private acting = false;
  private actingSinceMs = 0;
  private lastHeardMs: number | null = null;
  /** When this standby first heard the holder it watches now (null: not yet). */
  private firstHeardMs: number | null = null;
  /** The last step at which this node found it had been stalled (its tick came late). */
  private stalledAtMs = -Infinity;
  /** The tick the previous step asked for. */
  private askedAtMs: number | null = null;
  // Leader side
  private issued: NodeName | null = null;
  private nextDesignationAtMs = 0;
  /** Per Gateway heartbeating here, the last ack sent it: when, and what it said. */
  private readonly acked = new Map<NodeName, { atMs: number; said: string }>();

  /** Active Gateway only: the standby it heartbeats (null: none known yet, or not active). */
  get standbyTarget(): NodeName | null {
    return this.mode === 'active' ? this.target : null;
  }

  constructor(private readonly opts: FailoverOptions, persisted: FailoverPersistent | null, seeds: readonly NodeName[], nowMs: number) {
    this.p = persisted ? { record: { ...persisted.record }, granted: persisted.granted ? { ...persisted.granted } : null } : initialFailoverState(opts.configuredGateway);
    this.view = { isMonitor: false, term: 0, leader: false, voters: [...seeds].sort(), live: [...seeds].sort() };
    // Whoever the record names (the configured Gateway on first boot, or a Monitor that took
    // over and restarted) claims its epoch again before serving: a newer one may exist by now.
    if (this.p.record.holder === opts.self) this.claim = this.newClaim(this.p.record.epoch, false, nowMs);
  }

  get serving(): boolean {
    return this.mode === 'active';
  }

  /** The epoch this node serves (0 when it serves none). */
  get epoch(): number {
    return this.mode === 'active' ? this.myEpoch : 0;
  }

  get record(): GatewayRecord {
    return { ...this.p.record };
  }

  /** The standby the Monitors' acks named to this Gateway (null while it knows none). */
  get standby(): NodeName | null {
    return this.target;
  }

  get actingStandby(): boolean {
    return this.acting;
  }

  /** The epoch this node is claiming now, or 0. */
  get claiming(): number {
    return this.claim?.epoch ?? 0;
  }

  persistent(): FailoverPersistent {
    return { record: { ...this.p.record }, granted: this.p.granted ? { ...this.p.granted } : null };
  }

  step(event: FailoverEvent, nowMs: number, view?: FailoverView): FailoverOutput {
    if (view) this.view = view;
    this.knownTerm = Math.max(this.knownTerm, this.view.term);
    this.out = { messages: [], persist: null, notes: [], nextAtMs: this.beat(nowMs, this.opts.idleTickMs) };
    if (this.askedAtMs !== null && nowMs > this.askedAtMs + this.opts.intervalMs) this.stalledAtMs = nowMs;
    if (event.type === 'receive') this.receive(event.from, event.message, nowMs);
    this.designate(nowMs);
    this.watch(nowMs);
    this.pursueClaim(nowMs);
    this.heartbeat(nowMs);
    if (this.dirty) {
      this.out.persist = this.persistent();
      this.dirty = false;
    }
    this.askedAtMs = this.out.nextAtMs;
    return this.out;
  }

  private send(to: NodeName, message: GatewayFailoverMessage): void {
    if (to !== this.opts.self) this.out.messages.push({ to, message });
  }

  /** The next step of a periodic activity of periodMs that ran now (see FailoverOptions.grid). */
  private beat(nowMs: number, periodMs: number): number {
    return periodAfter(nowMs, periodMs, this.opts.grid ?? null);
  }

  private due(atMs: number): void {
    if (atMs < this.out.nextAtMs) this.out.nextAtMs = atMs;
  }

  private receive(from: NodeName, m: GatewayFailoverMessage, nowMs: number): void {
    if (m.from !== from) return; // one node may not speak for another
    const self = this.opts.self;
    switch (m.type) {
      case 'gw_heartbeat': {
        if (!this.view.isMonitor) return;
        // Only an active Gateway heartbeats, and only for an epoch a majority granted it.
        this.learn({ epoch: m.epoch, holder: from }, nowMs);
        const r = this.p.record;
        if (m.epoch === r.epoch && from === r.holder) {
          if (this.firstHeardMs === null) this.firstHeardMs = nowMs;
          this.lastHeardMs = nowMs;
          if (this.claim?.takeover) this.claim = null; // the Gateway is alive after all
        }
        this.ackHeartbeat(from, nowMs);
        return;
      }
      case 'gw_heartbeat_ack':
        this.knownTerm = Math.max(this.knownTerm, m.term);
        this.learn(m.record, nowMs);
        if (m.standby !== null && m.standby !== self) this.target = m.standby;
        if (from === this.target) this.targetAckMs = nowMs;
        return;
      case 'gw_standby':
        if (!this.view.isMonitor || m.term < this.view.term) return;
        this.learn(m.record, nowMs);
        this.designation = { term: m.term, standby: m.standby, atMs: nowMs };
        return;
      case 'gw_claim':
        return this.onClaim(from, m.epoch, m.term);
      case 'gw_claim_reply': {
        this.knownTerm = Math.max(this.knownTerm, m.term);
        if (m.fence) this.fenceSeen = Math.max(this.fenceSeen, m.fence.epoch);
        this.learn(m.record, nowMs);
        const c = this.claim;
        if (c && m.epoch === c.epoch) {
          if (m.granted) c.grants.add(from);
          // Someone was granted this epoch or a newer one: this claim cannot win; try past it.
          else if (m.fence && m.fence.epoch >= c.epoch && m.fence.holder !== self) c.giveUpAtMs = Math.min(c.giveUpAtMs, nowMs + this.opts.intervalMs);
        }
        return;
      }
      case 'gw_epoch':
        this.learn(m.record, nowMs);
        return;
      default: {
        const never: never = m;
        return never;
      }
    }
  }

  /** A Monitor's vote on a claim: one holder per epoch, never below what it granted or knows held. */
  private onClaim(from: NodeName, epoch: number, term: number): void {
    if (!this.view.isMonitor) return;
    const self = this.opts.self;
    const r = this.p.record;
    const g = this.p.granted;
    const fence = Math.max(r.epoch, g?.epoch ?? 0);
    const holderAtFence = r.epoch === fence ? r.holder : (g as GatewayRecord).holder;
    const servingOther = this.mode === 'active' && from !== self;
    let grant: boolean;
    if (servingOther) grant = false; // this Monitor is the Gateway, alive: no takeover
    else if (epoch > fence) grant = term >= this.view.term; // a stale standby's term is refused
    else grant = epoch === fence && holderAtFence === from; // the holder again (a restart, a retry)
    if (grant && (g === null || g.epoch < epoch)) {
      this.p.granted = { epoch, holder: from };
      this.dirty = true;
      this.out.notes.push({ kind: 'granted', epoch, to: from });
    }
    this.send(from, { type: 'gw_claim_reply', from: self, epoch, granted: grant, record: { ...r }, fence: this.p.granted ? { ...this.p.granted } : null, term: this.view.term });
  }

  /** A record newer than ours: adopt it; a Gateway it fences steps down; a standby watches anew. */
  private learn(r: GatewayRecord, nowMs: number): void {
    if (r.epoch <= this.p.record.epoch) return;
    this.p.record = { ...r };
    this.dirty = true;
    if (r.holder === this.opts.self) return;
    if (this.mode === 'active' || (this.claim && !this.claim.takeover)) {
      const epoch = this.myEpoch || (this.claim?.epoch ?? 0);
      this.mode = 'member';
      this.myEpoch = 0;
      this.target = null;
      this.out.notes.push({ kind: 'stop', epoch, record: { ...r } });
    }
    if (this.claim && r.epoch >= this.claim.epoch) this.claim = null;
    // A new Gateway must find the standby first: give it the grace period again.
    this.lastHeardMs = null;
    this.firstHeardMs = null;
    this.actingSinceMs = nowMs;
  }

  /** The standby as this Monitor knows it now (null: none, or the designation lapsed). */
  private currentStandby(nowMs: number): NodeName | null {
    const d = this.designation;
    if (!this.view.isMonitor || d === null || d.term < this.view.term) return null;
    if (nowMs - d.atMs > 4 * this.opts.designationIntervalMs) return null;
    return d.standby;
  }

  /** Leader only: name the standby, stamped with this term, and repeat it. */
  private designate(nowMs: number): void {
    const v = this.view;
    if (!v.isMonitor || !v.leader) {
      this.issued = null;
      return;
    }
    const holder = this.p.record.holder;
    const candidates = v.live.filter((m) => m !== holder);
    const choice = this.issued !== null && candidates.includes(this.issued) ? this.issued : ([...candidates].sort()[0] ?? null);
    if (choice === null) return;
    if (choice !== this.issued || nowMs >= this.nextDesignationAtMs) {
      if (choice !== this.issued) this.out.notes.push({ kind: 'designated', standby: choice, term: v.term });
      this.issued = choice;
      this.nextDesignationAtMs = this.beat(nowMs, this.opts.designationIntervalMs);
      for (const m of v.live) this.send(m, { type: 'gw_standby', from: this.opts.self, term: v.term, standby: choice, record: { ...this.p.record } });
      this.designation = { term: v.term, standby: choice, atMs: nowMs };
    }
    this.due(this.nextDesignationAtMs);
  }

  /** Standby only: watch the holder's heartbeats; claim the next epoch when they stop. */
  private watch(nowMs: number): void {
    const self = this.opts.self;
    const acting = this.view.isMonitor && this.mode === 'member' && this.p.record.holder !== self && this.currentStandby(nowMs) === self;
    if (acting !== this.acting) {
      this.acting = acting;
      this.out.notes.push({ kind: 'standby', acting, term: this.view.term });
      if (acting) {
        this.actingSinceMs = nowMs;
        this.firstHeardMs = null;
      } else if (this.claim?.takeover) this.claim = null;
    }
    if (!acting || this.claim) return;
    // A standby always has a tick asked for: one that comes more than an interval late is how it
    // tells its own stall from the Gateway's silence (above). While the Gateway's heartbeats come
    // (the last within an interval and a half), each steps the standby, and the tick it asks for
    // is the idle one (on the node's heartbeat beat, a wake-up it has anyway) or the claim's
    // deadline, whichever is first: a stall long enough to matter still runs one of them late.
    // It used to tick every interval beside each heartbeat (half the standby's wake-ups), and a
    // tick pushed later by each heartbeat would still wake it: Node leaves its one OS timer at
    // a cleared timer's instant when the clearing runs in an I/O callback.
    const interval = this.opts.intervalMs;
    const hearing = this.lastHeardMs !== null && this.lastHeardMs >= this.actingSinceMs && nowMs - this.lastHeardMs < interval + Math.floor(interval / 2);
    if (!hearing) this.due(this.beat(nowMs, interval));
    const d = this.designation;
    if (d) this.due(d.atMs + 4 * this.opts.designationIntervalMs + 1);
    const heard = this.lastHeardMs !== null && this.lastHeardMs >= this.actingSinceMs;
    const since = heard ? (this.lastHeardMs as number) : this.actingSinceMs;
    const missedMs = this.opts.missedLimit * this.opts.intervalMs;
    const young = heard && this.firstHeardMs !== null && this.firstHeardMs >= this.actingSinceMs && nowMs - this.firstHeardMs < this.opts.graceMs;
    const deadline = Math.max(since + (heard ? (young ? 2 * missedMs : missedMs) : this.opts.graceMs), this.stalledAtMs + 2 * this.opts.intervalMs);
    if (nowMs < deadline) return this.due(deadline);
    this.claim = this.newClaim(this.nextEpoch(), true, nowMs);
    this.out.notes.push({ kind: 'claim', epoch: this.claim.epoch, silentMs: nowMs - since });
  }

  private nextEpoch(): number {
    return Math.max(this.p.record.epoch, this.p.granted?.epoch ?? 0, this.fenceSeen) + 1;
  }

  private newClaim(epoch: number, takeover: boolean, nowMs: number): Claim {
    return {
      epoch,
      takeover,
      grants: new Set(),
      previous: this.p.record.holder,
      nextSendMs: nowMs, // sent by pursueClaim in this very step
      giveUpAtMs: nowMs + 4 * this.opts.missedLimit * this.opts.intervalMs,
    };
  }

  /** Any claim: ask the voters (itself too, if a Monitor), serve once a majority granted. */
  private pursueClaim(nowMs: number): void {
    let c = this.claim;
    if (c === null) return;
    const self = this.opts.self;
    if (nowMs >= c.giveUpAtMs) {
      // No majority in time (a Monitor down, a rival claimer, a newer grant): go past it. A
      // standby that lost its designation meanwhile has dropped its claim already (watch).
      const epoch = c.takeover || this.nextEpoch() - 1 > c.epoch ? this.nextEpoch() : c.epoch;
      c = this.newClaim(epoch, c.takeover, nowMs);
      this.claim = c;
      this.out.notes.push({ kind: 'claim', epoch, silentMs: nowMs - (this.lastHeardMs ?? this.actingSinceMs) });
    }
    if (this.view.voters.includes(self) && !c.grants.has(self)) {
      this.onClaim(self, c.epoch, this.knownTerm); // its own vote, by the same rule
      const mine = this.p.granted;
      if (mine && mine.epoch === c.epoch && mine.holder === self) c.grants.add(self);
    }
    if (c.grants.size >= majority(this.view.voters.length) || this.view.voters.length === 0) return this.becomeActive(c, nowMs);
    if (nowMs >= c.nextSendMs) {
      c.nextSendMs = this.beat(nowMs, this.opts.intervalMs);
      for (const m of this.view.voters) if (!c.grants.has(m)) this.send(m, { type: 'gw_claim', from: self, epoch: c.epoch, term: this.knownTerm });
    }
    this.due(Math.min(c.nextSendMs, c.giveUpAtMs));
  }

  private becomeActive(c: Claim, nowMs: number): void {
    const self = this.opts.self;
    this.claim = null;
    if (this.acting) {
      this.acting = false;
      this.out.notes.push({ kind: 'standby', acting: false, term: this.view.term });
    }
    if (this.p.record.epoch !== c.epoch || this.p.record.holder !== self) {
      this.p.record = { epoch: c.epoch, holder: self };
      this.dirty = true;
    }
    this.mode = 'active';
    this.myEpoch = c.epoch;
    this.target = null;
    this.nextHeartbeatAtMs = nowMs;
    this.out.notes.push({ kind: 'serve', epoch: c.epoch, takeover: c.takeover });
    const record = { ...this.p.record };
    for (const m of new Set([...this.view.voters, ...this.view.live, c.previous])) this.send(m, { type: 'gw_epoch', from: self, record });
  }

  /**
   * Acks a Gateway's heartbeat at once when the ack says something new (the record, the standby,
   * the term), otherwise every other interval: each ack wakes the Gateway, and the standby sends
   * one per 100 ms heartbeat. The Gateway counts its standby silent only after missedLimit
   * intervals without an ack (then it heartbeats every live Monitor), so every other is ample.
   */
  private ackHeartbeat(gateway: NodeName, nowMs: number): void {
    const ack = { type: 'gw_heartbeat_ack' as const, from: this.opts.self, record: { ...this.p.record }, standby: this.currentStandby(nowMs), term: this.view.term };
    const said = `${ack.record.epoch}/${ack.record.holder}/${ack.standby}/${ack.term}`;
    const last = this.acked.get(gateway);
    if (last !== undefined && last.said === said && nowMs - last.atMs < 1.5 * this.opts.intervalMs) return;
    // One entry per Gateway that heartbeats here: only ever the few holders of recent epochs.
    if (last === undefined && this.acked.size >= ACKED_GATEWAYS_MAX) this.acked.clear();
    this.acked.set(gateway, { atMs: nowMs, said });
    this.send(gateway, ack);
  }

  /** Active Gateway only: heartbeat the standby, or every live Monitor while none is known. */
  private heartbeat(nowMs: number): void {
    if (this.mode !== 'active') return;
    if (nowMs >= this.nextHeartbeatAtMs) {
      this.nextHeartbeatAtMs = this.beat(nowMs, this.opts.intervalMs);
      const silentLimit = this.opts.missedLimit * this.opts.intervalMs;
      const useTarget = this.target !== null && nowMs - this.targetAckMs <= silentLimit;
      // Until the standby acks, every live Monitor and the standby too: after a Hydra the Monitors
      // name a standby this node's table may not list as a Monitor yet, and a standby that hears
      // nothing takes over (the lab saw exactly that).
      const to = useTarget ? [this.target as NodeName] : [...new Set([...this.view.live, ...(this.target === null ? [] : [this.target])])];
      for (const m of to) this.send(m, { type: 'gw_heartbeat', from: this.opts.self, epoch: this.myEpoch });
    }
    this.due(this.nextHeartbeatAtMs);
  }
}
