/**
 * The merge step (Hunter): candidates from the windows are re-tested against their neighbours over
 * the whole series; the weakest (largest p-value, or when all pass, the smallest change) is dropped
 * and its two neighbours re-tested, until every remaining change passes. Each test reads segment
 * sums in O(1), so this costs per candidate, never per point of history.
 */
import { segmentOf, type ChangePoint } from './change-point.ts';
import type { DetectorOptions } from './detector-options.ts';
import type { RunningSums } from './running-sums.ts';
import { tTestPValue } from './t-test.ts';

interface Tested {
  index: number;
  pValue: number;
  magnitude: number;
}

/** The test of change `index` between segments [prev, index) and [index, next). */
function test(sums: RunningSums, prev: number, index: number, next: number, o: DetectorOptions): Tested {
  if (index - prev < o.minSize || next - index < o.minSize) return { index, pValue: 1, magnitude: 0 };
  const before = sums.segment(prev, index);
  const after = sums.segment(index, next);
  // Not a step unless two levels explain the points better than a trend: then it counts as not significant.
  const levels = (before.n - 1) * before.variance + (after.n - 1) * after.variance;
  const step = levels <= o.maxTrendShare * sums.trendResidual(prev, next);
  const pValue = step ? tTestPValue(sums.testSegment(prev, index), sums.testSegment(index, next)) : 1;
  const low = Math.min(Math.abs(before.mean), Math.abs(after.mean));
  const magnitude = low === 0 ? (before.mean === after.mean ? 0 : Infinity) : Math.abs(after.mean - before.mean) / low;
  return { index, pValue, magnitude };
}

export function mergeChangePoints(sums: RunningSums, candidates: number[], o: DetectorOptions): ChangePoint[] {
  const n = sums.length;
  const points = [...candidates];
  const around = (i: number): [number, number] => [points[i - 1] ?? 0, points[i + 1] ?? n];
  const tests = points.map((index, i) => test(sums, ...withIndex(around(i), index), o));
  while (tests.length > 0) {
    let weakest = 0;
    for (let i = 1; i < tests.length; i++) if ((tests[i]?.pValue ?? 0) > (tests[weakest]?.pValue ?? 0)) weakest = i;
    if ((tests[weakest]?.pValue ?? 1) <= o.maxPValue) {
      for (let i = 1; i < tests.length; i++) if ((tests[i]?.magnitude ?? 0) < (tests[weakest]?.magnitude ?? 0)) weakest = i;
      if ((tests[weakest]?.magnitude ?? 0) > o.minMagnitude) break;
    }
    points.splice(weakest, 1);
    tests.splice(weakest, 1);
    for (const i of [weakest - 1, weakest]) {
      const index = points[i];
      if (index !== undefined) tests[i] = test(sums, ...withIndex(around(i), index), o);
    }
  }
  return tests.map((t, i) => {
    const [prev, next] = around(i);
    const before = sums.segment(prev, t.index);
    const after = sums.segment(t.index, next);
    return {
      index: t.index,
      before: segmentOf(prev, t.index, before),
      after: segmentOf(t.index, next, after),
      magnitudePercent: before.mean === 0 ? null : (after.mean / before.mean - 1) * 100,
      pValue: t.pValue,
      change: after.mean > before.mean ? 'increase' : 'decrease',
    };
  });
}

function withIndex([prev, next]: [number, number], index: number): [number, number, number] {
  return [prev, index, next];
}
