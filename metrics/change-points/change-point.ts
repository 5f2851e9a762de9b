/** What the detector reports for one change, and whether it is better or worse for the series' kind. */
import { worseWhen } from '../direction.ts';
import type { SegmentStats } from './running-sums.ts';

export interface Segment {
  /** First index of the segment (inclusive). */
  start: number;
  /** End index (exclusive). */
  end: number;
  mean: number;
  stddev: number;
}

export interface ChangePoint {
  /** Index of the first point after the change. */
  index: number;
  before: Segment;
  after: Segment;
  /** (mean after / mean before − 1) × 100; null when the mean before is 0. */
  magnitudePercent: number | null;
  /** Student's t-test between the two segments: the chance of a difference this large with no change. */
  pValue: number;
  /** Whether the mean went up or down. */
  change: 'increase' | 'decrease';
}

export type Verdict = 'better' | 'worse';

export function verdict(change: ChangePoint['change'], kind: string | null | undefined): Verdict {
  const higherIsWorse = worseWhen(kind) === 'higher';
  return (change === 'increase') === higherIsWorse ? 'worse' : 'better';
}

export function segmentOf(start: number, end: number, stats: SegmentStats): Segment {
  return { start, end, mean: stats.mean, stddev: Math.sqrt(stats.variance) };
}
