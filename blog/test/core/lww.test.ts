import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Change } from '../../src/core/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { blogChange, hlc, tombstoneChange } from '../store/contract.js';

// Any set of changes, delivered in any order with duplicates, leaves every replica in the same
// state: the property the whole replication design leans on.
const changeArb: fc.Arbitrary<Change> = fc
  .record({
    id: fc.constantFrom('b.one00000', 'b.two00000', 'b.three000'),
    wall: fc.integer({ min: 0, max: 20 }),
    logical: fc.integer({ min: 0, max: 2 }),
    origin: fc.constantFrom('l1-europe', 'l1-asia', 'l1-africa'),
    tomb: fc.boolean(),
    author: fc.constantFrom('u.alice', 'u.bob'),
  })
  .map((r) =>
    r.tomb
      ? tombstoneChange(r.id, hlc(r.wall, r.logical, r.origin), r.author)
      : blogChange(r.id, hlc(r.wall, r.logical, r.origin), { authorId: r.author, title: `${r.id}@${r.wall}.${r.logical}@${r.origin}` }),
  );

function state(s: MemoryStore): string {
  const out = [...s.snapshot()].map(([k, c]) => `${k}=${c.kind}:${c.hlc.wallMs}.${c.hlc.logical}@${c.hlc.origin}`).sort();
  return JSON.stringify({ out, alice: s.blogCount('u.alice'), bob: s.blogCount('u.bob') });
}

describe('LWW convergence (property)', () => {
  it('any order, any duplicates: same final state, counts equal live blogs, no tombstone undone', () => {
    fc.assert(
      fc.property(
        // One HLC names one change (an L1 never stamps two changes alike), so HLCs are unique here.
        fc.uniqueArray(changeArb, { minLength: 1, maxLength: 25, selector: (c) => `${c.hlc.wallMs}.${c.hlc.logical}@${c.hlc.origin}` }).chain((cs) => fc.tuple(fc.constant(cs), fc.shuffledSubarray([...cs, ...cs], { minLength: cs.length * 2 }))),
        ([changes, reordered]) => {
          const a = new MemoryStore();
          const b = new MemoryStore();
          for (const c of changes) a.apply(c);
          for (const c of reordered) b.apply(c);
          assert.equal(state(a), state(b));
          for (const s of [a, b]) {
            const live = [...s.snapshot().values()].filter((c) => c.kind === 'blog');
            assert.equal(s.blogCount('u.alice') + s.blogCount('u.bob'), live.length);
          }
          const deleted = new Set(changes.filter((c) => c.kind === 'tombstone').map((c) => (c.kind === 'tombstone' ? c.tombstone.blogId : '')));
          for (const id of deleted) assert.equal(a.getBlog(id), undefined);
        },
      ),
      { numRuns: 500 },
    );
  });
});
