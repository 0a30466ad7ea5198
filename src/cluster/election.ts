import { periodAfter, onBeat, type BeatGrid } from '../common/beat.js';
import assert from 'node:assert/strict';
import type {
  LeaderHeartbeat,
  LeaderHeartbeatReply,
  NodeName,
  VoteReply,
  VoteRequest,
} from './messages.js';
import type { Outbox } from './output.js';
import { randomIntBetween, type Random } from './random.js';
import type { ClusterTiming } from './timing.js';

// Raft's leader election among the Monitors, without a log: terms, one vote per term, randomised
// timeouts, a majority of the voters, leader heartbeats, and step-down on any higher term.
//
// Voters are every Monitor in the table, dead or not (NodeTable.knownMonitors): a side of a
// partition that declared the others dead must not shrink the majority it needs. Monitors join
// one at a time (a promotion is one leader decision), and with single additions any two
// majorities of the old and new voter sets intersect — Raft's single-server membership change.
// Safety also needs term and votedFor to survive restarts: see PersistentState.

export type ElectionRole = 'follower' | 'candidate' | 'leader';
export type ElectionTiming = Pick<ClusterTiming, 'electionTimeoutMinMs' | 'electionTimeoutMaxMs' | 'leaderHeartbeatIntervalMs'>;

export interface ElectionPersistent {
  term: number;
  votedFor: NodeName | null;
  /** Newest term in which this Monitor saw a leader: Raft's "log up-to-date" check, so a Monitor
   * that missed the last leader cannot win against one that followed it. */
  lastTerm: number;
}

export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

export class Election {
  role: ElectionRole = 'follower';
  leader: NodeName | null = null;
  /** Set when term, votedFor or lastTerm changed; the owner persists and clears it. */
  dirty = false;
  private state: ElectionPersistent;
  private votes = new Set<NodeName>();
  private electionDeadlineMs: number;
  private nextLeaderHeartbeatMs = Number.POSITIVE_INFINITY;
  private quorumCheckAtMs = Number.POSITIVE_INFINITY;
  /** Leader only: when each voter last confirmed this term (check-quorum). */
  private readonly confirmedAtMs = new Map<NodeName, number>();
  /** A Monitor made by the Hydra votes in no term below its own first campaign's (see termGap):
   * it joined two at a time, and must not help elect a leader in a term an old Monitor may
   * already have a leader in. It still follows a leader of any current term. */
  private readonly minGrantTerm: number;

  constructor(
    private readonly self: NodeName,
    private readonly timing: ElectionTiming,
    persisted: ElectionPersistent,
    private readonly rng: Random,
    nowMs: number,
    /** Terms a Monitor made by the Hydra skips before it votes or stands (see HYDRA_TERM_GAP):
     * 0 normally. */
    termGap = 0,
    /** Where the leader's heartbeats and quorum checks land (src/common/beat.ts). The election
     * timeout is never put on it: its randomness is what keeps split votes rare. */
    public grid: BeatGrid = null,
  ) {
    this.state = { ...persisted };
    this.minGrantTerm = termGap > 0 ? this.state.term + 1 + termGap : 0;
    this.electionDeadlineMs = nowMs + this.randomTimeoutMs();
  }

  get term(): number {
    return this.state.term;
  }

  persistent(): ElectionPersistent {
    return { ...this.state };
  }

  nextDueMs(): number {
    return this.role === 'leader' ? Math.min(this.nextLeaderHeartbeatMs, this.quorumCheckAtMs) : this.electionDeadlineMs;
  }

  onTick(nowMs: number, voters: readonly NodeName[], out: Outbox): void {
    if (this.role !== 'leader') {
      if (nowMs >= this.electionDeadlineMs) this.campaign(nowMs, voters, out);
      return;
    }
    if (nowMs >= this.quorumCheckAtMs) this.checkQuorum(nowMs, voters, out);
    if (this.role === 'leader' && nowMs >= this.nextLeaderHeartbeatMs) this.sendHeartbeats(nowMs, voters, out);
  }

  onVoteRequest(request: VoteRequest, nowMs: number, voters: readonly NodeName[], out: Outbox): void {
    // Only voters may start or win elections; anyone else could push terms up at will.
    if (!voters.includes(request.from)) return;
    if (request.term > this.state.term) this.stepDown(request.term, nowMs, out);
    const granted =
      request.term === this.state.term &&
      request.term >= this.minGrantTerm &&
      (this.state.votedFor === null || this.state.votedFor === request.from) &&
      request.lastTerm >= this.state.lastTerm;
    if (granted) {
      if (this.state.votedFor !== request.from) this.dirty = true;
      this.state.votedFor = request.from;
      this.electionDeadlineMs = nowMs + this.randomTimeoutMs();
    }
    const reply: VoteReply = { type: 'vote_reply', from: this.self, term: this.state.term, granted };
    out.messages.push({ to: request.from, message: reply });
  }

  onVoteReply(reply: VoteReply, nowMs: number, voters: readonly NodeName[], out: Outbox): void {
    if (reply.term > this.state.term) {
      this.stepDown(reply.term, nowMs, out);
      return;
    }
    if (this.role !== 'candidate' || reply.term !== this.state.term || !reply.granted) return;
    if (!voters.includes(reply.from)) return;
    this.votes.add(reply.from);
    if (this.countVotes(voters) >= majority(voters.length)) this.becomeLeader(nowMs, voters, out);
  }

  onLeaderHeartbeat(heartbeat: LeaderHeartbeat, nowMs: number, voters: readonly NodeName[], out: Outbox): void {
    if (!voters.includes(heartbeat.from)) return;
    const stale = heartbeat.term < this.state.term;
    if (!stale) {
      if (heartbeat.term > this.state.term) this.stepDown(heartbeat.term, nowMs, out);
      assert.ok(this.role !== 'leader', `two leaders in term ${heartbeat.term}: ${this.self} and ${heartbeat.from}`);
      this.role = 'follower';
      this.leader = heartbeat.from;
      this.sawLeaderIn(heartbeat.term);
      this.electionDeadlineMs = nowMs + this.randomTimeoutMs();
    }
    // A stale leader learns the newer term from the reply and steps down.
    const reply: LeaderHeartbeatReply = { type: 'leader_heartbeat_reply', from: this.self, term: this.state.term, ok: !stale };
    out.messages.push({ to: heartbeat.from, message: reply });
  }

  onLeaderHeartbeatReply(reply: LeaderHeartbeatReply, nowMs: number, out: Outbox): void {
    if (reply.term > this.state.term) {
      this.stepDown(reply.term, nowMs, out);
      return;
    }
    if (this.role === 'leader' && reply.ok && reply.term === this.state.term) this.confirmedAtMs.set(reply.from, nowMs);
  }

  private campaign(nowMs: number, voters: readonly NodeName[], out: Outbox): void {
    this.electionDeadlineMs = nowMs + this.randomTimeoutMs();
    if (!voters.includes(this.self)) return; // not (yet) a known Monitor: no standing to run
    // A Monitor made by the Hydra lifts the term at least to where it votes (see minGrantTerm).
    this.state.term = Math.max(this.state.term + 1, this.minGrantTerm);
    this.state.votedFor = this.self;
    this.dirty = true;
    this.role = 'candidate';
    this.leader = null;
    this.votes = new Set([this.self]);
    if (this.countVotes(voters) >= majority(voters.length)) {
      this.becomeLeader(nowMs, voters, out);
      return;
    }
    const request: VoteRequest = { type: 'vote_request', from: this.self, term: this.state.term, lastTerm: this.state.lastTerm };
    for (const v of voters) if (v !== this.self) out.messages.push({ to: v, message: request });
  }

  private becomeLeader(nowMs: number, voters: readonly NodeName[], out: Outbox): void {
    this.role = 'leader';
    this.leader = this.self;
    this.sawLeaderIn(this.state.term);
    this.confirmedAtMs.clear();
    // The first quorum check waits a full timeout: followers have not replied yet.
    this.quorumCheckAtMs = this.grid === null ? nowMs + this.timing.electionTimeoutMinMs : onBeat(nowMs + this.timing.electionTimeoutMinMs, this.timing.electionTimeoutMinMs, this.grid.wallOffsetMs);
    out.notes.push({ kind: 'became_leader', term: this.state.term });
    this.sendHeartbeats(nowMs, voters, out);
  }

  private sendHeartbeats(nowMs: number, voters: readonly NodeName[], out: Outbox): void {
    this.nextLeaderHeartbeatMs = periodAfter(nowMs, this.timing.leaderHeartbeatIntervalMs, this.grid);
    const heartbeat: LeaderHeartbeat = { type: 'leader_heartbeat', from: this.self, term: this.state.term };
    for (const v of voters) if (v !== this.self) out.messages.push({ to: v, message: heartbeat });
  }

  /** A leader cut off from a majority steps down, so the side without one makes no decisions. */
  private checkQuorum(nowMs: number, voters: readonly NodeName[], out: Outbox): void {
    this.quorumCheckAtMs = periodAfter(nowMs, this.timing.electionTimeoutMinMs, this.grid);
    const since = nowMs - this.timing.electionTimeoutMinMs;
    let confirmed = voters.includes(this.self) ? 1 : 0;
    for (const v of voters) if (v !== this.self && (this.confirmedAtMs.get(v) ?? -1) >= since) confirmed++;
    if (confirmed >= majority(voters.length)) return;
    this.role = 'follower';
    this.leader = null;
    this.electionDeadlineMs = nowMs + this.randomTimeoutMs();
    out.notes.push({ kind: 'stepped_down', term: this.state.term });
  }

  private stepDown(term: number, nowMs: number, out: Outbox): void {
    assert.ok(term > this.state.term, 'stepDown needs a newer term');
    if (this.role === 'leader') {
      out.notes.push({ kind: 'stepped_down', term: this.state.term });
      this.electionDeadlineMs = nowMs + this.randomTimeoutMs();
    }
    // A follower's timer keeps running (Raft resets it only for a granted vote or a leader):
    // otherwise a Monitor that missed the last leader, and so can never win, would hold the
    // up-to-date Monitors back forever by raising the term just before each of their timeouts.
    this.state.term = term;
    this.state.votedFor = null;
    this.dirty = true;
    this.role = 'follower';
    this.leader = null;
    this.nextLeaderHeartbeatMs = Number.POSITIVE_INFINITY;
    this.quorumCheckAtMs = Number.POSITIVE_INFINITY;
  }

  private sawLeaderIn(term: number): void {
    if (term > this.state.lastTerm) {
      this.state.lastTerm = term;
      this.dirty = true;
    }
  }

  private countVotes(voters: readonly NodeName[]): number {
    let n = 0;
    for (const v of voters) if (this.votes.has(v)) n++;
    return n;
  }

  private randomTimeoutMs(): number {
    return randomIntBetween(this.rng, this.timing.electionTimeoutMinMs, this.timing.electionTimeoutMaxMs);
  }
}
