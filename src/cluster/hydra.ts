import { majority } from './election.js';
import {
  ASSIGNERS_MAX,
  MONITORS_MAX,
  type HydraVoteReply,
  type HydraVoteRequest,
  type HydraWon,
  type HydraWonAck,
  type MonitorAnnounce,
  type MonitorHeartbeat,
  type NodeName,
} from './bounds.js';
import type { Outbox } from './output.js';
import { randomIntBetween, type Random } from './random.js';
import { deadBoundMs, type ClusterTiming } from './timing.js';

// The Hydra: Assigners replace Monitors that stopped sending heartbeats. Run by every Assigner;
// pure (events and the clock in, messages and notes out).
//
//  - Detection: an Assigner tracks every Monitor whose monitor_heartbeat it has received. One it
//    then misses `missedLimit` heartbeats of in a row (at the interval the heartbeat announced) is
//    *silent* here.
//  - Electorate: the Assigners the Monitors' table knew as not dead when the silent Monitor was
//    last heard (each monitor_heartbeat lists them). Frozen at that moment on purpose: after the
//    silence begins, a partition makes each side's Monitors declare the far side's Assigners dead,
//    and a side must not win by shrinking its electorate to itself.
//  - Election (Raft's, without a log): after a randomised timeout the Assigner stands in a new
//    Hydra term, voting for itself and asking the electorate. A voter grants at most one vote per
//    term (term and vote are persisted), only to a member of its own electorate, and only if it
//    misses every Monitor the candidate names too: a Monitor that is merely slow to, or cut off
//    from, a minority of the Assigners never gets a majority of votes. A voter moves to a newer
//    term only when it would grant in it, so a lone Assigner that cannot hear a Monitor may raise
//    its own term as often as it likes without disturbing anyone (a pre-vote, in effect).
//  - Commit (Paxos' second phase): with a majority of votes the candidate does not switch yet.
//    It sends `hydra_won` (term, the Monitors it replaces) to the electorate. A voter acknowledges
//    if it has not voted in a newer term since and has not acknowledged a commit of a newer term
//    for those Monitors; it then retires them: stops watching them and refuses votes to anyone
//    else for them. With a majority of acknowledgements the win is final (`won`). Two winners for
//    one Monitor would need a voter that acknowledged one and then voted for the other (refused)
//    or voted for the newer one and then acknowledged the older (refused): one replacement pair
//    per silent Monitor, however many Assigners noticed the silence. A committer that can no
//    longer reach a majority stands down and may stand again; voters let it (its own commit does
//    not block its votes).
//  - The role change of the winner and its buddy, fenced by a term, is ClusterNode's.

export type HydraRole = 'voter' | 'candidate' | 'committing' | 'won';
export type HydraTiming = Pick<ClusterTiming, 'missedLimit' | 'hydraTimeoutMinMs' | 'hydraTimeoutMaxMs'>;

export interface HydraPersistent {
  hydraTerm: number;
  hydraVotedFor: NodeName | null;
}

interface Heard {
  atMs: number;
  intervalMs: number;
  /** The electorate when this Monitor was last heard. */
  voters: readonly NodeName[];
}

interface Retired {
  /** The Assigner whose commit replaced it, and that commit's term. */
  by: NodeName;
  term: number;
  atMs: number;
  /** The Monitors that replace it (from the commit), and whether one of them has been heard as a
   * Monitor since: until then the retirement is only a lease — a committer that died before its
   * win must not leave the dead Monitor unreplaced for ever. */
  replacers: readonly NodeName[];
  confirmed: boolean;
  /** What this Assigner knew of the Monitor before retiring it, restored if the lease ends. */
  heard: Heard | undefined;
}

export class Hydra {
  role: HydraRole = 'voter';
  /** Set when term or vote changed; the owner persists and clears it. */
  dirty = false;
  /** Set when the win is committed: the term, the Monitors replaced and the electorate. */
  won: { term: number; replaced: NodeName[]; voters: NodeName[]; partner: NodeName | null } | null = null;
  /** Electorate members that answered this campaign (a vote either way, or an acknowledgement):
   * a buddy that did not is likely dead and is not made a Monitor (a voter that never votes). */
  private responded = new Set<NodeName>();
  /** The newest Monitor leader term the voters of this campaign reported: with every Monitor
   * gone, a partition may have hidden the last leader from the winner but not from all voters. */
  leaderTermSeen = 0;
  private state: HydraPersistent;
  private readonly heard = new Map<NodeName, Heard>();
  /** Monitors replaced by a Hydra win this Assigner acknowledged: their silence no longer counts. */
  private readonly retired = new Map<NodeName, Retired>();
  /** The Monitors that replaced the retired ones, told to a replaced Monitor that speaks again. */
  private replacers: NodeName[] = [];
  private voterList: NodeName[] = [];
  /** The Monitors' heartbeat interval, as their heartbeats announce it. */
  private intervalGuessMs = 500;
  /** When some Monitor last listed each Assigner as not dead, and as dead. */
  private readonly listed = new Map<NodeName, { aliveAtMs: number; deadAtMs: number }>();
  private deadlineMs: number | null = null;
  private votes = new Set<NodeName>();
  private acks = new Set<NodeName>();
  private nacks = new Set<NodeName>();
  private campaignSilent: NodeName[] = [];
  /** The term of this Assigner's latest campaign: its commit keeps it even if the Assigner
   * moves to a newer term meanwhile (a commit for other Monitors). */
  private campaignTerm = 0;
  private campaignVoters: NodeName[] = [];
  private commitPartner: NodeName | null = null;

  constructor(
    private readonly self: NodeName,
    private readonly timing: HydraTiming,
    persisted: HydraPersistent,
    private readonly rng: Random,
    /** This Assigner's buddy now (it becomes a Monitor with the winner). */
    private readonly buddyOf: () => NodeName | null = () => null,
    /** The newest Monitor leader term this Assigner knows (from acks and Monitor heartbeats). */
    private readonly knownLeaderTerm: () => number = () => 0,
  ) {
    this.state = { ...persisted };
  }

  get term(): number {
    return this.state.hydraTerm;
  }

  persistent(): HydraPersistent {
    return { ...this.state };
  }

  /** The electorate now: the Assigners the Monitors listed lately as not dead (and this one). */
  get voters(): readonly NodeName[] {
    return this.voterList;
  }

  onMonitorHeartbeat(hb: MonitorHeartbeat, nowMs: number, out: Outbox): void {
    this.intervalGuessMs = hb.intervalMs;
    for (const r of this.retired.values()) if (!r.confirmed && r.replacers.includes(hb.from)) r.confirmed = true;
    const retired = this.retired.get(hb.from);
    // A replaced Monitor that speaks again (after its replacement, not a packet still in flight)
    // was only cut off: it is a Monitor again, watched like any other, and is told of the
    // Monitors that replaced it so the two tables merge.
    if (retired !== undefined) {
      if (nowMs - retired.atMs <= hb.intervalMs) return;
      this.retired.delete(hb.from);
      if (this.role === 'committing' && this.campaignSilent.includes(hb.from)) this.standDown();
      const message: MonitorAnnounce = { type: 'monitor_announce', from: this.self, monitors: this.replacers };
      if (this.replacers.length > 0) out.messages.push({ to: hb.from, message });
    }
    if (hb.assigners !== undefined) {
      for (const a of hb.assigners) {
        const l = this.listed.get(a.name) ?? { aliveAtMs: -Infinity, deadAtMs: -Infinity };
        if (a.status === 'dead') l.deadAtMs = nowMs;
        else l.aliveAtMs = nowMs;
        if (this.listed.has(a.name) || this.listed.size < ASSIGNERS_MAX) this.listed.set(a.name, l);
      }
      // Every Assigner some Monitor listed as not dead lately and none listed dead since: a new
      // Monitor still learning the table lists fewer, and must not shrink the electorate.
      const voters = new Set<NodeName>([this.self]);
      for (const [name, l] of this.listed) {
        if (l.aliveAtMs >= l.deadAtMs && nowMs - l.aliveAtMs <= this.electorateMemoryMs()) voters.add(name);
        else if (nowMs - Math.max(l.aliveAtMs, l.deadAtMs) > this.electorateMemoryMs()) this.listed.delete(name);
      }
      this.voterList = [...voters].sort();
    }
    if (this.heard.has(hb.from) || this.heard.size < MONITORS_MAX) {
      this.heard.set(hb.from, { atMs: nowMs, intervalMs: hb.intervalMs, voters: this.voterList });
    }
  }

  /** How long an Assigner listed as not dead stays in the electorate without being listed again:
   * two dead bounds, so a Monitor that has just lost it, or never learned it, does not shrink the
   * electorate at once. */
  private electorateMemoryMs(): number {
    return 2 * deadBoundMs({ missedLimit: this.timing.missedLimit, heartbeatIntervalMs: this.intervalGuessMs });
  }

  /** Monitors this Assigner expects to hear from (those it knows of when it starts): counted as
   * heard now, with no electorate known yet. */
  expect(monitors: readonly NodeName[], nowMs: number, intervalMs: number): void {
    for (const m of monitors) {
      if (m !== this.self && !this.heard.has(m) && this.heard.size < MONITORS_MAX) this.heard.set(m, { atMs: nowMs, intervalMs, voters: [] });
    }
  }

  /** Monitors missed missedLimit heartbeats in a row, sorted. */
  silent(nowMs: number): NodeName[] {
    const out: NodeName[] = [];
    for (const [m, h] of this.heard) if (nowMs - h.atMs >= this.timing.missedLimit * h.intervalMs) out.push(m);
    return out.sort();
  }

  /** Monitors heard (or expected) recently enough to count as serving: neither silent nor retired. */
  serving(nowMs: number): NodeName[] {
    const silent = new Set(this.silent(nowMs));
    return [...this.heard.keys()].filter((m) => !silent.has(m)).sort();
  }

  /** When this machine next has something to do (a Monitor falls silent, or a timeout ends). */
  nextDueMs(nowMs: number): number {
    if (this.role === 'won') return Number.POSITIVE_INFINITY;
    let next = this.deadlineMs ?? Number.POSITIVE_INFINITY;
    for (const r of this.retired.values()) {
      const due = r.atMs + this.retireLeaseMs() + 1;
      if (!r.confirmed && r.by !== this.self && due > nowMs) next = Math.min(next, due);
    }
    for (const h of this.heard.values()) {
      const due = h.atMs + this.timing.missedLimit * h.intervalMs;
      if (due > nowMs) next = Math.min(next, due); // already silent: the timeout says when
    }
    return next;
  }

  onTick(nowMs: number, out: Outbox): void {
    if (this.role === 'won') return;
    this.endLeases(nowMs);
    if (this.role === 'committing') {
      if (this.deadlineMs !== null && nowMs >= this.deadlineMs) this.sendCommit(nowMs, out);
      return;
    }
    const silent = this.silent(nowMs);
    if (silent.length === 0) {
      this.deadlineMs = null;
      if (this.role === 'candidate') this.role = 'voter';
      return;
    }
    if (this.deadlineMs === null) {
      this.deadlineMs = nowMs + this.randomTimeoutMs();
      return;
    }
    if (nowMs >= this.deadlineMs) this.campaign(nowMs, silent, out);
  }

  onVoteRequest(req: HydraVoteRequest, nowMs: number, out: Outbox): void {
    const replaced = req.silent.filter((m) => {
      const r = this.retired.get(m);
      return r !== undefined && r.by !== req.from;
    });
    const silentHere = new Set(this.silent(nowMs));
    const eligible =
      (this.role === 'voter' || this.role === 'candidate') &&
      replaced.length === 0 &&
      req.silent.every((m) => silentHere.has(m) || this.retired.get(m)?.by === req.from) &&
      this.canVoteFor(req.from, req.silent);
    if (eligible && req.term > this.state.hydraTerm) this.adopt(req.term);
    const granted =
      eligible && req.term === this.state.hydraTerm && (this.state.hydraVotedFor === null || this.state.hydraVotedFor === req.from);
    if (granted) {
      if (this.state.hydraVotedFor !== req.from) this.dirty = true;
      this.state.hydraVotedFor = req.from;
      this.deadlineMs = nowMs + this.randomTimeoutMs(); // Raft: a granted vote restarts the timeout
    }
    const reply: HydraVoteReply = {
      type: 'hydra_vote_reply', from: this.self, term: this.state.hydraTerm, granted, leaderTerm: this.knownLeaderTerm(), replaced,
    };
    out.messages.push({ to: req.from, message: reply });
    // A candidate for Monitors replaced long ago missed the news: tell it where the new ones are.
    if (replaced.length > 0 && this.replacers.length > 0) {
      const announce: MonitorAnnounce = { type: 'monitor_announce', from: this.self, monitors: this.replacers };
      out.messages.push({ to: req.from, message: announce });
    }
  }

  onVoteReply(reply: HydraVoteReply, nowMs: number, out: Outbox): void {
    this.leaderTermSeen = Math.max(this.leaderTermSeen, reply.leaderTerm);
    if (this.role === 'candidate' || this.role === 'committing') this.responded.add(reply.from);
    if (reply.replaced.length > 0) {
      // Replaced already (whose commit's news was lost here): stop watching them too.
      for (const m of reply.replaced) {
        if (!this.retired.has(m)) this.retireAs(m, { by: '', term: 0, atMs: nowMs, replacers: [], confirmed: false, heard: this.heard.get(m) });
      }
      if (this.role === 'candidate') this.standDown();
      if (this.silent(nowMs).length === 0 && this.role === 'voter') this.deadlineMs = null;
    }
    if (this.role !== 'candidate') return;
    if (reply.term > this.state.hydraTerm) {
      this.adopt(reply.term);
      return;
    }
    if (reply.term !== this.state.hydraTerm || !reply.granted || !this.campaignVoters.includes(reply.from)) return;
    this.votes.add(reply.from);
    if (this.count(this.votes) >= majority(this.campaignVoters.length)) this.startCommit(nowMs, out);
  }

  /** Another Assigner's commit: acknowledge it unless this voter promised a newer term since, or
   * acknowledged a newer commit for one of those Monitors. */
  onWon(won: HydraWon, nowMs: number, out: Outbox): void {
    const ok =
      won.term >= this.state.hydraTerm &&
      won.replaced.every((m) => {
        const r = this.retired.get(m);
        return r === undefined || r.term < won.term || (r.term === won.term && r.by === won.from);
      });
    if (ok) {
      if (won.term > this.state.hydraTerm) this.adopt(won.term);
      if ((this.role === 'candidate' || this.role === 'committing') && this.campaignSilent.some((m) => won.replaced.includes(m))) this.standDown();
      for (const m of won.replaced) {
        const prior = this.retired.get(m);
        this.retireAs(m, {
          by: won.from, term: won.term, atMs: nowMs, replacers: won.monitors,
          confirmed: prior?.by === won.from && prior.term === won.term && prior.confirmed,
          heard: this.heard.get(m) ?? prior?.heard,
        });
      }
      this.replacers = [...new Set([...won.monitors, ...this.replacers])].slice(0, MONITORS_MAX);
      // The new Monitors are watched from now on, so one that dies before its first heartbeat
      // reaches us is replaced too; they get one silence's worth of extra time to learn the table.
      const grace = this.timing.missedLimit * this.intervalGuessMs;
      for (const m of won.monitors) {
        if (m !== this.self && !this.heard.has(m) && this.heard.size < MONITORS_MAX) {
          this.heard.set(m, { atMs: nowMs + grace, intervalMs: this.intervalGuessMs, voters: this.voterList });
        }
      }
      if (this.silent(nowMs).length === 0 && this.role === 'voter') this.deadlineMs = null;
    }
    const ack: HydraWonAck = { type: 'hydra_won_ack', from: this.self, term: won.term, ok, leaderTerm: this.knownLeaderTerm() };
    out.messages.push({ to: won.from, message: ack });
  }

  onWonAck(ack: HydraWonAck, _nowMs: number): void {
    this.leaderTermSeen = Math.max(this.leaderTermSeen, ack.leaderTerm);
    if (this.role === 'committing') this.responded.add(ack.from);
    if (this.role !== 'committing' || ack.term !== this.campaignTerm || !this.campaignVoters.includes(ack.from)) return;
    if (!ack.ok) {
      // Not a majority any more: stand down, and stand again (in a newer term) after a timeout.
      this.nacks.add(ack.from);
      if (this.count(this.nacks) > this.campaignVoters.length - majority(this.campaignVoters.length)) this.standDown();
      return;
    }
    this.acks.add(ack.from);
    if (this.count(this.acks) >= majority(this.campaignVoters.length)) {
      this.role = 'won';
      this.deadlineMs = null;
      this.won = { term: this.campaignTerm, replaced: [...this.campaignSilent], voters: [...this.campaignVoters], partner: this.commitPartner };
    }
  }

  /** Retirements whose replacement was never heard serving within the lease end: the Monitor is
   * watched again (silent at once, as before), so the Assigners can elect anew. */
  private endLeases(nowMs: number): void {
    for (const [m, r] of this.retired) {
      if (r.confirmed || r.by === this.self || nowMs - r.atMs <= this.retireLeaseMs()) continue;
      this.retired.delete(m);
      if (r.heard !== undefined && !this.heard.has(m)) this.heard.set(m, r.heard);
    }
  }

  /** Two dead bounds: the new Monitors learn the table and start their heartbeats well within it. */
  private retireLeaseMs(): number {
    return 2 * deadBoundMs({ missedLimit: this.timing.missedLimit, heartbeatIntervalMs: this.intervalGuessMs });
  }

  private retireAs(monitor: NodeName, r: Retired): void {
    this.heard.delete(monitor);
    if (!this.retired.has(monitor) && this.retired.size >= MONITORS_MAX) this.retired.delete(this.retired.keys().next().value as NodeName);
    this.retired.set(monitor, r);
  }

  /** A candidate must belong to the electorate for those Monitors as this voter knows it — unless
   * this voter started after their last heartbeat and knows no electorate for them at all. */
  private canVoteFor(candidate: NodeName, silent: readonly NodeName[]): boolean {
    const electorate = this.electorate(silent);
    return electorate.length === 0 || electorate.includes(candidate);
  }

  /** The electorate for replacing these Monitors: every Assigner the table knew as not dead when
   * any of them was last heard. */
  private electorate(silent: readonly NodeName[]): NodeName[] {
    const all = new Set<NodeName>();
    for (const m of silent) for (const v of this.heard.get(m)?.voters ?? []) all.add(v);
    // Assigners a Hydra made Monitors since vote no more.
    for (const r of this.replacers) all.delete(r);
    return [...all].sort();
  }

  private campaign(nowMs: number, silent: NodeName[], out: Outbox): void {
    this.deadlineMs = nowMs + this.randomTimeoutMs();
    const electorate = this.electorate(silent);
    if (!electorate.includes(this.self)) return; // not (yet) a known Assigner: no standing
    this.state.hydraTerm += 1;
    this.state.hydraVotedFor = this.self;
    this.dirty = true;
    this.role = 'candidate';
    this.campaignTerm = this.state.hydraTerm;
    this.responded = new Set([this.self]);
    this.votes = new Set([this.self]);
    this.campaignSilent = silent;
    this.campaignVoters = electorate;
    out.notes.push({ kind: 'hydra_campaign', term: this.state.hydraTerm, silent });
    if (this.count(this.votes) >= majority(electorate.length)) return this.startCommit(nowMs, out);
    const request: HydraVoteRequest = { type: 'hydra_vote_request', from: this.self, term: this.state.hydraTerm, silent };
    for (const v of electorate) if (v !== this.self) out.messages.push({ to: v, message: request });
  }

  private startCommit(nowMs: number, out: Outbox): void {
    if (this.campaignSilent.some((m) => (this.retired.get(m)?.by ?? this.self) !== this.self)) {
      this.standDown();
      return;
    }
    this.role = 'committing';
    this.commitPartner = this.partner(); // fixed now: the commit tells the voters who to expect
    this.acks = new Set([this.self]);
    this.nacks = new Set();
    for (const m of this.campaignSilent) {
      this.retired.set(m, { by: this.self, term: this.campaignTerm, atMs: nowMs, replacers: [], confirmed: false, heard: this.heard.get(m) });
    }
    this.sendCommit(nowMs, out);
  }

  /** (Re)sends the commit to the electorate members that have not acknowledged it. */
  private sendCommit(nowMs: number, out: Outbox): void {
    this.deadlineMs = nowMs + this.timing.hydraTimeoutMaxMs;
    if (this.count(this.acks) >= majority(this.campaignVoters.length)) {
      this.onWonAck({ type: 'hydra_won_ack', from: this.self, term: this.campaignTerm, ok: true, leaderTerm: 0 }, nowMs);
      return;
    }
    const partner = this.commitPartner;
    const monitors = partner === null ? [this.self] : [this.self, partner];
    const won: HydraWon = { type: 'hydra_won', from: this.self, term: this.campaignTerm, replaced: this.campaignSilent, monitors };
    for (const v of this.campaignVoters) if (!this.acks.has(v) && !this.nacks.has(v)) out.messages.push({ to: v, message: won });
  }

  /**
   * Who becomes a Monitor with the winner: its buddy if it answered in this election; else (the
   * buddy is likely dead) the first Assigner that answered, whose own buddy the Monitor leader
   * then re-pairs — two new Monitors either way, as long as anyone answered.
   */
  private partner(): NodeName | null {
    const buddy = this.buddyOf();
    if (buddy !== null && this.responded.has(buddy)) return buddy;
    return [...this.responded].filter((n) => n !== this.self).sort()[0] ?? null;
  }

  /** Back to voting: another Assigner replaced (or is replacing) these Monitors, or this one's
   * commit cannot reach a majority. Its timeout keeps running, so it may stand again. */
  private standDown(): void {
    if (this.role === 'committing') {
      for (const m of this.campaignSilent) if (this.retired.get(m)?.by === this.self) this.retired.delete(m);
    }
    this.role = 'voter';
    this.votes.clear();
    this.acks.clear();
    this.nacks.clear();
  }

  private count(set: ReadonlySet<NodeName>): number {
    let n = 0;
    for (const v of this.campaignVoters) if (set.has(v)) n++;
    return n;
  }

  private adopt(term: number): void {
    this.state.hydraTerm = term;
    this.state.hydraVotedFor = null;
    this.dirty = true;
    if (this.role === 'candidate') this.role = 'voter';
  }

  private randomTimeoutMs(): number {
    return randomIntBetween(this.rng, this.timing.hydraTimeoutMinMs, this.timing.hydraTimeoutMaxMs);
  }
}
