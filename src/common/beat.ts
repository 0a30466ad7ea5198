import assert from 'node:assert/strict';
import { nowMs, type Timer } from './clock.js';

/**
 * The beat grid: where a periodic timer fires, so that one process's periodic timers share one
 * wake-up and every node of a lab fires them at the same wall-clock instants.
 *
 * A timer of period P fires at the wall-clock instants that are multiples of P. The default
 * periods nest (250 ms failure check; 500 ms heartbeat, gossip, Monitor and leader heartbeats,
 * load sample, idle tick; 100 ms Gateway heartbeat; 2 s problem sync), so every multiple of
 * 500 ms is a beat of all of them: an idle node wakes once per 500 ms (a Monitor once per
 * 250 ms), not once per timer. A common 250 ms grid was the alternative; it lets two 500 ms
 * timers land a quarter-second apart (two wake-ups where one would do), and a period that is
 * not a multiple of 250 (a configured 300 ms heartbeat) would alternate 250/500 ms gaps, which a
 * failure detector counts as a missed beat. Rounding to the period itself keeps any period exact.
 *
 * Why this keeps periods exact: the cores advance their periodic deadlines by fixed beats
 * (`next += P`), so the deadlines are d0 + kP, and ceil((d0 + kP) / P)·P = ceil(d0 / P)·P + kP: the
 * rounded instants are exactly P apart, shifted once by a constant under P. A core that computed
 * `now + P` instead would drift off the grid by its own lateness every time and be rounded up by
 * almost a whole period each beat; the cores were changed to fixed beats for that reason.
 *
 * Wall clock, not the process's monotonic clock: performance.now() counts from each process's
 * start, so only the wall clock is shared by the processes of one PC and (NTP) by the PCs of a
 * lab. The offset is read once per process: the monotonic clock then keeps periods exact, and a
 * wall-clock step later (someone sets the time) only puts this process off the others' phase
 * until it restarts.
 *
 * The trade: at 600 nodes a Monitor's ~100 nodes now send their heartbeats within the same
 * millisecond, a ~20 KB burst on a LAN (gigabit: ~0.2 ms; switch buffers hold far more), instead
 * of spread over the interval. In return the Monitor reads them in one or two wake-ups rather than
 * ~100 separate ones per interval.
 */

/**
 * The first instant at or after `atMs` (monotonic milliseconds) at which the wall clock
 * (`atMs + wallOffsetMs`) is a multiple of `periodMs`. Infinity stays Infinity (a timer not due).
 */
export function onBeat(atMs: number, periodMs: number, wallOffsetMs: number): number {
  assert.ok(Number.isInteger(periodMs) && periodMs > 0, `a beat period must be a positive integer, got ${periodMs}`);
  if (!Number.isFinite(atMs)) return atMs;
  return Math.ceil((atMs + wallOffsetMs) / periodMs) * periodMs - wallOffsetMs;
}

/**
 * The deadline after `prevAtMs` of a fixed beat of `periodMs`, as seen at `nowMs`: the next one
 * (`prev + period`), or when the step came more than a period late, the first beat after now:
 * missed beats are skipped, never crowded in, and the phase (the grid) is kept.
 */
export function nextBeat(prevAtMs: number, periodMs: number, nowMs: number): number {
  assert.ok(periodMs > 0, `a beat period must be positive, got ${periodMs}`);
  const next = prevAtMs + periodMs;
  if (next > nowMs) return next;
  return prevAtMs + periodMs * (Math.floor((nowMs - prevAtMs) / periodMs) + 1);
}

/**
 * Where a core's periodic deadlines land: on the wall-clock beats of their period
 * (`wallOffsetMs`: wall clock minus the clock the core is stepped with), or null for none (each
 * beat keeps the phase it started with; the cores' unit tests that pin exact instants).
 */
export type BeatGrid = { wallOffsetMs: number } | null;

/**
 * The next deadline of a periodic activity of `periodMs` that ran at nowMs (at or after its
 * deadline): on a grid, the first beat strictly after now, which is the deadline plus one period
 * as long as the step came less than a period late (a later one skips the beats it missed);
 * without a grid, `ungridded`, the core's own rule.
 */
export function beatAfter(nowMs: number, periodMs: number, grid: BeatGrid, ungridded: number): number {
  return grid === null ? ungridded : onBeat(nowMs + 1, periodMs, grid.wallOffsetMs);
}

/**
 * beatAfter for a fixed beat that ran at nowMs, its deadline having been prevAtMs: ungridded, the
 * following beat (prev + period), or a period from now when the step came a whole period late.
 */
export function fixedBeatAfter(prevAtMs: number, nowMs: number, periodMs: number, grid: BeatGrid): number {
  const next = prevAtMs + periodMs;
  return beatAfter(nowMs, periodMs, grid, next > nowMs ? next : nowMs + periodMs);
}

/** beatAfter for an activity whose ungridded rule is "every period from now": the common case. */
export function periodAfter(nowMs: number, periodMs: number, grid: BeatGrid): number {
  return beatAfter(nowMs, periodMs, grid, nowMs + periodMs);
}

/** This process's wall clock minus its monotonic clock (src/common/clock.ts nowMs), read once. */
export const processWallOffsetMs: number = Math.round(performance.timeOrigin);

/**
 * Calls fn on every beat of periodMs on the process's wall-clock grid (real time): a periodic
 * sampler that wakes with the node's other timers instead of on its own phase. A beat missed
 * (the process stalled) is skipped, not made up.
 */
export function everyBeat(periodMs: number, fn: () => void, opts: { unref: boolean }): Timer {
  let beat = onBeat(nowMs() + 1, periodMs, processWallOffsetMs);
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    timer = setTimeout(run, Math.max(0, beat - nowMs()));
    if (opts.unref) timer.unref();
  };
  const run = (): void => {
    // From the beat aimed at, not from now: a timer that fires a millisecond early (libuv counts
    // from its cached loop time) must not aim at the same beat again.
    beat = onBeat(Math.max(nowMs(), beat) + 1, periodMs, processWallOffsetMs);
    arm();
    fn();
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}
