// The store contract: every BlogStore implementation (memory, SQLite) must pass this suite.
// Usage from a *.test.ts file:  runStoreContract('sqlite', () => new SqliteStore(':memory:'));
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Blog, Change, Hlc, Publication, User } from '../../src/core/types.js';
import { SNIP_CLOSE, SNIP_OPEN } from '../../src/store/fts.js';
import { STORE_PAGE_MAX, type BlogStore } from '../../src/store/store.js';

export function hlc(wallMs: number, logical = 0, origin = 'l1-eu'): Hlc {
  return { wallMs, logical, origin };
}

export function blogChange(id: string, h: Hlc, fields: Partial<Blog> = {}): Change {
  return {
    kind: 'blog',
    hlc: h,
    blog: {
      id,
      authorId: 'u.alice',
      authorCountry: 'fr',
      publicationId: 'p.alice',
      title: `title of ${id}`,
      body: `body of ${id}`,
      imageRefs: [],
      createdMs: h.wallMs,
      updatedMs: h.wallMs,
      ...fields,
    },
  };
}

export function tombstoneChange(blogId: string, h: Hlc, authorId = 'u.alice', authorCountry = 'fr'): Change {
  return { kind: 'tombstone', hlc: h, tombstone: { blogId, authorId, authorCountry, publicationId: 'p.alice', deletedMs: h.wallMs } };
}

export function userChange(id: string, h: Hlc, fields: Partial<User> = {}): Change {
  return { kind: 'user', hlc: h, user: { id, name: id, country: 'fr', publicationId: `p.${id}`, createdMs: h.wallMs, ...fields } };
}

export function pubChange(id: string, slug: string, h: Hlc, fields: Partial<Publication> = {}): Change {
  return {
    kind: 'publication',
    hlc: h,
    publication: { id, ownerId: `u.${id}`, ownerCountry: 'fr', slug, title: slug, claimHlc: h, ...fields },
  };
}

export function runStoreContract(name: string, makeStore: () => BlogStore): void {
  describe(`BlogStore contract: ${name}`, () => {
    it('applies a new blog, lists it, counts it for its author', () => {
      const s = makeStore();
      const r = s.apply(blogChange('b1', hlc(10)));
      assert.deepEqual(r, { won: true, seq: 1 });
      assert.equal(s.getBlog('b1')?.title, 'title of b1');
      assert.equal(s.blogCount('u.alice'), 1);
      assert.equal(s.headSeq(), 1);
      assert.deepEqual(s.listRecent(10).map((b) => b.id), ['b1']);
      assert.equal(s.get('blog:b1')?.seq, 1);
    });

    it('last writer wins: a newer version replaces, an older or equal one loses', () => {
      const s = makeStore();
      s.apply(blogChange('b1', hlc(10), { title: 'v1' }));
      assert.equal(s.apply(blogChange('b1', hlc(20), { title: 'v2' })).won, true);
      assert.equal(s.apply(blogChange('b1', hlc(15), { title: 'old' })).won, false);
      assert.equal(s.apply(blogChange('b1', hlc(20), { title: 'v2' })).won, false, 'the same change twice is a no-op');
      assert.equal(s.getBlog('b1')?.title, 'v2');
      assert.equal(s.blogCount('u.alice'), 1, 'an update does not change the count');
      assert.equal(s.headSeq(), 2, 'losers take no log position');
    });

    it('ties on wall time break on logical counter then origin', () => {
      const s = makeStore();
      s.apply(blogChange('b1', hlc(10, 0, 'l1-eu'), { title: 'eu' }));
      assert.equal(s.apply(blogChange('b1', hlc(10, 0, 'l1-as'), { title: 'as' })).won, false, '"l1-as" < "l1-eu"');
      assert.equal(s.apply(blogChange('b1', hlc(10, 1, 'l1-as'), { title: 'as1' })).won, true);
      assert.equal(s.getBlog('b1')?.title, 'as1');
    });

    it('a tombstone wins over every blog version and a deleted blog never comes back', () => {
      const s = makeStore();
      s.apply(blogChange('b1', hlc(10)));
      assert.equal(s.apply(tombstoneChange('b1', hlc(20))).won, true);
      assert.equal(s.getBlog('b1'), undefined);
      assert.equal(s.getTombstone('b1')?.blogId, 'b1');
      assert.equal(s.blogCount('u.alice'), 0);
      assert.equal(s.apply(blogChange('b1', hlc(15))).won, false, 'older copy');
      assert.equal(s.apply(blogChange('b1', hlc(99))).won, false, 'even a newer copy');
      assert.equal(s.getBlog('b1'), undefined);
      assert.equal(s.blogCount('u.alice'), 0);
      assert.deepEqual(s.listRecent(10), []);
    });

    it('a tombstone that arrives before the blog keeps it out', () => {
      const s = makeStore();
      assert.equal(s.apply(tombstoneChange('b1', hlc(20))).won, true);
      assert.equal(s.apply(blogChange('b1', hlc(10))).won, false);
      assert.equal(s.blogCount('u.alice'), 0);
    });

    it('counts follow live blogs per author', () => {
      const s = makeStore();
      s.apply(blogChange('b1', hlc(1)));
      s.apply(blogChange('b2', hlc(2)));
      s.apply(blogChange('b3', hlc(3), { authorId: 'u.bob' }));
      s.apply(tombstoneChange('b2', hlc(4)));
      assert.equal(s.blogCount('u.alice'), 1);
      assert.equal(s.blogCount('u.bob'), 1);
      assert.equal(s.blogCount('u.nobody'), 0);
      assert.deepEqual(s.listByAuthor('u.alice', 10).map((b) => b.id), ['b1']);
      assert.deepEqual(s.listByAuthor('u.bob', 10).map((b) => b.id), ['b3']);
    });

    it('changesSince returns the latest entry per key in log order, paged and bounded', () => {
      const s = makeStore();
      s.apply(blogChange('b1', hlc(1)));
      s.apply(blogChange('b2', hlc(2)));
      s.apply(blogChange('b1', hlc(3), { title: 'b1 v2' }));
      const all = s.changesSince(0, 10);
      assert.deepEqual(all.map((e) => e.seq), [2, 3]);
      assert.equal(all[1]!.change.kind === 'blog' && all[1]!.change.blog.title, 'b1 v2');
      assert.deepEqual(s.changesSince(2, 10).map((e) => e.seq), [3]);
      assert.deepEqual(s.changesSince(0, 1).map((e) => e.seq), [2]);
      assert.deepEqual(s.changesSince(3, 10), []);
      for (let i = 0; i < STORE_PAGE_MAX + 5; i++) s.apply(blogChange(`x${i}`, hlc(100 + i)));
      assert.equal(s.changesSince(0, STORE_PAGE_MAX * 10).length, STORE_PAGE_MAX, 'a page never exceeds STORE_PAGE_MAX');
    });

    it('lists are newest first and bounded; search is case-insensitive on title and body', () => {
      const s = makeStore();
      s.apply(blogChange('b1', hlc(1), { title: 'Hello World' }));
      s.apply(blogChange('b2', hlc(2), { body: 'the WORLD is wide' }));
      s.apply(blogChange('b3', hlc(3), { title: 'other', publicationId: 'p.other' }));
      assert.deepEqual(s.listRecent(2).map((b) => b.id), ['b3', 'b2']);
      assert.deepEqual(s.search('world', 10).map((b) => b.id), ['b2', 'b1']);
      assert.deepEqual(s.listByPublication('p.other', 10).map((b) => b.id), ['b3']);
      assert.throws(() => s.search('x'.repeat(10_000), 10), RangeError);
    });

    it('full-text search finds whole words in title or body, ranked, with marked snippets; never a deleted blog', () => {
      // FTS5 matches whole words (tokens), not substrings as the LIKE search does: "wor" finds
      // nothing, and every word of the query must be there. Order among similar hits is the
      // store's own ranking (bm25 in SQLite), so only the set and the first hit are asserted.
      const s = makeStore();
      s.apply(blogChange('b1', hlc(1), { title: 'Kestrel sightings', body: 'a kestrel over the field, another kestrel later' }));
      s.apply(blogChange('b2', hlc(2), { title: 'Walks', body: 'we saw a kestrel near the river' }));
      s.apply(blogChange('b3', hlc(3), { title: 'Gardening', body: 'roses and tulips' }));
      const hits = s.searchRanked('Kestrel', 10);
      assert.deepEqual(hits.map((h) => h.blog.id).sort(), ['b1', 'b2']);
      assert.equal(hits[0]!.blog.id, 'b1', 'the title match ranks first');
      assert.ok(hits[1]!.snippet.includes(`${SNIP_OPEN}kestrel${SNIP_CLOSE}`), hits[1]!.snippet);
      assert.deepEqual(s.searchRanked('kes', 10), [], 'a word prefix is not a match');
      assert.deepEqual(s.searchRanked('kestrel river', 10).map((h) => h.blog.id), ['b2'], 'every word must be there');
      assert.deepEqual(s.searchRanked('" OR * NEAR(', 10), [], 'FTS5 operators in the text are only punctuation');
      s.apply(tombstoneChange('b2', hlc(4)));
      assert.deepEqual(s.searchRanked('kestrel', 10).map((h) => h.blog.id), ['b1']);
      s.apply(blogChange('b1', hlc(5), { title: 'Renamed', body: 'now about owls' }));
      assert.deepEqual(s.searchRanked('kestrel', 10), [], 'an updated blog is searched in its new version only');
      assert.deepEqual(s.searchRanked('owls', 10).map((h) => h.blog.id), ['b1']);
    });

    it('read counters rank most-read blogs, optionally excluding a country', () => {
      const s = makeStore();
      s.apply(blogChange('b1', hlc(1)));
      s.apply(blogChange('b2', hlc(2), { authorCountry: 'de' }));
      s.apply(blogChange('b3', hlc(3)));
      s.addReads('b1', 5);
      s.addReads('b2', 9);
      s.addReads('b3', 5);
      s.addReads('gone', 100);
      assert.equal(s.readCount('b2'), 9);
      assert.deepEqual(s.mostRead(10).map((b) => b.id), ['b2', 'b1', 'b3']);
      assert.deepEqual(s.mostRead(10, 'de').map((b) => b.id), ['b1', 'b3']);
      assert.deepEqual(s.mostRead(1).map((b) => b.id), ['b2']);
    });

    it('checkpoints per peer default to 0 and persist', () => {
      const s = makeStore();
      assert.equal(s.getCheckpoint('l1-as'), 0);
      s.setCheckpoint('l1-as', 42);
      s.setCheckpoint('l1-na', 7);
      assert.equal(s.getCheckpoint('l1-as'), 42);
      assert.equal(s.getCheckpoint('l1-na'), 7);
    });

    it('users and publications are LWW too; maxHlc tracks the highest stored HLC', () => {
      const s = makeStore();
      assert.equal(s.maxHlc(), undefined);
      s.apply(userChange('u.alice', hlc(5), { name: 'Alice' }));
      s.apply(userChange('u.alice', hlc(4), { name: 'stale' }));
      assert.equal(s.getUser('u.alice')?.name, 'Alice');
      s.apply(pubChange('p.alice', 'alice', hlc(6)));
      assert.deepEqual(s.maxHlc(), hlc(6));
      assert.equal(s.getPublication('p.alice')?.slug, 'alice');
    });

    it('slug uniqueness: the lowest claim keeps the slug, the other is renamed slug--origin, whatever the arrival order', () => {
      for (const order of [0, 1]) {
        const s = makeStore();
        const early = pubChange('p.a', 'cats', hlc(10, 0, 'l1-eu'));
        const late = pubChange('p.b', 'cats', hlc(12, 0, 'l1-as'));
        for (const c of order === 0 ? [early, late] : [late, early]) s.apply(c);
        assert.equal(s.slugClaimed('cats'), true);
        assert.equal(s.slugClaimed('dogs'), false);
        assert.equal(s.effectiveSlug('p.a'), 'cats');
        assert.equal(s.effectiveSlug('p.b'), 'cats--l1-as');
        assert.equal(s.publicationBySlug('cats')?.id, 'p.a');
        assert.equal(s.publicationBySlug('cats--l1-as')?.id, 'p.b');
        assert.equal(s.publicationBySlug('cats--l1-eu'), undefined, 'the winner has no suffixed name');
        assert.equal(s.publicationBySlug('dogs'), undefined);
      }
    });

    it('atomically returns the function result', () => {
      const s = makeStore();
      const seq = s.atomically(() => s.apply(blogChange('b1', hlc(1))).seq);
      assert.equal(seq, 1);
    });
  });
}
