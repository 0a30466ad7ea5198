// Full-text search terms shared by both stores, so the SQLite store (FTS5) and the memory store
// (the simulator's twin) agree on what a query means: the query's words (letters and digits,
// lowercased), every one of which must appear as a whole word in the title or the body.
import type { Blog } from '../core/types.js';

/** A query has at most this many words; more are ignored (a query is a few words, not a text). */
export const FTS_TERMS_MAX = 16;
/** Snippet markers around a matched word: control characters that never survive into a body's HTML. */
export const SNIP_OPEN = '\u0002';
export const SNIP_CLOSE = '\u0003';
/** Words of context a snippet shows. */
export const SNIP_WORDS = 12;

export interface SearchHit {
  readonly blog: Blog;
  /** Plain text with SNIP_OPEN/SNIP_CLOSE around matched words; the page escapes it and marks them. */
  readonly snippet: string;
}

/** The lowercase words of a query (letters and digits only: FTS5's operators cannot be injected). */
export function ftsTerms(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words)].slice(0, FTS_TERMS_MAX);
}

/** An FTS5 MATCH expression: every term quoted (a phrase of one word), implicitly AND-ed. */
export function ftsMatch(terms: readonly string[]): string {
  return terms.map((t) => `"${t}"`).join(' ');
}
