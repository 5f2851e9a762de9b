/**
 * Statistics over a set of points, defined exactly as simple-statistics defines them so every store
 * answers the same: average = mean, deviation = sample standard deviation (n - 1, as InfluxDB's
 * STDDEV), percentiles by linear interpolation between closest ranks (R type 7, numpy's default).
 * Stores compute count/mean/deviation/min/max with their own aggregates and hand over the values at
 * a few sorted positions; `quantileFromPositions` turns those into the percentile.
 */
import type { Summary } from '../protocol/api-types.ts';

export type { Summary };

export interface Aggregates {
  count: number;
  average: number | null;
  deviation: number | null;
  minimum: number | null;
  maximum: number | null;
}

/** Aggregates plus the percentiles asked for, as a store answers them. */
export interface Statistics extends Aggregates {
  /** One per asked percentile, in order; null when there are no points. */
  percentiles: (number | null)[];
  /** Largest relative error of those percentiles (0: exact). */
  percentileError: number;
}

/** The 0-based sorted positions needed for quantile p of n values. */
export function quantilePositions(n: number, p: number): number[] {
  checkPercentile(p);
  if (n === 0) return [];
  if (p === 1) return [n - 1];
  if (p === 0) return [0];
  const idx = (n - 1) * p;
  return idx % 1 !== 0 ? [Math.floor(idx), Math.ceil(idx)] : [idx];
}

export function quantileFromPositions(n: number, p: number, valueAt: (position: number) => number): number | null {
  checkPercentile(p);
  if (n === 0) return null;
  const [lowerAt, upperAt] = quantilePositions(n, p);
  if (lowerAt === undefined) return null; // never: n > 0 gives one position or two
  if (upperAt === undefined) return valueAt(lowerAt);
  const idx = (n - 1) * p;
  const lower = valueAt(lowerAt);
  const upper = valueAt(upperAt);
  return lower + (idx - Math.floor(idx)) * (upper - lower);
}

export function checkPercentile(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`percentile must be between 0 and 1, got ${p}`);
}
