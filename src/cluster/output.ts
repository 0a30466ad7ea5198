import { onBeat, type BeatGrid } from '../common/beat.js';
import type { ClusterTiming } from './timing.js';
import type { ClusterMessage, NodeName, Role, Status } from './messages.js';

// What a protocol core hands back to its driver. Cores never send, sleep or log themselves.

export interface Outbound {
  to: NodeName;
  message: ClusterMessage;
}

/** Each periodic activity of a node has one timer; a new request for an id replaces the old one. */
export type TimerId =
  | 'heartbeat'
  | 'failure_check'
  | 'gossip'
  | 'election'
  | 'leader_heartbeat'
  | 'monitor_heartbeat'
  | 'hydra';

/**
 * The period on whose wall-clock beats a driver puts a timer of this id (src/common/beat.ts), or
 * null for a timer that must fire exactly when asked. The cores place their periodic deadlines on
 * the grid themselves (given one), so for those this only confirms the instant; it moves a first
 * deadline set before the node had a grid onto the beat.
 */
export function timerBeat(id: TimerId, timing: ClusterTiming): { periodMs: number; phaseMs: number } | null {
  const beat = (periodMs: number, phaseMs = 0) => ({ periodMs, phaseMs });
  switch (id) {
    // Fixed beats (next = the following beat, never now + interval): rounding a beat sequence up
    // to multiples of its own period keeps every gap exactly one period, so the Monitor's failure
    // detector sees the same gaps as before, only all nodes in step.
    case 'heartbeat':
      return beat(timing.heartbeatIntervalMs);
    // Half a check off the heartbeats' beat: on it, the check would run in the same millisecond
    // as the nodes' heartbeats arrive, and whether each came just before or just after it would
    // decide between an age of ~0 and of a whole interval: one lost heartbeat would then make a
    // node suspect (and four, dead) about half the time. Half a check off, a check always sees
    // the last heartbeat between a quarter and three quarters of an interval old (the defaults),
    // with a quarter interval of margin both ways for lateness.
    case 'failure_check':
      return beat(timing.failureCheckIntervalMs, failureCheckPhaseMs(timing));
    case 'gossip':
      return beat(timing.gossipIntervalMs);
    case 'monitor_heartbeat':
      return beat(timing.monitorHeartbeatIntervalMs);
    // The leader's heartbeats and its quorum check (every electionTimeoutMinMs, a multiple of the
    // heartbeat with the defaults; otherwise the check waits for the next heartbeat's beat, which
    // only delays a cut-off leader's stepping down by under one heartbeat: the check looks back
    // over a window ending now, not at the beat).
    case 'leader_heartbeat':
      return beat(timing.leaderHeartbeatIntervalMs);
    // Randomised: the spread of the followers' timeouts is what makes split votes rare; on the
    // grid, Monitors booted in the same second would time out in the same millisecond.
    case 'election':
      return null;
    // Randomised likewise (Assigners detecting a silent Monitor within one interval must not all
    // stand at once); the same timer also carries the detection and lease deadlines, whose
    // precision bounds how soon a Monitor's replacement starts.
    case 'hydra':
      return null;
    default: {
      const never: never = id;
      return never;
    }
  }
}

/** Where in its period the Monitor's failure check runs (see timerBeat). */
export function failureCheckPhaseMs(timing: Pick<ClusterTiming, 'failureCheckIntervalMs'>): number {
  return Math.floor(timing.failureCheckIntervalMs / 2);
}

/** Where a driver arms a timer the core asked for: on its period's beat when it has one and the
 * node runs on a grid, else exactly at atMs. */
export function timerFireAtMs(t: TimerRequest, timing: ClusterTiming, grid: BeatGrid): number {
  const beat = timerBeat(t.id, timing);
  return grid === null || beat === null ? t.atMs : onBeat(t.atMs, beat.periodMs, grid.wallOffsetMs - beat.phaseMs);
}

export interface TimerRequest {
  id: TimerId;
  /** Absolute time on the driver's clock (the same clock as the nowMs passed to step). */
  atMs: number;
}

/** Facts worth a log line or a metric; the simulator's invariant checkers read them too. */
export type Note =
  | { kind: 'declared'; name: NodeName; status: Exclude<Status, 'alive'>; incarnation: number }
  | { kind: 'refuted'; incarnation: number }
  | { kind: 'became_leader'; term: number }
  | { kind: 'stepped_down'; term: number }
  | { kind: 'role_changed'; from: Role; to: Role; term: number }
  | { kind: 'buddy_changed'; from: NodeName | null; to: NodeName | null; term: number }
  | { kind: 'monitor_changed'; from: NodeName | null; to: NodeName }
  | { kind: 'table_full'; name: NodeName }
  | { kind: 'stale_order'; term: number; seq: number }
  /** This Assigner won Hydra term `term` with `voters` as the electorate and becomes a Monitor
   * (with its buddy) in place of `replaced`. The hand-off hook: runs it and its buddy hold must
   * move to another pair; the role_changed note follows in the same step. */
  | { kind: 'hydra_won'; term: number; replaced: NodeName[]; buddy: NodeName | null; voters: NodeName[]; orderTerm: number; survivors: NodeName[] }
  /** This Assigner started a Hydra election for the Monitors it misses. */
  | { kind: 'hydra_campaign'; term: number; silent: NodeName[] };

/**
 * State that must survive a restart. The driver writes it durably BEFORE sending the messages of
 * the same step: a Monitor that forgets its vote could vote twice in one term (two leaders), and a
 * node that forgets its incarnation could not override the "dead" it was declared.
 */
export interface PersistentState {
  incarnation: number;
  term: number;
  votedFor: NodeName | null;
  /** Newest term in which this node saw a leader (its own or another's). */
  lastTerm: number;
  orderTerm: number;
  orderSeq: number;
  /** The Hydra's term and this Assigner's vote in it (one vote per term, across restarts). */
  hydraTerm: number;
  hydraVotedFor: NodeName | null;
}

export interface StepOutput {
  messages: Outbound[];
  timers: TimerRequest[];
  /** Non-null when PersistentState changed in this step. */
  persist: PersistentState | null;
  notes: Note[];
}

/** What a core appends to while handling one event. */
export interface Outbox {
  messages: Outbound[];
  notes: Note[];
}

export function newOutbox(): Outbox {
  return { messages: [], notes: [] };
}
