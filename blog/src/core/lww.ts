// Last-writer-wins, the one rule every store applies, so every replica resolves the same way.
import { compareHlc } from './hlc.js';
import type { Change } from './types.js';

/**
 * Does `incoming` replace `existing` (same entity key)?
 * - nothing held: yes;
 * - a tombstone beats any blog version, even one with a higher HLC: only the author may update,
 *   and the author's own delete is final, so "delete wins" is what they asked for, and an older
 *   copy still in flight (a batch, a sync page, a cached read) can never resurrect the blog;
 * - otherwise the higher HLC wins (ties are impossible: equal HLCs mean the same change).
 */
export function changeWins(incoming: Change, existing: Change | undefined): boolean {
  if (existing === undefined) return true;
  if (incoming.kind === 'tombstone' && existing.kind === 'blog') return true;
  if (incoming.kind === 'blog' && existing.kind === 'tombstone') return false;
  return compareHlc(incoming.hlc, existing.hlc) > 0;
}
