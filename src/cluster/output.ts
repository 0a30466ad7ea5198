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
