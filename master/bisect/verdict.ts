/**
 * Which side a commit belongs to, from its samples and the two sides' (the good commit's and the
 * bad commit's, plus those of the commits already judged on each side):
 *
 * 1. The rank test (rank-test.ts) against each side: when it tells the commit apart from one side
 *    (p < ALPHA) and not from the other, the commit belongs to the other.
 * 2. Else its median's position between the sides' medians, 0 at good and 1 at bad: in the outer
 *    quarter on either end (≤ 0.25 or ≥ 0.75) the commit is plainly on that side. Noise-free
 *    builds land at exactly 0 or 1, so one build decides.
 * 3. Else the comparison is borderline: the bisector asks for another build of the commit while its
 *    `repeats` and budget allow, and once they do not, takes the nearer median (and says so).
 */
import { median } from 'simple-statistics';
import type { Verdict } from '../db/bisections.ts';
import { mannWhitney } from './rank-test.ts';

export const ALPHA = 0.05;
/** Positions this close to an end (0 good, 1 bad) are plainly that side. */
const CLEAR = 0.25;

export type Judgement = { verdict: Verdict; how: string } | { verdict: null; how: string };

export function judge(samples: readonly number[], good: readonly number[], bad: readonly number[], final: boolean): Judgement {
  const position = positionOf(samples, good, bad);
  const pGood = mannWhitney(samples, good).p;
  const pBad = mannWhitney(samples, bad).p;
  const where = `position ${position.toFixed(2)} (0 good, 1 bad), rank test p=${pGood.toPrecision(2)} against good, p=${pBad.toPrecision(2)} against bad, ${samples.length} sample${samples.length === 1 ? '' : 's'}`;
  if (pBad < ALPHA && pGood >= ALPHA) return { verdict: 'good', how: `rank test: ${where}` };
  if (pGood < ALPHA && pBad >= ALPHA) return { verdict: 'bad', how: `rank test: ${where}` };
  if (position <= CLEAR) return { verdict: 'good', how: `median: ${where}` };
  if (position >= 1 - CLEAR) return { verdict: 'bad', how: `median: ${where}` };
  if (!final) return { verdict: null, how: `borderline: ${where}` };
  return { verdict: position < 0.5 ? 'good' : 'bad', how: `borderline, nearer median after the repeats: ${where}` };
}

/** The commit's median between the sides' medians: 0 at good, 1 at bad (may fall outside). */
export function positionOf(samples: readonly number[], good: readonly number[], bad: readonly number[]): number {
  const g = median([...good]);
  const step = median([...bad]) - g;
  return (median([...samples]) - g) / step;
}

/** Why the sides cannot be told apart, or null when they can. */
export function sidesProblem(good: readonly number[], bad: readonly number[]): string | null {
  if (good.length === 0 || bad.length === 0) return 'a side has no samples';
  const g = median([...good]);
  const b = median([...bad]);
  return g === b ? `the good and the bad commits measure the same (median ${g})` : null;
}
