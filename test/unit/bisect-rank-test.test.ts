/** The bisector's rank test and verdicts (master/bisect/rank-test.ts, verdict.ts) on known figures. */
import { describe, expect, it } from 'vitest';
import { mannWhitney } from '../../master/bisect/rank-test.ts';
import { judge, sidesProblem } from '../../master/bisect/verdict.ts';
import { bounds } from '../../master/bisect/bisector.ts';

describe('Mann–Whitney U, normal approximation', () => {
  it('agrees with scipy.stats.mannwhitneyu(method="asymptotic")', () => {
    // scipy.stats.mannwhitneyu(..., method='asymptotic') (continuity corrected) gives these p-values.
    expect(mannWhitney([1, 2, 3], [4, 5, 6]).u).toBe(0);
    expect(mannWhitney([1, 2, 3], [4, 5, 6]).p).toBeCloseTo(0.08085, 4);
    expect(mannWhitney([4, 5, 6], [1, 2, 3]).u).toBe(9);
    const tied = mannWhitney([1, 2, 3], [2, 3, 4]);
    expect(tied.u).toBe(2);
    expect(tied.p).toBeCloseTo(0.368688, 5);
    expect(mannWhitney([1, 2, 3, 4, 5, 6, 7, 8], [11, 12, 13, 14, 15, 16, 17, 18]).p).toBeCloseTo(0.000939, 5);
  });

  it('has no evidence with empty or all-tied samples', () => {
    expect(mannWhitney([], [1]).p).toBe(1);
    expect(mannWhitney([5, 5], [5, 5]).p).toBe(1);
  });
});

describe('verdict', () => {
  it('decides a noise-free commit on one build, by the medians', () => {
    expect(judge([100], [100], [110], false).verdict).toBe('good');
    expect(judge([110], [100], [110], false).verdict).toBe('bad');
  });

  it('asks for a repeat when borderline, and takes the nearer median once it may not', () => {
    expect(judge([104.9], [100], [110], false)).toMatchObject({ verdict: null });
    expect(judge([104.9], [100], [110], true).verdict).toBe('good');
    expect(judge([105.1], [100], [110], true).verdict).toBe('bad');
  });

  it('lets the rank test decide once the samples can show it, and not when the commit differs from both', () => {
    const good = [100, 101, 99, 100.5, 99.5, 100.2];
    const bad = [110, 111, 109, 110.5, 109.5, 110.2];
    // Against bad p = 0.93, against good p = 0.0081 (scipy): bad, by the rank test.
    const j = judge([110.3, 109.8, 110.6, 109.9, 110.1], good, bad, false);
    expect(j.verdict).toBe('bad');
    expect(j.how).toMatch(/^rank test/);
    // Between the two (p = 0.0081 against each): no rank-test verdict; position 0.69 is borderline.
    expect(judge([107, 107.5, 106.5, 107.2, 106.8], good, bad, false).verdict).toBeNull();
  });

  it('refuses sides that measure the same', () => {
    expect(sidesProblem([100, 100], [100])).toMatch(/measure the same/);
    expect(sidesProblem([100], [110])).toBeNull();
  });

  it('bounds the culprit between the last good and the first bad commit', () => {
    const commits = ['a', 'b', 'c', 'd', 'e'];
    expect(bounds(commits, new Map())).toEqual({ lo: -1, hi: 4 });
    expect(
      bounds(
        commits,
        new Map([
          ['b', 'good'],
          ['d', 'bad'],
        ]),
      ),
    ).toEqual({ lo: 1, hi: 3 });
  });
});
