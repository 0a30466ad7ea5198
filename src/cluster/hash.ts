// Small non-cryptographic hashes: the same on every node, so every node computes the same Monitor
// assignment from the same list of Monitors without talking to anyone.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const TWO_POW_32 = 4294967296;

/** FNV-1a over UTF-16 code units, seeded so two seeds give two independent-looking hashes. */
export function hashString(text: string, seed = 0): number {
  let h = (FNV_OFFSET ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return finalize(h);
}

/** Folds a non-negative integer below 2^53 into a running hash. */
export function hashNumber(h: number, value: number): number {
  const lo = value >>> 0;
  const hi = Math.floor(value / TWO_POW_32) >>> 0;
  h = Math.imul(h ^ lo, FNV_PRIME);
  h = Math.imul(h ^ hi, FNV_PRIME);
  return finalize(h);
}

/** murmur3's fmix32: spreads the last bits so nearby inputs land far apart. */
function finalize(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Rendezvous (highest-random-weight) order of candidates for a key. When a candidate leaves, only
 * the keys it ranked first move, and they move to their second choice — which is also what the
 * node itself fails over to, so node and Monitors agree on the new owner without a message.
 */
export function rendezvousOrder(key: string, candidates: readonly string[]): string[] {
  const scored = candidates.map((c) => ({ c, score: hashString(`${key}\u0000${c}`) }));
  scored.sort((a, b) => b.score - a.score || (a.c < b.c ? -1 : a.c > b.c ? 1 : 0));
  return scored.map((s) => s.c);
}

/** The first candidate of rendezvousOrder without sorting; null when there is none. */
export function rendezvousOwner(key: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestScore = -1;
  for (const c of candidates) {
    const score = hashString(`${key}\u0000${c}`);
    if (score > bestScore || (score === bestScore && best !== null && c < best)) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

/** Hash of a list of names, in order (callers pass sorted lists). */
export function hashNames(names: readonly string[]): number {
  return hashString(names.join('\u0000'));
}
