import assert from 'node:assert/strict';

/** Every interval and limit of the cluster protocols, with the reason for each default. */
export interface ClusterTiming {
  /** How often each node heartbeats to its Monitor. 500 ms: a LAN round trip is < 1 ms, so this
   * is cheap, and 5 misses (the user's number) still find a dead PC in under 3 s. */
  heartbeatIntervalMs: number;
  /** Missed intervals before "suspect": 2, so one lost packet is never a suspicion. */
  suspectAfterMissed: number;
  /** Consecutive missed intervals before "dead": 5, the user's number. */
  missedLimit: number;
  /** How often a Monitor checks its nodes' heartbeat ages: half an interval bounds the error. */
  failureCheckIntervalMs: number;
  /** A Monitor that starts watching a node it has not heard from itself (an orphan whose
   * Monitor died, or a node gossip says reports here after this Monitor restarted) waits this
   * long first: the time gossip needs to bring news that the node moved to another Monitor.
   * 10 gossip rounds covers a shuffled round of 6 Monitors twice; a longer grace only delays the
   * rare case of a node dying together with its Monitor. */
  adoptionGraceMs: number;
  /** Intervals without an ack before a node gives up on its Monitor and fails over: 4, below the
   * 5 after which the Monitors would declare that Monitor dead, so nodes have moved before it is;
   * and ackEveryIntervals + 2, so one ack late by up to an interval is not a failover. */
  ackMissLimit: number;
  /** A Monitor acks a heartbeat that brings nothing to answer at most once per this many
   * intervals (2: every other one). Every ack wakes its node and costs the Monitor a send; an ack
   * with news (a suspicion to refute, a state the node does not know, the Monitors' list, a
   * better Monitor, a new leader term) still goes at once. */
  ackEveryIntervals: number;
  /** How long a node avoids a Monitor it failed over from: long enough to not flap back. */
  monitorRetryAfterMs: number;
  /** Monitor-to-Monitor anti-entropy round: one peer per interval. */
  gossipIntervalMs: number;
  /** A Monitor keeps gossiping to a Monitor it declared dead for this long (memberlist's
   * "gossip to the dead"), so one that was only cut off learns it and refutes. */
  gossipToTheDeadMs: number;
  /** Raft election timeout range: 3–6 leader heartbeats, so one lost heartbeat never triggers
   * an election and the random spread makes split votes rare. */
  electionTimeoutMinMs: number;
  electionTimeoutMaxMs: number;
  leaderHeartbeatIntervalMs: number;
  /** How often a Monitor sends its Workers' loads to the Assigners. */
  monitorHeartbeatIntervalMs: number;
  /** The Hydra's randomised timeout: an Assigner that misses missedLimit heartbeats of a Monitor
   * in a row waits this long before standing, and again before each retry. Short (the detection
   * already took missedLimit intervals) but far above a LAN round trip, with a spread that makes
   * split votes rare among a few Assigners that detected within one interval of each other. */
  hydraTimeoutMinMs: number;
  hydraTimeoutMaxMs: number;
}

export const DEFAULT_TIMING: Readonly<ClusterTiming> = Object.freeze({
  heartbeatIntervalMs: 500,
  suspectAfterMissed: 2,
  missedLimit: 5,
  failureCheckIntervalMs: 250,
  adoptionGraceMs: 5_000,
  ackMissLimit: 4,
  ackEveryIntervals: 2,
  monitorRetryAfterMs: 10_000,
  gossipIntervalMs: 500,
  gossipToTheDeadMs: 30_000,
  electionTimeoutMinMs: 1_500,
  electionTimeoutMaxMs: 3_000,
  leaderHeartbeatIntervalMs: 500,
  monitorHeartbeatIntervalMs: 500,
  hydraTimeoutMinMs: 150,
  hydraTimeoutMaxMs: 600,
});

export function resolveTiming(partial: Partial<ClusterTiming> = {}): ClusterTiming {
  const t: ClusterTiming = { ...DEFAULT_TIMING, ...partial };
  for (const [key, value] of Object.entries(t)) {
    assert.ok(Number.isInteger(value) && value > 0, `timing.${key} must be a positive integer, got ${value}`);
  }
  assert.ok(t.suspectAfterMissed <= t.missedLimit, 'timing.suspectAfterMissed must not exceed missedLimit');
  assert.ok(t.failureCheckIntervalMs <= t.heartbeatIntervalMs, 'timing.failureCheckIntervalMs must not exceed heartbeatIntervalMs');
  assert.ok(t.ackEveryIntervals + 2 <= t.ackMissLimit, 'timing.ackMissLimit must be at least ackEveryIntervals + 2, or one late ack is a failover');
  assert.ok(t.electionTimeoutMinMs < t.electionTimeoutMaxMs, 'timing.electionTimeoutMinMs must be below electionTimeoutMaxMs');
  assert.ok(t.hydraTimeoutMinMs < t.hydraTimeoutMaxMs, 'timing.hydraTimeoutMinMs must be below hydraTimeoutMaxMs');
  assert.ok(
    t.electionTimeoutMinMs >= 2 * t.leaderHeartbeatIntervalMs,
    'timing.electionTimeoutMinMs must be at least two leader heartbeats, or one lost heartbeat starts an election',
  );
  return t;
}

/**
 * Upper bound from a crash to the owning Monitor's "dead", without network delay. The one formula:
 * the agent's settle time, the Gateway standby's grace and the Hydra's leases are multiples of it.
 */
export function deadBoundMs(t: Pick<ClusterTiming, 'missedLimit' | 'heartbeatIntervalMs'>): number {
  return (t.missedLimit + 1) * t.heartbeatIntervalMs;
}
