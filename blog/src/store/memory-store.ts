// The in-memory twin of the SQLite store: the simulator's database. In the simulator a crashed
// server keeps this object (its "disk") and loses everything else.
import { compareHlc, maxHlc } from '../core/hlc.js';
import { changeWins } from '../core/lww.js';
import { assertNever, entityKey, type Blog, type Change, type Hlc, type LoggedChange, type Publication, type Tombstone, type User } from '../core/types.js';
import { ftsTerms, SNIP_CLOSE, SNIP_OPEN, SNIP_WORDS, type SearchHit } from './fts.js';
import { clampLimit, SEARCH_TEXT_CHARS_MAX, type ApplyResult, type BlogStore } from './store.js';

export interface MemoryStoreOptions {
  /**
   * FOR CHECKER TESTS ONLY, so the simulator's checkers can be shown to catch a broken replica:
   * 'ignore-lww' applies every change whatever its HLC (tombstones too); 'oldest-wins' inverts the
   * HLC order between versions stamped elsewhere than `owner` (replicas converge, on the wrong
   * version; tombstones still win; the owner's own commits still order right, or its core's
   * invariant assertion would stop it first).
   */
  readonly broken?: 'ignore-lww' | 'oldest-wins';
  readonly owner?: string;
}

export class MemoryStore implements BlogStore {
  private readonly entries = new Map<string, LoggedChange>();
  /** Log positions in ascending order; replaced entries are skipped through `seqKey`. */
  private readonly seqs: number[] = [];
  private readonly seqKey = new Map<number, string>();
  private head = 0;
  private readonly counts = new Map<string, number>();
  private readonly reads = new Map<string, number>();
  private readonly checkpoints = new Map<string, number>();
  private readonly slugIndex = new Map<string, Set<string>>();
  private highest: Hlc | undefined;

  constructor(private readonly options: MemoryStoreOptions = {}) {}

  atomically<T>(fn: () => T): T {
    return fn();
  }

  apply(change: Change): ApplyResult {
    const key = entityKey(change);
    const previous = this.entries.get(key);
    if (!this.wins(change, previous?.change)) return { won: false, seq: null };
    const seq = ++this.head;
    if (previous) this.seqKey.delete(previous.seq);
    this.entries.set(key, { seq, change });
    this.seqs.push(seq);
    this.seqKey.set(seq, key);
    this.adjustCount(previous?.change, -1);
    this.adjustCount(change, +1);
    if (change.kind === 'publication' && previous === undefined) this.indexSlug(change.publication);
    this.highest = this.highest ? maxHlc(this.highest, change.hlc) : change.hlc;
    return { won: true, seq };
  }

  private wins(change: Change, previous: Change | undefined): boolean {
    switch (this.options.broken) {
      case undefined:
        return changeWins(change, previous);
      case 'ignore-lww':
        return true;
      case 'oldest-wins':
        if (previous === undefined || (change.kind === 'tombstone') !== (previous.kind === 'tombstone')) return changeWins(change, previous);
        if (change.hlc.origin === this.options.owner) return changeWins(change, previous);
        return compareHlc(change.hlc, previous.hlc) < 0;
      default:
        return assertNever(this.options.broken);
    }
  }

  get(key: string): LoggedChange | undefined {
    return this.entries.get(key);
  }

  getBlog(id: string): Blog | undefined {
    const c = this.entries.get(`blog:${id}`)?.change;
    return c?.kind === 'blog' ? c.blog : undefined;
  }

  getTombstone(blogId: string): Tombstone | undefined {
    const c = this.entries.get(`blog:${blogId}`)?.change;
    return c?.kind === 'tombstone' ? c.tombstone : undefined;
  }

  getUser(id: string): User | undefined {
    const c = this.entries.get(`user:${id}`)?.change;
    return c?.kind === 'user' ? c.user : undefined;
  }

  getPublication(id: string): Publication | undefined {
    const c = this.entries.get(`pub:${id}`)?.change;
    return c?.kind === 'publication' ? c.publication : undefined;
  }

  slugClaimed(slug: string): boolean {
    return (this.slugIndex.get(slug)?.size ?? 0) > 0;
  }

  effectiveSlug(publicationId: string): string | undefined {
    const pub = this.getPublication(publicationId);
    if (!pub) return undefined;
    const winner = this.slugWinner(pub.slug);
    return winner?.id === pub.id ? pub.slug : `${pub.slug}--${pub.claimHlc.origin}`;
  }

  publicationBySlug(effectiveSlug: string): Publication | undefined {
    const cut = effectiveSlug.indexOf('--');
    if (cut < 0) return this.slugWinner(effectiveSlug);
    const base = effectiveSlug.slice(0, cut);
    const origin = effectiveSlug.slice(cut + 2);
    const winner = this.slugWinner(base);
    for (const id of this.slugIndex.get(base) ?? []) {
      const pub = this.getPublication(id);
      if (pub && pub.id !== winner?.id && pub.claimHlc.origin === origin) return pub;
    }
    return undefined;
  }

  listRecent(limit: number): Blog[] {
    return this.liveBlogs(() => true, clampLimit(limit));
  }

  listByAuthor(authorId: string, limit: number): Blog[] {
    return this.liveBlogs((b) => b.authorId === authorId, clampLimit(limit));
  }

  listByPublication(publicationId: string, limit: number): Blog[] {
    return this.liveBlogs((b) => b.publicationId === publicationId, clampLimit(limit));
  }

  search(text: string, limit: number): Blog[] {
    if (text.length > SEARCH_TEXT_CHARS_MAX) throw new RangeError(`search text over ${SEARCH_TEXT_CHARS_MAX} characters`);
    const needle = asciiLower(text);
    return this.liveBlogs((b) => asciiLower(b.title).includes(needle) || asciiLower(b.body).includes(needle), clampLimit(limit));
  }

  searchRanked(text: string, limit: number): SearchHit[] {
    if (text.length > SEARCH_TEXT_CHARS_MAX) throw new RangeError(`search text over ${SEARCH_TEXT_CHARS_MAX} characters`);
    const terms = ftsTerms(text);
    if (terms.length === 0) return [];
    const hits: Array<{ blog: Blog; score: number }> = [];
    for (const b of this.liveBlogs(() => true, Number.MAX_SAFE_INTEGER)) {
      const title = wordsOf(b.title);
      const body = wordsOf(b.body);
      if (!terms.every((t) => title.includes(t) || body.includes(t))) continue;
      const score = terms.reduce((n, t) => n + 5 * title.filter((w) => w === t).length + body.filter((w) => w === t).length, 0);
      hits.push({ blog: b, score });
    }
    hits.sort((a, b) => b.score - a.score || (a.blog.id < b.blog.id ? -1 : 1));
    return hits.slice(0, clampLimit(limit)).map((h) => ({ blog: h.blog, snippet: snippetOf(h.blog, terms) }));
  }

  blogCount(authorId: string): number {
    return this.counts.get(authorId) ?? 0;
  }

  headSeq(): number {
    return this.head;
  }

  changesSince(afterSeq: number, limit: number): LoggedChange[] {
    const max = clampLimit(limit);
    const out: LoggedChange[] = [];
    for (let i = upperBound(this.seqs, afterSeq); i < this.seqs.length && out.length < max; i++) {
      const seq = this.seqs[i]!;
      const key = this.seqKey.get(seq);
      if (key === undefined) continue; // replaced by a later change of the same key
      out.push(this.entries.get(key)!);
    }
    return out;
  }

  addReads(blogId: string, count: number): void {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`read count must be a non-negative integer, got ${count}`);
    this.reads.set(blogId, (this.reads.get(blogId) ?? 0) + count);
  }

  readCount(blogId: string): number {
    return this.reads.get(blogId) ?? 0;
  }

  mostRead(limit: number, excludeCountry?: string): Blog[] {
    const max = clampLimit(limit);
    const ranked: Array<{ blog: Blog; reads: number }> = [];
    for (const [id, reads] of this.reads) {
      const blog = this.getBlog(id);
      if (blog && reads > 0 && blog.authorCountry !== excludeCountry) ranked.push({ blog, reads });
    }
    ranked.sort((a, b) => b.reads - a.reads || (a.blog.id < b.blog.id ? -1 : a.blog.id > b.blog.id ? 1 : 0));
    return ranked.slice(0, max).map((r) => r.blog);
  }

  getCheckpoint(peer: string): number {
    return this.checkpoints.get(peer) ?? 0;
  }

  setCheckpoint(peer: string, seq: number): void {
    if (!Number.isInteger(seq) || seq < 0) throw new RangeError(`checkpoint must be a non-negative integer, got ${seq}`);
    this.checkpoints.set(peer, seq);
  }

  maxHlc(): Hlc | undefined {
    return this.highest;
  }

  /** Every stored change by key (checkers compare replicas with this; not part of BlogStore). */
  snapshot(): Map<string, Change> {
    const out = new Map<string, Change>();
    for (const [key, entry] of this.entries) out.set(key, entry.change);
    return out;
  }

  private liveBlogs(keep: (b: Blog) => boolean, limit: number): Blog[] {
    const out: Blog[] = [];
    for (const entry of this.entries.values()) {
      if (entry.change.kind === 'blog' && keep(entry.change.blog)) out.push(entry.change.blog);
    }
    out.sort((a, b) => b.createdMs - a.createdMs || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    return out.slice(0, limit);
  }

  private adjustCount(change: Change | undefined, delta: number): void {
    if (change === undefined) return;
    switch (change.kind) {
      case 'blog': {
        const next = (this.counts.get(change.blog.authorId) ?? 0) + delta;
        if (next < 0) throw new Error(`blog count of ${change.blog.authorId} went negative`);
        this.counts.set(change.blog.authorId, next);
        return;
      }
      case 'tombstone':
      case 'user':
      case 'publication':
        return;
      default:
        assertNever(change);
    }
  }

  private indexSlug(pub: Publication): void {
    let set = this.slugIndex.get(pub.slug);
    if (!set) this.slugIndex.set(pub.slug, (set = new Set()));
    set.add(pub.id);
  }

  private slugWinner(slug: string): Publication | undefined {
    let best: Publication | undefined;
    for (const id of this.slugIndex.get(slug) ?? []) {
      const pub = this.getPublication(id);
      if (pub && (!best || compareHlc(pub.claimHlc, best.claimHlc) < 0)) best = pub;
    }
    return best;
  }
}

/** Index of the first element > x in an ascending array. */
function upperBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

function wordsOf(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Like FTS5's snippet(): SNIP_WORDS words of the body (or the title) around the first match. */
function snippetOf(blog: Blog, terms: readonly string[]): string {
  for (const text of [blog.body, blog.title]) {
    const words = text.split(/\s+/).filter((w) => w.length > 0);
    const first = words.findIndex((w) => wordsOf(w).some((x) => terms.includes(x)));
    if (first < 0) continue;
    const start = Math.max(0, first - Math.floor(SNIP_WORDS / 2));
    const part = words.slice(start, start + SNIP_WORDS).map((w) => (wordsOf(w).some((x) => terms.includes(x)) ? `${SNIP_OPEN}${w}${SNIP_CLOSE}` : w));
    return `${start > 0 ? '…' : ''}${part.join(' ')}${start + SNIP_WORDS < words.length ? '…' : ''}`;
  }
  return '';
}
