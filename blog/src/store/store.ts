// The one interface every query goes behind. SYNCHRONOUS on purpose: better-sqlite3 is synchronous,
// so the pure cores call the store directly inside one event and stay deterministic; the
// simulator uses the in-memory twin (memory-store.ts). Both must pass test/store/contract.ts.
import type { SearchHit } from './fts.js';
import type { Blog, Change, Hlc, LoggedChange, Publication, ServerId, Tombstone, User } from '../core/types.js';

/** Bound on one page of changesSince / listings: no query returns an unbounded result. */
export const STORE_PAGE_MAX = 1000;
/** Bound on search text, so a query is never a megabyte LIKE pattern. */
export const SEARCH_TEXT_CHARS_MAX = 200;

export interface ApplyResult {
  /** True when the change replaced what the store held (or the key was new). */
  readonly won: boolean;
  /** The local log position given to the change when it won; null when it lost. */
  readonly seq: number | null;
}

export interface BlogStore {
  /** Runs fn as one atomic unit (one SQLite transaction); nested calls join the outer one. */
  atomically<T>(fn: () => T): T;

  /**
   * Applies a change with last-writer-wins on its entity key (see core/lww.ts `changeWins`):
   * higher HLC wins; a tombstone beats every blog version whatever its HLC, so a deleted blog
   * never comes back through an older (or concurrent) copy. A winning change gets the next local
   * log position (seq = headSeq()+1) and replaces the key's previous log entry; the profile blog
   * count of the author(s) involved is updated in the same step.
   */
  apply(change: Change): ApplyResult;

  /** The stored change for an entity key ("blog:<id>", "user:<id>", "pub:<id>"). */
  get(key: string): LoggedChange | undefined;
  /** A live blog (undefined when unknown or deleted). */
  getBlog(id: string): Blog | undefined;
  getTombstone(blogId: string): Tombstone | undefined;
  getUser(id: string): User | undefined;
  getPublication(id: string): Publication | undefined;

  /** True when any publication in this view asked for this slug (claims at an L1 check this). */
  slugClaimed(slug: string): boolean;
  /**
   * The slug a publication is shown under. Among publications that asked for the same slug, the one
   * with the lowest claimHlc keeps it; each other one is `<slug>--<claimHlc.origin>` (requested
   * slugs cannot contain "--", and one L1 never grants a slug twice, so these never collide).
   */
  effectiveSlug(publicationId: string): string | undefined;
  /** Resolves an effective slug (bare or "--origin" form) to its publication. */
  publicationBySlug(effectiveSlug: string): Publication | undefined;

  /** Live blogs, newest createdMs first (ties: id descending); limit <= STORE_PAGE_MAX. */
  listRecent(limit: number): Blog[];
  listByAuthor(authorId: string, limit: number): Blog[];
  listByPublication(publicationId: string, limit: number): Blog[];
  /** Live blogs whose title or body contains text (ASCII case-insensitive), newest first. */
  search(text: string, limit: number): Blog[];
  /**
   * Full-text search (fts.ts): live blogs holding every word of the text as a whole word in the
   * title or body, best first (a title match counts more), each with a snippet. The SQLite store
   * uses FTS5 (bm25 ranking); the memory store counts matches, so only the SET of hits and the
   * marked words are part of the contract, not the exact order among similar hits.
   */
  searchRanked(text: string, limit: number): SearchHit[];
  /** The number of live blogs by this author in this store: the profile's blog count. */
  blogCount(authorId: string): number;

  /** The highest log position given so far (0 for an empty store). */
  headSeq(): number;
  /** Log entries with seq > afterSeq, ascending, at most limit (<= STORE_PAGE_MAX). */
  changesSince(afterSeq: number, limit: number): LoggedChange[];

  addReads(blogId: string, count: number): void;
  readCount(blogId: string): number;
  /** Live blogs with reads > 0, most read first (ties: id ascending), optionally not from a country. */
  mostRead(limit: number, excludeCountry?: string): Blog[];

  /** Replication checkpoints: a peer's log position up to which this server holds everything. */
  getCheckpoint(peer: ServerId): number;
  setCheckpoint(peer: ServerId, seq: number): void;

  /** The highest HLC among stored changes, so a restarted server's clock never goes back. */
  maxHlc(): Hlc | undefined;
}

export function clampLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  return Math.min(limit, STORE_PAGE_MAX);
}
