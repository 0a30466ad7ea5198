import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareHlc, HlcClock } from '../../src/core/hlc.js';
import { BlogError, type Hlc } from '../../src/core/types.js';

describe('hlc', () => {
  it('compare orders by wall, then logical, then origin', () => {
    const table: Array<[Hlc, Hlc, number]> = [
      [{ wallMs: 1, logical: 9, origin: 'z' }, { wallMs: 2, logical: 0, origin: 'a' }, -1],
      [{ wallMs: 2, logical: 1, origin: 'a' }, { wallMs: 2, logical: 0, origin: 'z' }, 1],
      [{ wallMs: 2, logical: 1, origin: 'a' }, { wallMs: 2, logical: 1, origin: 'b' }, -1],
      [{ wallMs: 2, logical: 1, origin: 'a' }, { wallMs: 2, logical: 1, origin: 'a' }, 0],
    ];
    for (const [a, b, want] of table) {
      assert.equal(compareHlc(a, b), want);
      assert.equal(compareHlc(b, a), -want || 0);
    }
  });

  it('stamps stay strictly increasing when the wall clock goes back', () => {
    const c = new HlcClock('l1-eu', 1000);
    const a = c.now(100);
    const b = c.now(50);
    const d = c.now(100);
    assert.ok(compareHlc(a, b) < 0 && compareHlc(b, d) < 0);
    assert.deepEqual(b, { wallMs: 100, logical: 1, origin: 'l1-eu' });
  });

  it('receive adopts a remote time within the skew bound, so later local stamps come after it', () => {
    const c = new HlcClock('l1-eu', 1000);
    c.receive({ wallMs: 900, logical: 4, origin: 'l1-as' }, 100);
    const next = c.now(100);
    assert.deepEqual(next, { wallMs: 900, logical: 6, origin: 'l1-eu' });
  });

  it('receive refuses a remote time beyond the skew bound with CLOCK_SKEW and does not adopt it', () => {
    const c = new HlcClock('l1-eu', 1000);
    c.now(100);
    assert.throws(
      () => c.receive({ wallMs: 1101, logical: 0, origin: 'l1-as' }, 100),
      (e: unknown) => e instanceof BlogError && e.code === 'CLOCK_SKEW' && /1001 ms ahead/.test(e.message),
    );
    assert.equal(c.current().wallMs, 100, 'not adopted');
    c.receive({ wallMs: 1100, logical: 0, origin: 'l1-as' }, 100); // exactly at the bound: accepted
    assert.equal(c.current().wallMs, 1100);
  });

  it('restores from the highest stored HLC after a restart', () => {
    const c = new HlcClock('l1-eu', 1000, { wallMs: 500, logical: 3, origin: 'l1-as' });
    assert.deepEqual(c.now(10), { wallMs: 500, logical: 4, origin: 'l1-eu' });
  });

  it('property: every stamp is after every stamp issued or received before it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 5 })), { maxLength: 60 }),
        (steps) => {
          const c = new HlcClock('l1-eu', 1_000_000);
          let seen: Hlc | undefined;
          for (const [local, wall, logical] of steps) {
            if (local) {
              const h = c.now(wall);
              if (seen) assert.ok(compareHlc(h, seen) > 0);
              seen = h;
            } else {
              const remote = { wallMs: wall, logical, origin: 'l1-as' };
              c.receive(remote, wall);
              const h = c.now(wall);
              assert.ok(compareHlc(h, remote) > 0);
              if (seen) assert.ok(compareHlc(h, seen) > 0);
              seen = h;
            }
          }
        },
      ),
    );
  });
});
