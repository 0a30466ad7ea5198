import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { blogChange, hlc, pubChange, runStoreContract, tombstoneChange } from './contract.js';

runStoreContract('sqlite', () => new SqliteStore(':memory:'));

const dir = mkdtempSync(path.join(os.tmpdir(), 'blog-sqlite-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('a reopened file holds everything: log, counts, slugs, checkpoints, reads, the highest HLC', () => {
  const file = path.join(dir, 'reopen.db');
  const a = new SqliteStore(file);
  assert.equal(a.db.pragma('journal_mode', { simple: true }), 'wal');
  a.apply(blogChange('b1', hlc(10)));
  a.apply(blogChange('b2', hlc(11)));
  a.apply(tombstoneChange('b1', hlc(5)));
  a.apply(pubChange('p.a', 'cats', hlc(12)));
  a.setCheckpoint('l1-asia', 9);
  a.addReads('b2', 3);
  a.close();
  const b = new SqliteStore(file);
  assert.equal(b.headSeq(), 4);
  assert.equal(b.blogCount('u.alice'), 1);
  assert.equal(b.getBlog('b1'), undefined);
  assert.equal(b.apply(blogChange('b1', hlc(99))).won, false, 'the tombstone survived the restart');
  assert.equal(b.publicationBySlug('cats')?.id, 'p.a');
  assert.equal(b.getCheckpoint('l1-asia'), 9);
  assert.equal(b.readCount('b2'), 3);
  assert.deepEqual(b.maxHlc(), hlc(12));
  assert.equal(b.apply(blogChange('b3', hlc(13))).seq, 5, 'log positions continue after the restart');
  b.close();
});

it('a failure inside atomically rolls back everything it did', () => {
  const s = new SqliteStore(':memory:');
  assert.throws(() =>
    s.atomically(() => {
      s.apply(blogChange('b1', hlc(10)));
      throw new Error('boom');
    }),
  );
  assert.equal(s.getBlog('b1'), undefined);
  assert.equal(s.blogCount('u.alice'), 0);
  assert.equal(s.headSeq(), 0);
  s.apply(blogChange('b2', hlc(10), { title: 'kept' }));
  assert.throws(() =>
    s.atomically(() => {
      s.apply(blogChange('b2', hlc(20), { title: 'rolled back' }));
      assert.equal(s.get('blog:b2')?.change.kind, 'blog'); // read inside the transaction
      throw new Error('boom');
    }),
  );
  assert.equal(s.getBlog('b2')?.title, 'kept', 'no read memo survives a rollback');
});

it('a get() followed by getBlog() of the same key agrees with the database after every change', () => {
  const s = new SqliteStore(':memory:');
  s.apply(blogChange('b1', hlc(1), { title: 'v1' }));
  assert.equal(s.get('blog:b1')?.seq, 1);
  assert.equal(s.getBlog('b1')?.title, 'v1');
  s.apply(blogChange('b1', hlc(2), { title: 'v2' }));
  assert.equal(s.getBlog('b1')?.title, 'v2');
  s.get('blog:b1');
  s.apply(tombstoneChange('b1', hlc(3)));
  assert.equal(s.getBlog('b1'), undefined);
  assert.equal(s.getTombstone('b1')?.blogId, 'b1');
});

it('search treats % and _ literally', () => {
  const s = new SqliteStore(':memory:');
  s.apply(blogChange('b1', hlc(1), { title: '100% sure' }));
  s.apply(blogChange('b2', hlc(2), { title: '1000 sure' }));
  assert.deepEqual(s.search('0%', 10).map((b) => b.id), ['b1']);
  assert.deepEqual(s.search('_', 10), []);
});
