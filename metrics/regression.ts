/**
 * Regression scoring against a baseline of the builder's last N successful builds.
 * Baseline: the median and a robust spread, 1.4826 x the median absolute deviation (MAD), which
 * estimates the standard deviation for normal data but ignores the odd outlier build, where mean
 * and sigma would be dragged by it. Spread has a floor of 1% of |median| so a perfectly stable
 * series (MAD = 0) does not flag every tiny change, and never below the measurement's resolution
 * (resolutionOf), so a series whose median is 0 does not flag one clock tick. Score = (value - median) / spread: how many
 * "sigmas" worse the value is; positive is higher than usual.
 */
import { median, medianAbsoluteDeviation } from 'simple-statistics';

export interface Baseline {
  median: number;
  spread: number;
  n: number;
}

export const MIN_BASELINE = 3;

/**
 * The smallest step a series' values move in, where the measurement has one: the agent's CPU times
 * come from the kernel's clock ticks (USER_HZ, 100 a second on Linux). 0 for the others.
 */
export function resolutionOf(series: string): number {
  return series === 'step_cpu_seconds' ? 0.01 : 0;
}

export function computeBaseline(values: number[], resolution = 0): Baseline | null {
  if (values.length < MIN_BASELINE) return null;
  const m = median(values);
  const spread = Math.max(1.4826 * medianAbsoluteDeviation(values), Math.abs(m) * 0.01, resolution, 1e-12);
  return { median: m, spread, n: values.length };
}

export function regressionScore(value: number, baseline: Baseline): number {
  return (value - baseline.median) / baseline.spread;
}
