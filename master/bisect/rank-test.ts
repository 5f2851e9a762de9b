/**
 * The Mann–Whitney U test (Wilcoxon rank-sum), two-sided, with the normal approximation and the
 * correction for ties: does one sample tend to be larger than the other? A rank test, as Pinpoint
 * uses to compare a commit with the good and bad sides: it assumes no noise distribution, and one
 * outlier moves it by one rank only. Hand-written (20 lines) because the npm statistics packages
 * have no two-sample rank test with a p-value (@stdlib/stats-wilcoxon is the signed-rank test for
 * paired samples); the normal CDF is simple-statistics'.
 *
 * With very small samples (one or two values each) the approximation cannot reach small p-values:
 * the bisector then needs repeats, or decides by the medians (verdict.ts).
 */
import { errorFunction } from 'simple-statistics';

export interface RankTest {
  /** U of `a`: pairs (x of a, y of b) with x > y, ties counting one half. */
  u: number;
  /** Two-sided p-value; 1 when either sample is empty or every value is tied. */
  p: number;
}

export function mannWhitney(a: readonly number[], b: readonly number[]): RankTest {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { u: 0, p: 1 };
  const all = [...a.map((v) => ({ v, first: true })), ...b.map((v) => ({ v, first: false }))].sort((x, y) => x.v - y.v);
  // Mid-ranks for ties; the tie term sums t³ − t over groups of equal values.
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]?.v === all[i]?.v) j++;
    const midRank = (i + j) / 2 + 1;
    const t = j - i + 1;
    tieTerm += t ** 3 - t;
    for (let k = i; k <= j; k++) if (all[k]?.first) rankSumA += midRank;
    i = j + 1;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, p: 1 };
  // Continuity correction: U moves in steps of one half at least.
  const z = Math.max(0, Math.abs(u - (n1 * n2) / 2) - 0.5) / Math.sqrt(variance);
  const p = 1 - errorFunction(z / Math.SQRT2);
  return { u, p: Math.min(1, Math.max(0, p)) };
}
