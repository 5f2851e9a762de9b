import { median, medianAbsoluteDeviation } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { computeBaseline, MIN_BASELINE, regressionScore, resolutionOf, type Baseline } from '../../metrics/regression.ts';

/** Deterministic values for property checks (a small LCG, so a failure is reproducible). */
function series(seed: number, n: number, scale: number): number[] {
  let s = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out.push(Math.round((s / 2 ** 31 - 0.3) * scale * 1000) / 1000);
  }
  return out;
}

describe('computeBaseline', () => {
  it('does not flag a series that moved by one tick of its measurement (step CPU: 0 s, then 0.01 s)', () => {
    // A trivial step's CPU reads 0 s on most builds: with MAD = 0 and median 0, the old floor (1 % of 0)
    // made 0.01 s, one clock tick, a regression of a million sigmas on the overview page.
    const b = computeBaseline([0, 0, 0, 0], resolutionOf('step_cpu_seconds'))!;
    expect(regressionScore(0.01, b)).toBeLessThan(3);
    expect(regressionScore(0.5, b)).toBeGreaterThan(3);
  });

  it('needs at least MIN_BASELINE (3) values', () => {
    expect(MIN_BASELINE).toBe(3);
    expect(computeBaseline([])).toBeNull();
    expect(computeBaseline([10])).toBeNull();
    expect(computeBaseline([10, 12])).toBeNull();
    expect(computeBaseline([10, 12, 11])).not.toBeNull();
  });

  it('is the median and 1.4826 x MAD, worked by hand', () => {
    // deviations from 3: 2, 1, 0, 1, 97 -> MAD 1; the outlier 100 moves neither.
    expect(computeBaseline([1, 2, 3, 4, 100])).toEqual({ median: 3, spread: 1.4826, n: 5 });
    // even count: median 2.5, deviations 1.5, 0.5, 0.5, 1.5 -> MAD 1.
    expect(computeBaseline([4, 1, 3, 2])).toEqual({ median: 2.5, spread: 1.4826, n: 4 });
  });

  it('matches simple-statistics median and medianAbsoluteDeviation on many series', () => {
    for (let seed = 1; seed <= 40; seed++) {
      for (const n of [3, 4, 5, 8, 13, 30]) {
        const values = series(seed, n, seed * 10);
        const m = median(values);
        const expected = Math.max(1.4826 * medianAbsoluteDeviation(values), Math.abs(m) * 0.01);
        const b = computeBaseline(values);
        expect(b, `seed ${seed} n ${n}`).toEqual({ median: m, spread: expected, n });
      }
    }
  });

  it("does not reorder the caller's values", () => {
    const values = [5, 1, 4, 2, 3];
    computeBaseline(values);
    expect(values).toEqual([5, 1, 4, 2, 3]);
  });

  it('ignores one wild build where mean and standard deviation would not', () => {
    const stable = [100, 101, 99, 100, 102, 98, 100];
    const withOutlier = [...stable, 10_000];
    const a = computeBaseline(stable) as Baseline;
    const b = computeBaseline(withOutlier) as Baseline;
    expect(b.median).toBe(median(withOutlier));
    expect(b.median).toBe(100);
    expect(b.spread).toBe(Math.max(1.4826 * medianAbsoluteDeviation(withOutlier), 1));
    expect(b.spread).toBeLessThan(3 * a.spread);
  });

  describe('spread floor of 1% of |median|', () => {
    it('applies when every value is the same (MAD 0)', () => {
      expect(medianAbsoluteDeviation([250, 250, 250])).toBe(0);
      expect(computeBaseline([250, 250, 250])).toEqual({ median: 250, spread: 2.5, n: 3 });
    });

    it('applies when most values are the same (MAD 0, one differs)', () => {
      const values = [50, 50, 50, 50, 51];
      expect(medianAbsoluteDeviation(values)).toBe(0);
      expect(computeBaseline(values)).toEqual({ median: 50, spread: 0.5, n: 5 });
    });

    it('uses |median| for a negative median', () => {
      expect(computeBaseline([-200, -200, -200])).toEqual({ median: -200, spread: 2, n: 3 });
    });

    it('applies when MAD is positive but below 1% of the median', () => {
      const values = [1000, 1000.001, 999.999, 1000.002, 999.998];
      expect(1.4826 * medianAbsoluteDeviation(values)).toBeLessThan(10);
      expect(computeBaseline(values)?.spread).toBe(10);
    });

    it('is not used when 1.4826 x MAD is larger', () => {
      const values = [10, 20, 30];
      expect(computeBaseline(values)?.spread).toBe(1.4826 * 10);
    });

    it('stays positive when median and MAD are both 0, so scores are finite', () => {
      const b = computeBaseline([0, 0, 0, 0]) as Baseline;
      expect(b.median).toBe(0);
      expect(b.spread).toBeGreaterThan(0);
      expect(Number.isFinite(regressionScore(1, b))).toBe(true);
      expect(regressionScore(1, b)).toBeGreaterThan(0);
      expect(regressionScore(0, b)).toBe(0);
    });
  });
});

describe('regressionScore', () => {
  const baseline: Baseline = { median: 3, spread: 1.4826, n: 5 };

  it('is (value - median) / spread', () => {
    expect(regressionScore(6, baseline)).toBe(3 / 1.4826);
    expect(regressionScore(3 + 2 * 1.4826, baseline)).toBeCloseTo(2, 12);
  });

  it('is positive above the median, negative below and 0 at it', () => {
    expect(regressionScore(3.5, baseline)).toBeGreaterThan(0);
    expect(regressionScore(2.5, baseline)).toBeLessThan(0);
    expect(regressionScore(3, baseline)).toBe(0);
    expect(regressionScore(2.5, baseline)).toBe(-regressionScore(3.5, baseline));
  });

  it('keeps the sign for a negative median', () => {
    const b = computeBaseline([-200, -200, -200]) as Baseline;
    expect(regressionScore(-190, b)).toBe(5);
    expect(regressionScore(-210, b)).toBe(-5);
  });

  it("scores a stable series' small change against the 1% floor, not against MAD 0", () => {
    const b = computeBaseline([50, 50, 50, 50, 51]) as Baseline;
    expect(regressionScore(51, b)).toBe(2);
    expect(regressionScore(49.5, b)).toBe(-1);
  });
});
