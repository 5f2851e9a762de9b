/** The detector's knobs, their defaults, and the check that refuses nonsense with the option's name. */

export interface DetectorOptions {
  /** Points per E-divisive window; windows overlap by half. Hunter uses 30–50. */
  windowLength: number;
  /** A change is kept when its t-test p-value is at most this (after the merge step). */
  maxPValue: number;
  /** …and its relative size, max(|after/before − 1|, |before/after − 1|), is above this (a fraction). */
  minMagnitude: number;
  /** Fewest points on either side of a change: a lone outlier is not a segment. */
  minSize: number;
  /**
   * A change must fit its two segments better than one straight line through both does (the sum of
   * squared residuals of the two means, at most this share of the line's). A step fits two levels
   * far better than a line; a slow drift fits a line better, so it does not alert.
   */
  maxTrendShare: number;
  /** Neighbours on each side that judge whether a point is an outlier (outlier-filter.ts); 0: no filter. */
  outlierHalfWidth: number;
  /** A point further than this many robust deviations from its neighbours' median is clipped to it. */
  outlierThreshold: number;
}

export const DEFAULT_DETECTOR_OPTIONS = {
  windowLength: 50,
  maxPValue: 1e-6,
  minMagnitude: 0,
  minSize: 3,
  maxTrendShare: 0.8,
  outlierHalfWidth: 5,
  outlierThreshold: 3,
} as const satisfies DetectorOptions;

export function detectorOptions(given: Partial<DetectorOptions> = {}): DetectorOptions {
  const o: DetectorOptions = { ...DEFAULT_DETECTOR_OPTIONS, ...given };
  const problems: string[] = [];
  const int = (name: keyof DetectorOptions, min: number) => {
    if (!Number.isInteger(o[name]) || o[name] < min) problems.push(`${name} must be an integer ≥ ${min}, got ${o[name]}`);
  };
  const probability = (name: keyof DetectorOptions) => {
    if (!(o[name] > 0 && o[name] < 1)) problems.push(`${name} must be in (0, 1), got ${o[name]}`);
  };
  int('minSize', 1);
  int('windowLength', 2 * o.minSize + 2);
  int('outlierHalfWidth', 0);
  if (!(o.outlierThreshold > 0 && Number.isFinite(o.outlierThreshold)))
    problems.push(`outlierThreshold must be > 0, got ${o.outlierThreshold}`);
  probability('maxPValue');
  if (!(o.maxTrendShare > 0 && o.maxTrendShare <= 1)) problems.push(`maxTrendShare must be in (0, 1], got ${o.maxTrendShare}`);
  if (!(o.minMagnitude >= 0 && Number.isFinite(o.minMagnitude))) problems.push(`minMagnitude must be ≥ 0, got ${o.minMagnitude}`);
  if (problems.length > 0) throw new RangeError(`change-point detector: ${problems.join('; ')}`);
  return o;
}
