/**
 * Outliers out before the tests: each point is clipped to within `threshold` robust deviations of
 * the median of its neighbours, `halfWidth` on each side (a Hampel filter, winsorising rather than
 * replacing). One build in fifty on a cold cache would otherwise inflate a
 * segment's variance, hide a real step from the t-test, or — two in a row — look like one.
 *
 * The window is centred, and shrinks symmetrically near the newest point (point n−1−m sees m
 * neighbours each side), which is what keeps a step's edge: the first point of a new level always
 * has at least as many neighbours on the new level as on the old, so the median is on its side and
 * it is never clipped. The price: a point's cleaned value is final only once `halfWidth` newer points
 * exist; until then it is provisional and recomputed as points arrive.
 *
 * The deviation is the smaller of two robust estimates: from the spread around the median
 * (1.4826 × MAD) and from the differences of successive neighbours (1.4826 × their median absolute
 * value / √2). A window that straddles a step holds two levels, whose spread would let the outliers
 * next to the step through, while only one of its differences is the step; a window of three points
 * with an outlier in the middle has two large differences of two, while its MAD stays small. It has
 * a floor (a thousandth of |median|, or the mean absolute difference
 * when most differences are 0) so a series of whole numbers that mostly repeat (10, 10, 11, 10, …) is
 * not flattened to its median.
 */

export interface OutlierFilterOptions {
  /** Neighbours on each side; 0 turns the filter off. */
  halfWidth: number;
  /** How many robust deviations from the local median a point may lie before it is clipped. */
  threshold: number;
}

/** Standard deviations per median absolute deviation of normal points. */
const MAD_TO_SIGMA = 1.4826;
/** …and per median absolute difference of two of them. */
const DIFF_TO_SIGMA = MAD_TO_SIGMA / Math.SQRT2;

/** The cleaned value of point `i` of `raw` when the series has `n` points. */
export function cleanedValue(raw: ArrayLike<number>, i: number, n: number, o: OutlierFilterOptions): number {
  const v = raw[i] ?? 0;
  const m = Math.min(o.halfWidth, n - 1 - i);
  if (m <= 0) return v;
  const window: number[] = [];
  for (let j = Math.max(0, i - m); j <= i + m; j++) window.push(raw[j] ?? 0);
  const centre = medianOf(window);
  const differences = window.slice(1).map((x, j) => Math.abs(x - (window[j] ?? 0)));
  const deviations = window.map((x) => Math.abs(x - centre));
  let spread = Math.min(MAD_TO_SIGMA * medianOf(deviations), DIFF_TO_SIGMA * medianOf(differences));
  if (spread === 0) spread = differences.reduce((s, d) => s + d, 0) / differences.length / Math.SQRT2;
  spread = Math.max(spread, Math.abs(centre) * 1e-3);
  const bound = o.threshold * spread;
  return Math.min(centre + bound, Math.max(centre - bound, v));
}

/** Points whose cleaned value is final when the series has `n` points: those before this index. */
export function finalBefore(n: number, o: OutlierFilterOptions): number {
  return Math.max(0, n - o.halfWidth);
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
