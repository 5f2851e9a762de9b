/**
 * Student's two-sample t-test (pooled variance), two-sided: the significance test Hunter (Apache
 * Otava) puts in place of E-divisive's permutation test. It is deterministic, and it works with the
 * handful of points a CI series has after a change. The t distribution's CDF comes from stdlib.
 */
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import type { SegmentStats } from './running-sums.ts';

/** p-value that `a` and `b` have the same mean; 1 when there are too few points to say. */
export function tTestPValue(a: SegmentStats, b: SegmentStats): number {
  const df = a.n + b.n - 2;
  if (a.n < 1 || b.n < 1 || df < 1) return 1;
  const diff = b.mean - a.mean;
  // Equal up to rounding: no change, whatever the spread (a noiseless constant series).
  if (Math.abs(diff) <= 1e-12 * Math.max(Math.abs(a.mean), Math.abs(b.mean))) return 1;
  const pooled = ((a.n - 1) * a.variance + (b.n - 1) * b.variance) / df;
  if (pooled === 0) return 0; // two noiseless levels: certainly different
  const t = diff / Math.sqrt(pooled * (1 / a.n + 1 / b.n));
  return Math.min(1, 2 * tCdf(-Math.abs(t), df));
}
