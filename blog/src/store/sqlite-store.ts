// The production store: one SQLite file per server (better-sqlite3, synchronous), WAL mode, every
// query a prepared statement. Same semantics as the in-memory twin; both pass test/store/contract.ts.
//
// Layout: `entries` holds the latest change per entity key with its log position (the replication
// log IS this table: a key's older versions are gone, which bounds the log by the number of
// entities); `blogs` indexes the live blogs for listings; `counts` holds each author's live-blog
// count, updated in the same transaction as the change; `reads`, `checkpoints`, `slugs` and `meta`
// hold the rest. Search is a LIKE scan over title and body in newest-first order (SQLite's LIKE is
// ASCII case-insensitive, exactly the contract's semantics), stopped at the page limit.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { compareHlc, maxHlc } from '../core/hlc.js';
import { changeWins } from '../core/lww.js';
import { assertNever, entityKey, type Blog, type Change, type Hlc, type LoggedChange, type Publication, type Tombstone, type User } from '../core/types.js';
import { ftsMatch, ftsTerms, SNIP_OPEN, SNIP_WORDS, type SearchHit } from './fts.js';
import { clampLimit, SEARCH_TEXT_CHARS_MAX, type ApplyResult, type BlogStore } from './store.js';

// 2: blogs_fts (FTS5 over title and body) added.
// 3: a blogs_fts row's rowid is its blog entry's seq, so replacing or deleting it is a rowid lookup
//    (version 2 deleted by the unindexed id column: a scan of the whole index per write, which made
//    seeding 20,000 blogs take minutes). Versions 1 and 2 are migrated by refilling the index.
const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  key TEXT PRIMARY KEY,
  seq INTEGER NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  hlc_wall INTEGER NOT NULL,
  hlc_logical INTEGER NOT NULL,
  hlc_origin TEXT NOT NULL,
  change TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blogs (
  id TEXT PRIMARY KEY,
  author_id TEXT NOT NULL,
  author_country TEXT NOT NULL,
  publication_id TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS blogs_recent ON blogs (created_ms DESC, id DESC);
CREATE INDEX IF NOT EXISTS blogs_author ON blogs (author_id, created_ms DESC, id DESC);
CREATE INDEX IF NOT EXISTS blogs_publication ON blogs (publication_id, created_ms DESC, id DESC);
CREATE TABLE IF NOT EXISTS counts (author_id TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reads (blog_id TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (peer TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS slugs (slug TEXT NOT NULL, pub_id TEXT NOT NULL, PRIMARY KEY (slug, pub_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS blogs_fts USING fts5(id UNINDEXED, title, body);
`;

export interface SqliteStoreOptions {
  /**
   * 'full': every commit is fsynced before it returns (an L1: its commit is what a writer's
   * acknowledgement promises, so it must survive a power cut). 'normal': WAL commits survive a
   * crash of the process but may lose the last transactions on a power cut (an L2: it holds copies
   * and catches up from its L1 after a restart). Default 'full'.
   */
  durability?: 'full' | 'normal';
}

interface EntryRow {
  seq: number;
  kind: Change['kind'];
  hlc_wall: number;
  hlc_logical: number;
  hlc_origin: string;
  change: string;
}

export class SqliteStore implements BlogStore {
  readonly db: Database.Database;
  private readonly q: ReturnType<typeof prepare>;
  private highest: Hlc | undefined;
  /**
   * Read counts not yet written: a read must not cost a write transaction (at an L1 with
   * durability 'full', an fsync per read). They are written with the next transaction, when this
   * many blogs wait, and before anything reads them; a crash loses at most these (they only rank
   * the most-read blogs).
   */
  private readonly pendingReads = new Map<string, number>();
  static readonly PENDING_READS_MAX = 1_000;
  /**
   * The entry the last get() read: a read at an L2 asks get(key) then getBlog(id) for the same key,
   * and this spares the second query and JSON parse. Any apply forgets it.
   */
  private lastGot: { key: string; entry: LoggedChange } | null = null;

  /** @param file a path, or ':memory:' for the contract tests */
  constructor(file: string, opts: SqliteStoreOptions = {}) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.durability === 'normal' ? 'NORMAL' : 'FULL'}`);
    this.db.pragma('foreign_keys = OFF');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version !== 0 && version !== 1 && version !== 2 && version !== SCHEMA_VERSION) {
      throw new Error(`${file}: schema version ${version}, this build knows ${SCHEMA_VERSION}`);
    }
    this.db.exec(SCHEMA);
    if (version === 1 || version === 2) {
      this.db.exec(`DELETE FROM blogs_fts;
        INSERT INTO blogs_fts (rowid, id, title, body) SELECT e.seq, b.id, b.title, b.body FROM blogs b JOIN entries e ON e.key = 'blog:' || b.id`);
    }
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.q = prepare(this.db);
    const m = this.q.metaGet.get('max_hlc') as { v: string } | undefined;
    this.highest = m === undefined ? undefined : (JSON.parse(m.v) as Hlc);
  }

  close(): void {
    if (this.db.open) this.atomically(() => undefined);
    this.db.close();
  }

  atomically<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.q.begin.run();
    try {
      this.flushReads();
      const out = fn();
      this.q.commit.run();
      return out;
    } catch (err) {
      this.lastGot = null; // it may hold what the rollback undoes
      if (this.db.inTransaction) this.q.rollback.run();
      throw err;
    }
  }

  apply(change: Change): ApplyResult {
    return this.atomically(() => this.applyInTx(change));
  }

  private applyInTx(change: Change): ApplyResult {
    this.lastGot = null;
    const key = entityKey(change);
    const prev = this.q.entryGet.get(key) as EntryRow | undefined;
    // changeWins reads only kind and hlc: no need to parse the stored JSON to decide.
    const prevHead = prev === undefined ? undefined : ({ kind: prev.kind, hlc: rowHlc(prev) } as Change);
    if (!changeWins(change, prevHead)) return { won: false, seq: null };
    const seq = this.headSeq() + 1;
    const h = change.hlc;
    this.q.entryPut.run(key, seq, change.kind, h.wallMs, h.logical, h.origin, JSON.stringify(change));
    if (prev?.kind === 'blog') {
      const old = (JSON.parse(prev.change) as Extract<Change, { kind: 'blog' }>).blog;
      const r = this.q.countDec.run(old.authorId);
      assert.equal(r.changes, 1, `no blog count row for ${old.authorId}, whose blog was stored`);
      this.q.ftsDel.run(prev.seq);
    }
    this.index(change, seq, prev === undefined);
    this.highest = this.highest === undefined ? h : maxHlc(this.highest, h);
    this.q.metaPut.run('max_hlc', JSON.stringify(this.highest));
    return { won: true, seq };
  }

  /** `seq` is the change's new log position: its blogs_fts rowid (the previous one is gone already). */
  private index(change: Change, seq: number, isNew: boolean): void {
    switch (change.kind) {
      case 'blog': {
        const b = change.blog;
        this.q.blogPut.run(b.id, b.authorId, b.authorCountry, b.publicationId, b.title, b.body, b.createdMs);
        this.q.ftsPut.run(seq, b.id, b.title, b.body);
        this.q.countAdd.run({ id: b.authorId, n: 1 });
        return;
      }
      case 'tombstone':
        this.q.blogDel.run(change.tombstone.blogId);
        return;
      case 'publication':
        // A publication's slug never changes, so its first version indexes it for good.
        if (isNew) this.q.slugPut.run(change.publication.slug, change.publication.id);
        return;
      case 'user':
        return;
      default:
        assertNever(change);
    }
  }

  get(key: string): LoggedChange | undefined {
    const row = this.q.entryGet.get(key) as EntryRow | undefined;
    if (row === undefined) return undefined;
    const entry = { seq: row.seq, change: JSON.parse(row.change) as Change };
    this.lastGot = { key, entry };
    return entry;
  }

  private changeOf(key: string): Change | undefined {
    if (this.lastGot?.key === key) return this.lastGot.entry.change;
    const row = this.q.changeGet.get(key) as { change: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.change) as Change);
  }

  getBlog(id: string): Blog | undefined {
    const c = this.changeOf(`blog:${id}`);
    return c?.kind === 'blog' ? c.blog : undefined;
  }

  getTombstone(blogId: string): Tombstone | undefined {
    const c = this.changeOf(`blog:${blogId}`);
    return c?.kind === 'tombstone' ? c.tombstone : undefined;
  }

  getUser(id: string): User | undefined {
    const c = this.changeOf(`user:${id}`);
    return c?.kind === 'user' ? c.user : undefined;
  }

  getPublication(id: string): Publication | undefined {
    const c = this.changeOf(`pub:${id}`);
    return c?.kind === 'publication' ? c.publication : undefined;
  }

  slugClaimed(slug: string): boolean {
    return this.q.slugAny.get(slug) !== undefined;
  }

  effectiveSlug(publicationId: string): string | undefined {
    const pub = this.getPublication(publicationId);
    if (pub === undefined) return undefined;
    return this.slugWinner(pub.slug)?.id === pub.id ? pub.slug : `${pub.slug}--${pub.claimHlc.origin}`;
  }

  publicationBySlug(effectiveSlug: string): Publication | undefined {
    const cut = effectiveSlug.indexOf('--');
    if (cut < 0) return this.slugWinner(effectiveSlug);
    const base = effectiveSlug.slice(0, cut);
    const origin = effectiveSlug.slice(cut + 2);
    const claims = this.claimsOf(base);
    const winner = lowestClaim(claims);
    return claims.find((p) => p.id !== winner?.id && p.claimHlc.origin === origin);
  }

  private claimsOf(slug: string): Publication[] {
    const out: Publication[] = [];
    for (const r of this.q.slugPubs.all(slug) as Array<{ pub_id: string }>) {
      const p = this.getPublication(r.pub_id);
      if (p !== undefined) out.push(p);
    }
    return out;
  }

  private slugWinner(slug: string): Publication | undefined {
    return lowestClaim(this.claimsOf(slug));
  }

  listRecent(limit: number): Blog[] {
    return this.blogsOf(this.q.listRecent.all(clampLimit(limit)));
  }

  listByAuthor(authorId: string, limit: number): Blog[] {
    return this.blogsOf(this.q.listByAuthor.all(authorId, clampLimit(limit)));
  }

  listByPublication(publicationId: string, limit: number): Blog[] {
    return this.blogsOf(this.q.listByPublication.all(publicationId, clampLimit(limit)));
  }

  search(text: string, limit: number): Blog[] {
    if (text.length > SEARCH_TEXT_CHARS_MAX) throw new RangeError(`search text over ${SEARCH_TEXT_CHARS_MAX} characters`);
    const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.blogsOf(this.q.search.all(pattern, pattern, clampLimit(limit)));
  }

  searchRanked(text: string, limit: number): SearchHit[] {
    if (text.length > SEARCH_TEXT_CHARS_MAX) throw new RangeError(`search text over ${SEARCH_TEXT_CHARS_MAX} characters`);
    const terms = ftsTerms(text);
    if (terms.length === 0) return [];
    const rows = this.q.ftsSearch.all(ftsMatch(terms), clampLimit(limit)) as Array<{ change: string; snip: string; tsnip: string }>;
    return rows.map((r) => ({
      blog: (JSON.parse(r.change) as Extract<Change, { kind: 'blog' }>).blog,
      // A match only in the title gives a body snippet without markers: show the body's start then.
      snippet: r.snip.includes(SNIP_OPEN) ? r.snip : r.tsnip,
    }));
  }

  private blogsOf(rows: unknown[]): Blog[] {
    return (rows as Array<{ change: string }>).map((r) => (JSON.parse(r.change) as Extract<Change, { kind: 'blog' }>).blog);
  }

  blogCount(authorId: string): number {
    return (this.q.countGet.get(authorId) as { n: number } | undefined)?.n ?? 0;
  }

  headSeq(): number {
    return (this.q.head.get() as { s: number | null }).s ?? 0;
  }

  changesSince(afterSeq: number, limit: number): LoggedChange[] {
    const rows = this.q.since.all(afterSeq, clampLimit(limit)) as Array<{ seq: number; change: string }>;
    return rows.map((r) => ({ seq: r.seq, change: JSON.parse(r.change) as Change }));
  }

  addReads(blogId: string, count: number): void {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`read count must be a non-negative integer, got ${count}`);
    this.pendingReads.set(blogId, (this.pendingReads.get(blogId) ?? 0) + count);
    if (this.pendingReads.size >= SqliteStore.PENDING_READS_MAX) this.atomically(() => undefined);
  }

  private flushReads(): void {
    for (const [id, n] of this.pendingReads) this.q.readsAdd.run({ id, n });
    this.pendingReads.clear();
  }

  readCount(blogId: string): number {
    if (this.pendingReads.size > 0) this.atomically(() => undefined);
    return (this.q.readsGet.get(blogId) as { n: number } | undefined)?.n ?? 0;
  }

  mostRead(limit: number, excludeCountry?: string): Blog[] {
    if (this.pendingReads.size > 0) this.atomically(() => undefined);
    return this.blogsOf(this.q.mostRead.all({ ex: excludeCountry ?? null, limit: clampLimit(limit) }));
  }

  getCheckpoint(peer: string): number {
    return (this.q.checkpointGet.get(peer) as { seq: number } | undefined)?.seq ?? 0;
  }

  setCheckpoint(peer: string, seq: number): void {
    if (!Number.isInteger(seq) || seq < 0) throw new RangeError(`checkpoint must be a non-negative integer, got ${seq}`);
    this.q.checkpointPut.run(peer, seq);
  }

  maxHlc(): Hlc | undefined {
    return this.highest;
  }
}

function rowHlc(r: EntryRow): Hlc {
  return { wallMs: r.hlc_wall, logical: r.hlc_logical, origin: r.hlc_origin };
}

function lowestClaim(pubs: Publication[]): Publication | undefined {
  let best: Publication | undefined;
  for (const p of pubs) if (best === undefined || compareHlc(p.claimHlc, best.claimHlc) < 0) best = p;
  return best;
}

function prepare(db: Database.Database) {
  const blogCols = `SELECT e.change FROM blogs b JOIN entries e ON e.key = 'blog:' || b.id`;
  return {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    entryGet: db.prepare('SELECT seq, kind, hlc_wall, hlc_logical, hlc_origin, change FROM entries WHERE key = ?'),
    changeGet: db.prepare('SELECT change FROM entries WHERE key = ?'),
    entryPut: db.prepare(
      'INSERT OR REPLACE INTO entries (key, seq, kind, hlc_wall, hlc_logical, hlc_origin, change) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    head: db.prepare('SELECT max(seq) AS s FROM entries'),
    since: db.prepare('SELECT seq, change FROM entries WHERE seq > ? ORDER BY seq LIMIT ?'),
    blogPut: db.prepare(
      'INSERT OR REPLACE INTO blogs (id, author_id, author_country, publication_id, title, body, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    blogDel: db.prepare('DELETE FROM blogs WHERE id = ?'),
    countAdd: db.prepare('INSERT INTO counts (author_id, n) VALUES (@id, @n) ON CONFLICT (author_id) DO UPDATE SET n = n + @n'),
    // A decrement never inserts: the author's blog was counted when it arrived.
    countDec: db.prepare('UPDATE counts SET n = n - 1 WHERE author_id = ?'),
    countGet: db.prepare('SELECT n FROM counts WHERE author_id = ?'),
    listRecent: db.prepare(`${blogCols} ORDER BY b.created_ms DESC, b.id DESC LIMIT ?`),
    listByAuthor: db.prepare(`${blogCols} WHERE b.author_id = ? ORDER BY b.created_ms DESC, b.id DESC LIMIT ?`),
    listByPublication: db.prepare(`${blogCols} WHERE b.publication_id = ? ORDER BY b.created_ms DESC, b.id DESC LIMIT ?`),
    search: db.prepare(
      `${blogCols} WHERE b.title LIKE ? ESCAPE '\\' OR b.body LIKE ? ESCAPE '\\' ORDER BY b.created_ms DESC, b.id DESC LIMIT ?`,
    ),
    ftsPut: db.prepare('INSERT INTO blogs_fts (rowid, id, title, body) VALUES (?, ?, ?, ?)'),
    ftsDel: db.prepare('DELETE FROM blogs_fts WHERE rowid = ?'),
    // bm25 weights: a word in the title counts five times one in the body.
    ftsSearch: db.prepare(
      `SELECT e.change, snippet(blogs_fts, 2, char(2), char(3), '…', ${SNIP_WORDS}) AS snip, snippet(blogs_fts, 1, char(2), char(3), '…', ${SNIP_WORDS}) AS tsnip
       FROM blogs_fts f JOIN entries e ON e.key = 'blog:' || f.id
       WHERE blogs_fts MATCH ? ORDER BY bm25(blogs_fts, 0, 5, 1), f.id LIMIT ?`,
    ),
    readsAdd: db.prepare('INSERT INTO reads (blog_id, n) VALUES (@id, @n) ON CONFLICT (blog_id) DO UPDATE SET n = n + @n'),
    readsGet: db.prepare('SELECT n FROM reads WHERE blog_id = ?'),
    mostRead: db.prepare(
      `SELECT e.change FROM reads r JOIN blogs b ON b.id = r.blog_id JOIN entries e ON e.key = 'blog:' || b.id
       WHERE r.n > 0 AND (@ex IS NULL OR b.author_country != @ex) ORDER BY r.n DESC, r.blog_id ASC LIMIT @limit`,
    ),
    checkpointGet: db.prepare('SELECT seq FROM checkpoints WHERE peer = ?'),
    checkpointPut: db.prepare('INSERT OR REPLACE INTO checkpoints (peer, seq) VALUES (?, ?)'),
    slugAny: db.prepare('SELECT 1 FROM slugs WHERE slug = ? LIMIT 1'),
    slugPubs: db.prepare('SELECT pub_id FROM slugs WHERE slug = ?'),
    slugPut: db.prepare('INSERT OR IGNORE INTO slugs (slug, pub_id) VALUES (?, ?)'),
    metaGet: db.prepare('SELECT v FROM meta WHERE k = ?'),
    metaPut: db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)'),
  };
}
