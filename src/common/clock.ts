import { performance } from 'node:perf_hooks';

/**
 * Time as a driver sees it: monotonic milliseconds and one-shot timers. The pure cores only ever
 * see the number; the drivers (the Worker's, the Gateway's relay) take a Clock so that tests and
 * the simulator run them on a manual one (worker/twins.ts: ManualClock).
 */

export interface Timer {
  cancel(): void;
}

export interface Clock {
  nowMs(): number;
  /** Calls fn once, delayMs from now (unless cancelled first). */
  after(delayMs: number, fn: () => void): Timer;
}

/** The process's monotonic clock in whole milliseconds. */
export function nowMs(): number {
  return Math.floor(performance.now());
}

/**
 * Real time. `unref`: a pending timer does not keep the process up (a Worker's timers); a driver
 * whose callers await its timers (the Gateway's start() waiting out an ack) keeps them ref'd.
 */
export function realClock(opts: { unref: boolean }): Clock {
  return {
    nowMs,
    after(delayMs, fn) {
      const t = setTimeout(fn, delayMs);
      if (opts.unref) t.unref();
      return { cancel: () => clearTimeout(t) };
    },
  };
}

/** Real time with unref'd timers. */
export const systemClock: Clock = realClock({ unref: true });
