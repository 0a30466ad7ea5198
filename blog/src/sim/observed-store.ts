// A decorator over any BlogStore that reports every apply to the simulator's checkers, and can
// list everything the store holds through the interface alone (changesSince from 0, page by page),
// so the simulator runs over the memory store or, in a test, over the real SQLite store.
import type { SearchHit } from '../store/fts.js';
import { entityKey, type Blog, type Change, type Hlc, type LoggedChange, type Publication, type Tombstone, type User } from '../core/types.js';
import { STORE_PAGE_MAX, type ApplyResult, type BlogStore } from '../store/store.js';

export type ApplyObserver = (change: Change, previous: Change | undefined, won: boolean) => void;

export class ObservedStore implements BlogStore {
  constructor(
    readonly inner: BlogStore,
    private readonly observe: ApplyObserver,
  ) {}

  apply(change: Change): ApplyResult {
    const previous = this.inner.get(entityKey(change))?.change;
    const r = this.inner.apply(change);
    this.observe(change, previous, r.won);
    return r;
  }

  /** Every stored change by key, read through changesSince (each key's latest entry is in the log). */
  snapshot(): Map<string, Change> {
    const out = new Map<string, Change>();
    let after = 0;
    for (;;) {
      const page = this.inner.changesSince(after, STORE_PAGE_MAX);
      for (const e of page) out.set(entityKey(e.change), e.change);
      if (page.length < STORE_PAGE_MAX) return out;
      after = page[page.length - 1]!.seq;
    }
  }

  atomically<T>(fn: () => T): T {
    return this.inner.atomically(fn);
  }
  get(key: string): LoggedChange | undefined {
    return this.inner.get(key);
  }
  getBlog(id: string): Blog | undefined {
    return this.inner.getBlog(id);
  }
  getTombstone(blogId: string): Tombstone | undefined {
    return this.inner.getTombstone(blogId);
  }
  getUser(id: string): User | undefined {
    return this.inner.getUser(id);
  }
  getPublication(id: string): Publication | undefined {
    return this.inner.getPublication(id);
  }
  slugClaimed(slug: string): boolean {
    return this.inner.slugClaimed(slug);
  }
  effectiveSlug(publicationId: string): string | undefined {
    return this.inner.effectiveSlug(publicationId);
  }
  publicationBySlug(effectiveSlug: string): Publication | undefined {
    return this.inner.publicationBySlug(effectiveSlug);
  }
  listRecent(limit: number): Blog[] {
    return this.inner.listRecent(limit);
  }
  listByAuthor(authorId: string, limit: number): Blog[] {
    return this.inner.listByAuthor(authorId, limit);
  }
  listByPublication(publicationId: string, limit: number): Blog[] {
    return this.inner.listByPublication(publicationId, limit);
  }
  searchRanked(text: string, limit: number): SearchHit[] {
    return this.inner.searchRanked(text, limit);
  }

  search(text: string, limit: number): Blog[] {
    return this.inner.search(text, limit);
  }
  blogCount(authorId: string): number {
    return this.inner.blogCount(authorId);
  }
  headSeq(): number {
    return this.inner.headSeq();
  }
  changesSince(afterSeq: number, limit: number): LoggedChange[] {
    return this.inner.changesSince(afterSeq, limit);
  }
  addReads(blogId: string, count: number): void {
    this.inner.addReads(blogId, count);
  }
  readCount(blogId: string): number {
    return this.inner.readCount(blogId);
  }
  mostRead(limit: number, excludeCountry?: string): Blog[] {
    return this.inner.mostRead(limit, excludeCountry);
  }
  getCheckpoint(peer: string): number {
    return this.inner.getCheckpoint(peer);
  }
  setCheckpoint(peer: string, seq: number): void {
    this.inner.setCheckpoint(peer, seq);
  }
  maxHlc(): Hlc | undefined {
    return this.inner.maxHlc();
  }
}
