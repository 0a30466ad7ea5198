// Hybrid logical clock (Kulkarni et al.): physical wall time plus a logical counter, so a server
// whose wall clock runs behind still stamps its changes after everything it has seen, and
// concurrent changes are totally ordered (ties broken by origin id) identically everywhere.
// Pure: the caller passes local wall time in; nothing here reads Date.now().
import { BlogError, type Hlc, type ServerId } from './types.js';

/** Logical counters past this mean a wall clock that stopped; crash rather than wrap. */
export const HLC_LOGICAL_MAX = 2 ** 31 - 1;

export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.wallMs !== b.wallMs) return a.wallMs < b.wallMs ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
  return 0;
}

export function maxHlc(a: Hlc, b: Hlc): Hlc {
  return compareHlc(a, b) >= 0 ? a : b;
}

export function hlcToString(h: Hlc): string {
  return `${h.wallMs}.${h.logical}@${h.origin}`;
}

export const HLC_ZERO: Hlc = { wallMs: 0, logical: 0, origin: '' };

/** The clock state of one server: the last timestamp it issued or adopted. */
export class HlcClock {
  private last: Hlc;

  /** @param restored the highest HLC found in the store after a restart, so stamps never go back. */
  constructor(
    readonly origin: ServerId,
    readonly skewMaxMs: number,
    restored?: Hlc,
  ) {
    if (!(skewMaxMs > 0)) throw new Error(`skewMaxMs must be > 0, got ${skewMaxMs}`);
    this.last = restored ? { wallMs: restored.wallMs, logical: restored.logical, origin } : { ...HLC_ZERO, origin };
  }

  current(): Hlc {
    return this.last;
  }

  /** A fresh timestamp for a local change, strictly after everything seen so far. */
  now(wallMs: number): Hlc {
    const next =
      wallMs > this.last.wallMs
        ? { wallMs, logical: 0, origin: this.origin }
        : { wallMs: this.last.wallMs, logical: this.bump(this.last.logical), origin: this.origin };
    this.last = next;
    return next;
  }

  /**
   * Check a remote timestamp and fold it in. A remote wall time more than skewMaxMs ahead of local
   * wall time is refused (CLOCK_SKEW) and NOT adopted: adopting it would drag every later local
   * stamp into the far future and let that server win every conflict.
   */
  receive(remote: Hlc, wallMs: number): void {
    this.check(remote, wallMs);
    const wall = Math.max(this.last.wallMs, remote.wallMs, wallMs);
    let logical = 0;
    if (wall === this.last.wallMs && wall === remote.wallMs) logical = this.bump(Math.max(this.last.logical, remote.logical));
    else if (wall === this.last.wallMs) logical = this.bump(this.last.logical);
    else if (wall === remote.wallMs) logical = this.bump(remote.logical);
    this.last = { wallMs: wall, logical, origin: this.origin };
  }

  /** Throws CLOCK_SKEW if remote is too far ahead; does not change the clock. */
  check(remote: Hlc, wallMs: number): void {
    const aheadMs = remote.wallMs - wallMs;
    if (aheadMs > this.skewMaxMs) {
      throw new BlogError(
        'CLOCK_SKEW',
        `a timestamp from ${remote.origin} is ${aheadMs} ms ahead of this server's clock (max ${this.skewMaxMs} ms); refused`,
      );
    }
  }

  private bump(logical: number): number {
    if (logical >= HLC_LOGICAL_MAX) throw new Error('HLC logical counter overflow: a wall clock is stuck');
    return logical + 1;
  }
}
