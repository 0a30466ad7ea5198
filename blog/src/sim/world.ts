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
