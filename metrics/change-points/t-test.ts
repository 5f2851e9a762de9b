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

/**
 * Whether tTestPValue(a, b) <= alpha, mostly without computing it. Whatever the test chosen (Student's
 * or Welch's, and whatever its degrees of freedom), its p-value is at least the normal distribution's
 * two-sided tail at the same |t|: Student's t is a normal divided by the root of a mean-one variable,
 * and the tail is convex in that variable (Jensen). So when a lower bound of the normal tail at both
 * tests' |t| is above alpha, neither test can pass, and the F-test and t CDFs (incomplete beta
 * functions, the detector's largest cost) are skipped. Most windows hold no change and end here.
 * The answer is the same as comparing tTestPValue's result (test/unit/change-points.test.ts).
 */
export function isSignificant(a: SegmentStats, b: SegmentStats, alpha: number): boolean {
  const df = a.n + b.n - 2;
  if (a.n >= 1 && b.n >= 1 && df >= 1 && !(a.variance === 0 && b.variance === 0)) {
    const diff = Math.abs(b.mean - a.mean);
    const pooled = ((a.n - 1) * a.variance + (b.n - 1) * b.variance) / df;
    const tPooled = diff / Math.sqrt(pooled * (1 / a.n + 1 / b.n));
    const tWelch = diff / Math.sqrt(a.variance / a.n + b.variance / b.n);
    if (normalTailAtLeast(Math.max(tPooled, tWelch)) > alpha) return false;
  }
  return tTestPValue(a, b) <= alpha;
}

/** P(|Z| > 1) for a standard normal Z, rounded down. */
const NORMAL_TAIL_AT_1 = 0.3173;

/**
 * A lower bound of P(|Z| > x), x ≥ 0: the tail at 1 up to x = 1 (the tail falls as x grows), then
 * Gordon's inequality 1 − Φ(x) ≥ φ(x)·x / (x² + 1), within 5 % of the tail where tests are decided.
 * NaN (0/0) gives NaN, which is above nothing: the caller computes the p-value then.
 */
export function normalTailAtLeast(x: number): number {
  if (x <= 1) return NORMAL_TAIL_AT_1;
  return (2 * Math.exp((-x * x) / 2) * x) / (Math.sqrt(2 * Math.PI) * (x * x + 1));
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
