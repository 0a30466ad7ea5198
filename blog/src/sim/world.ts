// The simulated world: seven continents (Antarctica included), each with one L1, and a handful of
// country L2s. A seed picks how many L2s take part, so small and large worlds both get exercised.
import type { ServerId } from '../core/types.js';

export interface SimL2 {
  readonly id: ServerId;
  readonly country: string;
  readonly continent: string;
  readonly l1: ServerId;
}

export interface SimWorld {
  readonly l1s: ReadonlyArray<{ readonly id: ServerId; readonly continent: string }>;
  readonly l2s: readonly SimL2[];
}

export const CONTINENTS = ['africa', 'antarctica', 'asia', 'europe', 'north-america', 'oceania', 'south-america'] as const;

/** Candidate L2s in the order they are taken: the first ones put two countries (one with two L2s) in one continent. */
const L2_POOL: ReadonlyArray<Omit<SimL2, 'l1'>> = [
  { id: 'l2-fr-1', country: 'fr', continent: 'europe' },
  { id: 'l2-fr-2', country: 'fr', continent: 'europe' },
  { id: 'l2-us-1', country: 'us', continent: 'north-america' },
  { id: 'l2-de-1', country: 'de', continent: 'europe' },
  { id: 'l2-cn-1', country: 'cn', continent: 'asia' },
  { id: 'l2-jp-1', country: 'jp', continent: 'asia' },
  { id: 'l2-br-1', country: 'br', continent: 'south-america' },
  { id: 'l2-ng-1', country: 'ng', continent: 'africa' },
  { id: 'l2-au-1', country: 'au', continent: 'oceania' },
  { id: 'l2-ca-1', country: 'ca', continent: 'north-america' },
  { id: 'l2-aq-1', country: 'aq', continent: 'antarctica' },
  { id: 'l2-in-1', country: 'in', continent: 'asia' },
];

export function l1IdOf(continent: string): ServerId {
  return `l1-${continent}`;
}

export function makeWorld(l2Count: number): SimWorld {
  if (!(l2Count >= 1 && l2Count <= L2_POOL.length)) throw new RangeError(`l2Count must be 1..${L2_POOL.length}, got ${l2Count}`);
  return {
    l1s: CONTINENTS.map((c) => ({ id: l1IdOf(c), continent: c })),
    l2s: L2_POOL.slice(0, l2Count).map((l2) => ({ ...l2, l1: l1IdOf(l2.continent) })),
  };
}

/**
 * Share of each continent's L2s (and of its writers) in the scale mode: roughly where the readers
 * are (an assumption, stated in the README's scale section). Antarctica keeps at least one L2.
 */
export const CONTINENT_SHARE: Readonly<Record<(typeof CONTINENTS)[number], number>> = {
  africa: 0.15,
  antarctica: 0.001,
  asia: 0.42,
  europe: 0.17,
  'north-america': 0.14,
  oceania: 0.02,
  'south-america': 0.099,
};

/**
 * A world of `l2Count` L2s (7..5,000) spread over the seven continents by CONTINENT_SHARE (largest
 * remainder, at least one each), grouped into at most 26 synthetic countries per continent (two
 * lower-case letters: the continent's, then the country's), a country's L2s sharing its region.
 */
export function makeScaleWorld(l2Count: number): SimWorld {
  if (!(Number.isInteger(l2Count) && l2Count >= CONTINENTS.length && l2Count <= 5_000)) {
    throw new RangeError(`l2Count must be an integer in ${CONTINENTS.length}..5000, got ${l2Count}`);
  }
  const spare = l2Count - CONTINENTS.length;
  const exact = CONTINENTS.map((c) => spare * CONTINENT_SHARE[c]);
  const counts = exact.map((x) => 1 + Math.floor(x));
  const order = CONTINENTS.map((_, i) => i).sort((a, b) => exact[b]! - Math.floor(exact[b]!) - (exact[a]! - Math.floor(exact[a]!)) || a - b);
  for (let left = l2Count - counts.reduce((a, b) => a + b, 0), k = 0; left > 0; left--, k++) counts[order[k % order.length]!]!++;
  const l2s: SimL2[] = [];
  CONTINENTS.forEach((continent, ci) => {
    const perCountry = Math.max(4, Math.ceil(counts[ci]! / 26));
    for (let i = 0; i < counts[ci]!; i++) {
      const country = String.fromCharCode(97 + ci) + String.fromCharCode(97 + Math.floor(i / perCountry));
      l2s.push({ id: `l2-${continent}-${i}`, country, continent, l1: l1IdOf(continent) });
    }
  });
  return { l1s: CONTINENTS.map((c) => ({ id: l1IdOf(c), continent: c })), l2s };
}
