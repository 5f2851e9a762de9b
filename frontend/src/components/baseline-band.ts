/**
 * The regression gate's band along a line, point by point: each point is scored against the baseline
 * of the `window` good points before it, as the gate scores a build against the builder's last good
 * builds (metrics/regression.ts): median, spread = max(1.4826 × MAD, 1 % of |median|, the series'
 * resolution), and flagged
 * when more than `k` spreads away. A point whose `result` tag is not `success` is drawn and scored
 * but never joins a baseline, as a failed build never does. Fewer than 3 good points before it: no
 * band there yet.
 */

export interface BandPoint {
  time: number;
  value: number;
  tags: Record<string, string>;
}

export interface BandAt {
  lower: number;
  upper: number;
  median: number;
  spread: number;
  score: number;
}

const MIN_BASELINE = 3;
const MAD_TO_SIGMA = 1.4826;

function median(sorted: number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function baselineOf(values: number[], resolution = 0): { median: number; spread: number } | null {
  if (values.length < MIN_BASELINE) return null;
  const m = median([...values].sort((a, b) => a - b));
  const mad = median(values.map((v) => Math.abs(v - m)).sort((a, b) => a - b));
  return { median: m, spread: Math.max(MAD_TO_SIGMA * mad, Math.abs(m) * 0.01, resolution, 1e-12) };
}

const isGood = (p: BandPoint): boolean => p.tags.result === undefined || p.tags.result === 'success';

/** The band at each point of a line sorted by time (null where there is no baseline yet). */
export function rollingBand(points: readonly BandPoint[], window: number, k: number, resolution = 0): (BandAt | null)[] {
  const good: number[] = [];
  return points.map((p) => {
    const base = baselineOf(good.slice(-window), resolution);
    if (isGood(p)) good.push(p.value);
    if (!base) return null;
    return {
      median: base.median,
      spread: base.spread,
      lower: base.median - k * base.spread,
      upper: base.median + k * base.spread,
      score: (p.value - base.median) / base.spread,
    };
  });
}
