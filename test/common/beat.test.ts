import assert from 'node:assert/strict';
import { test } from 'node:test';
import { beatAfter, nextBeat, onBeat, type BeatGrid } from '../../src/common/beat.js';
import { ClusterNode, type ClusterEvent } from '../../src/cluster/node.js';
import { timerFireAtMs, type TimerId } from '../../src/cluster/output.js';
import { DEFAULT_TIMING } from '../../src/cluster/timing.js';
import { Xoshiro128 } from '../../src/sim/prng.js';

test('onBeat rounds up to the wall-clock multiples of the period, and leaves a beat where it is', () => {
  // Monotonic 1000 is wall 1_700_000_000_123 with this offset.
  const offset = 1_700_000_000_123 - 1000;
  assert.equal(onBeat(1000, 500, offset) + offset, 1_700_000_000_500);
  assert.equal(onBeat(1377, 500, offset), 1377, 'wall ...500 is a beat already');
  assert.equal(onBeat(1378, 500, offset), 1877);
  assert.equal(onBeat(1000, 250, 0), 1000);
  assert.equal(onBeat(1001, 250, 0), 1250);
  assert.equal(onBeat(Number.POSITIVE_INFINITY, 500, offset), Number.POSITIVE_INFINITY, 'a timer not due stays not due');
  assert.throws(() => onBeat(10, 0, 0));
});

test('a fixed beat rounded to its period keeps every gap exactly one period, whatever its phase and the offset', () => {
  const rng = new Xoshiro128(7);
  for (const period of [100, 250, 300, 500, 1500]) {
    for (let i = 0; i < 50; i++) {
      const offset = rng.nextUint32();
      let deadline = rng.nextUint32() % 100_000;
      let last: number | null = null;
      for (let k = 0; k < 20; k++) {
        const at = onBeat(deadline, period, offset);
        assert.ok(at >= deadline && at < deadline + period, 'never early, never a period late');
        if (last !== null) assert.equal(at - last, period);
        last = at;
        deadline += period;
      }
    }
  }
});

test('beatAfter on a grid: a step up to a period late still aims at the next beat (no gap stretched); later ones skip', () => {
  const grid: BeatGrid = { wallOffsetMs: 37 };
  const beats: number[] = [];
  let at = beatAfter(0, 500, grid, -1); // the first beat after boot
  const rng = new Xoshiro128(3);
  for (let k = 0; k < 40; k++) {
    const lag = rng.nextUint32() % 499; // the event loop's lateness, under a period
    beats.push(at);
    at = beatAfter(at + lag, 500, grid, -1);
  }
  for (let k = 1; k < beats.length; k++) assert.equal((beats[k] as number) - (beats[k - 1] as number), 500);
  assert.equal(((beats[0] as number) + 37) % 500, 0, 'on the wall-clock beat');
  // A step two and a half periods late: the missed beats are skipped, the phase kept.
  assert.equal(beatAfter(1463 + 1250, 500, grid, -1), 1463 + 1500);
  assert.equal(beatAfter(1000, 500, null, 1234), 1234, 'no grid: the core\'s own rule');
  assert.equal(nextBeat(1000, 500, 1200), 1500);
  assert.equal(nextBeat(1000, 500, 2700), 3000);
});

test('periodic timers go on their beat (the failure check half a check off); randomised ones are never moved', () => {
  const t = DEFAULT_TIMING;
  const grid: BeatGrid = { wallOffsetMs: 0 };
  const at = (id: TimerId, atMs: number) => timerFireAtMs({ id, atMs }, t, grid);
  assert.equal(at('heartbeat', 1001), 1500);
  assert.equal(at('gossip', 1001), 1500);
  assert.equal(at('monitor_heartbeat', 1500), 1500);
  assert.equal(at('leader_heartbeat', 1499), 1500);
  assert.equal(at('failure_check', 1001), 1125);
  assert.equal(at('failure_check', 1126), 1375);
  // The election timeout and the Hydra's: their spread keeps split votes rare.
  for (const atMs of [1001, 1234, 1777]) {
    assert.equal(at('election', atMs), atMs);
    assert.equal(at('hydra', atMs), atMs);
  }
  assert.equal(timerFireAtMs({ id: 'heartbeat', atMs: 1001 }, t, null), 1001, 'a node without a grid is armed as asked');
});

/**
 * Runs one node as the real driver does (src/agent/driver.ts): one timer per id, armed at
 * timerFireAtMs, each firing `lagMs()` late as an event loop does. Returns the distinct instants at
 * which a timer fired, and the gaps between the node's heartbeats.
 */
function runNode(role: 'monitor' | 'assigner', grid: BeatGrid, durationMs: number, seed: number) {
  const rng = new Xoshiro128(seed);
  const start = 10_000 + (rng.nextUint32() % 1000);
  const node = new ClusterNode({ config: { name: 'n1', role, seedMonitors: ['n1'], languages: [] }, persisted: null, rng, nowMs: start, ...(grid ? { grid } : {}) });
  const timers = new Map<TimerId, number>();
  const wakes = new Set<number>();
  const heartbeats: number[] = [];
  const step = (event: ClusterEvent, now: number) => {
    const out = node.step(event, now);
    for (const m of out.messages) if (m.message.type === 'heartbeat') heartbeats.push(now);
    for (const r of out.timers) timers.set(r.id, timerFireAtMs(r, node.timing, node.grid));
  };
  step({ type: 'tick' }, start);
  for (;;) {
    let id: TimerId | null = null;
    let due = Number.POSITIVE_INFINITY;
    for (const [k, at] of timers) if (at < due) [id, due] = [k, at];
    if (id === null || due > start + durationMs) break;
    // Timers due at the same instant fire in one wake-up (Node runs every expired timer at once).
    const now = due + (rng.nextUint32() % 4);
    wakes.add(now);
    for (const [k, at] of [...timers]) {
      if (at > now) continue;
      timers.delete(k);
      step({ type: 'timer', id: k }, now);
    }
    void id;
  }
  const gaps = heartbeats.slice(1).map((h, i) => h - (heartbeats[i] as number));
  return { wakes: wakes.size, gaps };
}

test('on the grid a Monitor\'s periodic timers share wake-ups; without it, lateness spreads them apart', (t) => {
  const seconds = 20;
  const gridded = runNode('monitor', { wallOffsetMs: 0 }, seconds * 1000, 1);
  const own = runNode('monitor', null, seconds * 1000, 1);
  // Beats at 0 (heartbeat, gossip, Monitor and leader heartbeats) and the checks at 125 and 375
  // of every 500 ms: 6 a second.
  t.diagnostic(`wake-ups in ${seconds} s: ${gridded.wakes} on the grid, ${own.wakes} without`);
  assert.ok(gridded.wakes <= 6 * seconds + 2, `gridded: ${gridded.wakes} wake-ups in ${seconds} s`);
  assert.ok(own.wakes > gridded.wakes * 1.3, `without a grid: ${own.wakes} wake-ups, with: ${gridded.wakes}`);
  // The heartbeats' gaps are one interval each, within the event loop's lateness (0–3 ms).
  for (const gap of gridded.gaps.slice(1)) assert.ok(Math.abs(gap - DEFAULT_TIMING.heartbeatIntervalMs) <= 3, `gap ${gap}`);
});

test('an Assigner on the grid wakes once per heartbeat interval for its own timers', () => {
  const r = runNode('assigner', { wallOffsetMs: 0 }, 10_000, 2);
  assert.ok(r.wakes <= 2 * 10 + 1, `${r.wakes} wake-ups in 10 s`);
  for (const gap of r.gaps.slice(1)) assert.ok(Math.abs(gap - DEFAULT_TIMING.heartbeatIntervalMs) <= 3, `gap ${gap}`);
});
