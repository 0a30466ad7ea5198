import { majority } from './election.js';
import type { GatewayFailoverMessage, GatewayRecord } from './gateway-messages.js';
import type { NodeName } from './messages.js';

// The Gateway standby protocol, as a pure state machine (events and a clock in, messages, notes
// and state to persist out), run by every node agent that may hold the Gateway: the configured
// Gateway PC and every Monitor.
//
// Epochs. Epoch 1 belongs to the configured Gateway (gateway.host). A takeover is epoch + 1, and
// a node serves the API only for an epoch it holds: the configured Gateway after a majority of
// the Monitors confirmed that no newer epoch exists, a standby after a majority of the Monitors
// GRANTED it the new epoch. Each Monitor grants an epoch at most once (the grant is persisted
// before the reply leaves, like a Raft vote), so two standbys can never both win one epoch:
// at most one active Gateway per epoch (contract 3), whatever the designation below says.
// A Gateway that learns of a newer epoch (an ack of its heartbeat, the new Gateway's gw_epoch, a
// designation) stops serving at once and drops the virtual address.
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
// the Gateway may be booting, or still sending to the old standby).

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

type Mode = 'member' | 'confirming' | 'active';

interface Claim {
  epoch: number;
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
  // Holder side
  private readonly confirmAcks = new Set<NodeName>();
  private nextHeartbeatAtMs = 0;
  private target: NodeName | null = null;
  private targetAckMs = 0;
  // Monitor side
  private designation: { term: number; standby: NodeName; atMs: number } | null = null;
  private acting = false;
  private actingSinceMs = 0;
  private lastHeardMs: number | null = null;
  private claim: Claim | null = null;
  // Leader side
  private issued: NodeName | null = null;
  private nextDesignationAtMs = 0;

  constructor(private readonly opts: FailoverOptions, persisted: FailoverPersistent | null, seeds: readonly NodeName[], nowMs: number) {
    this.p = persisted ? { record: { ...persisted.record }, granted: persisted.granted ? { ...persisted.granted } : null } : initialFailoverState(opts.configuredGateway);
    this.view = { isMonitor: false, term: 0, leader: false, voters: [...seeds].sort(), live: [...seeds].sort() };
    // Whoever the record names (the configured Gateway on first boot, or a Monitor that took
    // over and restarted) asks the Monitors before serving: a newer epoch may exist by now.
    if (this.p.record.holder === opts.self) this.enter('confirming', this.p.record.epoch, nowMs);
  }

  get serving(): boolean {
    return this.mode === 'active';
  }

  get confirming(): boolean {
    return this.mode === 'confirming';
  }

  /** The epoch this node serves (0 when it serves none). */
  get epoch(): number {
    return this.mode === 'active' ? this.myEpoch : 0;
  }

  get record(): GatewayRecord {
    return { ...this.p.record };
  }

  get actingStandby(): boolean {
    return this.acting;
  }

  persistent(): FailoverPersistent {
    return { record: { ...this.p.record }, granted: this.p.granted ? { ...this.p.granted } : null };
  }

  step(event: FailoverEvent, nowMs: number, view?: FailoverView): FailoverOutput {
    if (view) this.view = view;
    this.out = { messages: [], persist: null, notes: [], nextAtMs: nowMs + this.opts.intervalMs };
    if (event.type === 'receive') this.receive(event.from, event.message, nowMs);
    this.runDue(nowMs);
    if (this.dirty) {
      this.out.persist = this.persistent();
      this.dirty = false;
    }
    return this.out;
  }

  private send(to: NodeName, message: GatewayFailoverMessage): void {
    if (to !== this.opts.self) this.out.messages.push({ to, message });
  }

  private due(atMs: number): void {
    if (atMs < this.out.nextAtMs) this.out.nextAtMs = atMs;
  }

  private enter(mode: Mode, epoch: number, nowMs: number): void {
    this.mode = mode;
    this.myEpoch = mode === 'member' ? 0 : epoch;
    this.confirmAcks.clear();
    this.target = null;
    this.nextHeartbeatAtMs = nowMs;
  }

  private receive(from: NodeName, m: GatewayFailoverMessage, nowMs: number): void {
    if (m.from !== from) return; // one node may not speak for another
    const self = this.opts.self;
    switch (m.type) {
      case 'gw_heartbeat': {
        if (!this.view.isMonitor) return;
        this.learn({ epoch: m.epoch, holder: from }, nowMs);
        const r = this.p.record;
        if (m.epoch === r.epoch && from === r.holder) {
          this.lastHeardMs = nowMs;
          this.claim = null; // the Gateway is alive after all
        }
        this.send(from, { type: 'gw_heartbeat_ack', from: self, record: { ...r }, standby: this.currentStandby(nowMs) });
        return;
      }
      case 'gw_heartbeat_ack': {
        this.learn(m.record, nowMs);
        if (this.mode === 'confirming' && (m.record.epoch < this.myEpoch || (m.record.epoch === this.myEpoch && m.record.holder === self))) this.confirmAcks.add(from);
        if (m.standby !== null && m.standby !== self) this.target = m.standby;
        if (from === this.target) this.targetAckMs = nowMs;
        return;
      }
      case 'gw_standby':
        if (!this.view.isMonitor || m.term < this.view.term) return;
        this.learn(m.record, nowMs);
        this.designation = { term: m.term, standby: m.standby, atMs: nowMs };
        return;
      case 'gw_claim': {
        if (!this.view.isMonitor) return;
        const r = this.p.record;
        const g = this.p.granted;
        const iAmServing = this.mode === 'active' && r.holder === self;
        const grant =
          !iAmServing &&
          m.term >= this.view.term &&
          m.epoch > r.epoch &&
          (g === null || m.epoch > g.epoch || (m.epoch === g.epoch && g.holder === from));
        if (grant && (g === null || g.epoch !== m.epoch)) {
          this.p.granted = { epoch: m.epoch, holder: from };
          this.dirty = true;
          this.out.notes.push({ kind: 'granted', epoch: m.epoch, to: from });
        }
        this.send(from, { type: 'gw_claim_reply', from: self, epoch: m.epoch, granted: grant, record: { ...r } });
        return;
      }
      case 'gw_claim_reply':
        this.learn(m.record, nowMs);
        if (this.claim && m.granted && m.epoch === this.claim.epoch) this.claim.grants.add(from);
        return;
      case 'gw_epoch':
        this.learn(m.record, nowMs);
        return;
      default: {
        const never: never = m;
        return never;
      }
    }
  }

  /** A record newer than ours: adopt it; a Gateway it fences steps down; a standby watches anew. */
  private learn(r: GatewayRecord, nowMs: number): void {
    if (r.epoch <= this.p.record.epoch) return;
    this.p.record = { ...r };
    this.dirty = true;
    if (this.mode !== 'member' && r.epoch > this.myEpoch && r.holder !== this.opts.self) {
      const epoch = this.myEpoch;
      this.enter('member', 0, nowMs);
      this.out.notes.push({ kind: 'stop', epoch, record: { ...r } });
    }
    // A new Gateway must find the standby first: give it the grace period again.
    this.lastHeardMs = null;
    this.actingSinceMs = nowMs;
    if (this.claim && r.epoch >= this.claim.epoch) this.claim = null;
  }

  /** The standby as this Monitor knows it now (null: none, or the designation lapsed). */
  private currentStandby(nowMs: number): NodeName | null {
    const d = this.designation;
    if (!this.view.isMonitor || d === null || d.term < this.view.term) return null;
    if (nowMs - d.atMs > 4 * this.opts.designationIntervalMs) return null;
    return d.standby;
  }

  private runDue(nowMs: number): void {
    this.designate(nowMs);
    this.watch(nowMs);
    this.heartbeat(nowMs);
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
      this.nextDesignationAtMs = nowMs + this.opts.designationIntervalMs;
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
      if (acting) this.actingSinceMs = nowMs;
      else this.claim = null;
    }
    if (!acting) return;
    const d = this.designation;
    if (d) this.due(d.atMs + 4 * this.opts.designationIntervalMs + 1);
    const silentLimit = this.opts.missedLimit * this.opts.intervalMs;
    if (this.claim === null) {
      const heard = this.lastHeardMs !== null && this.lastHeardMs >= this.actingSinceMs;
      const deadline = heard ? (this.lastHeardMs as number) + silentLimit : this.actingSinceMs + this.opts.graceMs;
      if (nowMs < deadline) return this.due(deadline);
      this.startClaim(nowMs, nowMs - (heard ? (this.lastHeardMs as number) : this.actingSinceMs));
    }
    const c = this.claim as Claim;
    if (c.grants.size >= majority(this.view.voters.length)) return this.becomeActive(c, nowMs);
    if (nowMs >= c.giveUpAtMs) {
      // No majority in time (a Monitor down, or a rival claimer): try the next epoch.
      this.claim = null;
      this.startClaim(nowMs, nowMs - (this.lastHeardMs ?? this.actingSinceMs));
      return;
    }
    if (nowMs >= c.nextSendMs) {
      c.nextSendMs = nowMs + this.opts.intervalMs;
      for (const m of this.view.voters) if (!c.grants.has(m)) this.send(m, { type: 'gw_claim', from: self, epoch: c.epoch, term: this.view.term });
    }
    this.due(Math.min(c.nextSendMs, c.giveUpAtMs));
  }

  private startClaim(nowMs: number, silentMs: number): void {
    const self = this.opts.self;
    const epoch = Math.max(this.p.record.epoch, this.p.granted?.epoch ?? 0) + 1;
    // Its own grant first, persisted like any other.
    this.p.granted = { epoch, holder: self };
    this.dirty = true;
    const claim: Claim = {
      epoch,
      grants: new Set(this.view.voters.includes(self) ? [self] : []),
      previous: this.p.record.holder,
      nextSendMs: nowMs + this.opts.intervalMs,
      giveUpAtMs: nowMs + 4 * this.opts.missedLimit * this.opts.intervalMs,
    };
    this.claim = claim;
    this.out.notes.push({ kind: 'claim', epoch, silentMs });
    for (const m of this.view.voters) this.send(m, { type: 'gw_claim', from: self, epoch, term: this.view.term });
    if (claim.grants.size >= majority(this.view.voters.length)) this.becomeActive(claim, nowMs);
  }

  private becomeActive(c: Claim, nowMs: number): void {
    const self = this.opts.self;
    this.claim = null;
    this.acting = false;
    this.out.notes.push({ kind: 'standby', acting: false, term: this.view.term });
    this.p.record = { epoch: c.epoch, holder: self };
    this.dirty = true;
    this.enter('active', c.epoch, nowMs);
    this.out.notes.push({ kind: 'serve', epoch: c.epoch, takeover: true });
    const record = { ...this.p.record };
    for (const m of new Set([...this.view.voters, ...this.view.live, c.previous])) this.send(m, { type: 'gw_epoch', from: self, record });
  }

  /** Holder only: heartbeat the standby (or every Monitor); confirm the epoch before serving. */
  private heartbeat(nowMs: number): void {
    if (this.mode === 'member') return;
    const self = this.opts.self;
    const v = this.view;
    if (this.mode === 'confirming') {
      if (v.isMonitor && v.voters.includes(self)) this.confirmAcks.add(self);
      if (this.confirmAcks.size >= majority(v.voters.length) || v.voters.length === 0) {
        this.enter('active', this.myEpoch, nowMs);
        this.out.notes.push({ kind: 'serve', epoch: this.myEpoch, takeover: false });
      }
    }
    if (nowMs >= this.nextHeartbeatAtMs) {
      this.nextHeartbeatAtMs = nowMs + this.opts.intervalMs;
      const silentLimit = this.opts.missedLimit * this.opts.intervalMs;
      const useTarget = this.mode === 'active' && this.target !== null && nowMs - this.targetAckMs <= silentLimit;
      const to = useTarget ? [this.target as NodeName] : this.mode === 'confirming' ? v.voters : v.live;
      for (const m of to) this.send(m, { type: 'gw_heartbeat', from: self, epoch: this.myEpoch });
    }
    this.due(this.nextHeartbeatAtMs);
  }
}
