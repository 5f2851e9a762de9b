/**
 * The split step inside one window (E-divisive with a t-test, as Hunter does it): take the interval
 * whose best split has the largest energy statistic; keep the split if a t-test between its two sides
 * passes `maxPValue`, then look again in the pieces; stop at the first split that does not pass.
 */
import { WindowDistances, type Candidate } from './energy-split.ts';
import type { RunningSums } from './running-sums.ts';
import { isSignificant } from './t-test.ts';

/** Change points (absolute indices, ascending) found in [start, end). */
export function windowChangePoints(sums: RunningSums, start: number, end: number, minSize: number, maxPValue: number): number[] {
  if (end - start < 2 * minSize) return [];
  const distances = new WindowDistances(sums.view(), start, end);
  const found: number[] = [];
  // Each split leaves the other intervals as they were: their best splits are kept, not searched again.
  const splits = new Map<number, Candidate | null>();
  const bestOf = (a: number, b: number): Candidate | null => {
    const key = a * (end + 1) + b;
    let best = splits.get(key);
    if (best === undefined) splits.set(key, (best = distances.bestSplit(a, b, minSize)));
    return best;
  };
  for (;;) {
    const bounds = [start, ...found, end];
    let best: { index: number; qhat: number; a: number; b: number } | null = null;
    for (let i = 0; i + 1 < bounds.length; i++) {
      const a = bounds[i] ?? start;
      const b = bounds[i + 1] ?? end;
      if (b - a < 2 * minSize) continue;
      const candidate = bestOf(a, b);
      if (candidate && (best === null || candidate.qhat > best.qhat)) best = { ...candidate, a, b };
    }
    if (best === null) break;
    if (!isSignificant(sums.testSegment(best.a, best.index), sums.testSegment(best.index, best.b), maxPValue)) break;
    found.push(best.index);
    found.sort((x, y) => x - y);
  }
  return found;
}
