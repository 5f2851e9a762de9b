/**
 * Two-sample t-test, two-sided: the significance test Hunter (Apache Otava) puts in place of
 * E-divisive's permutation test. It is deterministic, and it works with the handful of points a CI
 * series has after a change. The distributions' CDFs come from stdlib.
 *
 * Student's (pooled variance) while the two sides' variances agree: a new level of 3 points borrows
 * the spread of the long history before it, so a step is seen 3 builds after it happened. Welch's
 * (each side its own variance) when an F-test says they do not agree: 3 points that are one ordinary
 * build and two slow outliers, or an old point and two new ones, have a spread far above the history's,
 * and pooling it away would make them a "significant" level of their own.
 */
import fCdf from '@stdlib/stats-base-dists-f-cdf';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import type { SegmentStats } from './running-sums.ts';

/** Below this F-test p-value the variances differ and Welch's test is used. */
export const EQUAL_VARIANCE_P = 1e-3;

/** p-value that `a` and `b` have the same mean; 1 when there are too few points to say. */
export function tTestPValue(a: SegmentStats, b: SegmentStats): number {
  const df = a.n + b.n - 2;
  if (a.n < 1 || b.n < 1 || df < 1) return 1;
  const diff = b.mean - a.mean;
  // Equal up to rounding: no change, whatever the spread (a noiseless constant series).
  if (Math.abs(diff) <= 1e-12 * Math.max(Math.abs(a.mean), Math.abs(b.mean))) return 1;
  if (a.variance === 0 && b.variance === 0) return 0; // two noiseless levels: certainly different
  if (varianceRatioPValue(a, b) < EQUAL_VARIANCE_P) return welchPValue(a, b, diff);
  const pooled = ((a.n - 1) * a.variance + (b.n - 1) * b.variance) / df;
  const t = diff / Math.sqrt(pooled * (1 / a.n + 1 / b.n));
  return Math.min(1, 2 * tCdf(-Math.abs(t), df));
}

/** Two-sided F-test p-value that `a` and `b` have the same variance; 0 when exactly one is noiseless. */
export function varianceRatioPValue(a: SegmentStats, b: SegmentStats): number {
  if (a.n < 2 || b.n < 2) return 1;
  if (a.variance === 0 || b.variance === 0) return a.variance === b.variance ? 1 : 0;
  const below = fCdf(a.variance / b.variance, a.n - 1, b.n - 1);
  return Math.min(1, 2 * Math.min(below, 1 - below));
}

function welchPValue(a: SegmentStats, b: SegmentStats, diff: number): number {
  const va = a.variance / a.n;
  const vb = b.variance / b.n;
  // Welch–Satterthwaite degrees of freedom; a side of one point has no variance of its own to give.
  const df = (va + vb) ** 2 / ((a.n > 1 ? va ** 2 / (a.n - 1) : 0) + (b.n > 1 ? vb ** 2 / (b.n - 1) : 0));
  if (!(df > 0) || va + vb === 0) return 1;
  const t = diff / Math.sqrt(va + vb);
  return Math.min(1, 2 * tCdf(-Math.abs(t), df));
}
