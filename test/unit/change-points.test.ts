/** The change-point detector: exact positions, incremental = full, no alert on quiet series, significance. */
import { describe, expect, it } from 'vitest';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import { ChangePointDetector, detectChangePoints, verdict } from '../../metrics/change-points/index.ts';
import { isSignificant, normalTailAtLeast, tTestPValue } from '../../metrics/change-points/t-test.ts';

const level = (n: number, v: number) => Array<number>(n).fill(v);

/** Seeded Gaussian noise around `mean` with coefficient of variation `cv`. */
function noisy(values: number[], cv: number, seed: number): number[] {
  const rng = xoroshiro128plus(seed);
  const u = () => uniformFloat64(rng) || Number.MIN_VALUE;
  return values.map((v) => v * (1 + cv * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())));
}

describe('change points', () => {
  it('finds noiseless steps at their exact positions, with magnitude and direction', () => {
    const series = [...level(30, 100), ...level(25, 110), ...level(40, 99), ...level(12, 120)];
    const changes = detectChangePoints(series);
    expect(changes.map((c) => c.index)).toEqual([30, 55, 95]);
    expect(changes.map((c) => c.change)).toEqual(['increase', 'decrease', 'increase']);
    expect(changes[0]?.magnitudePercent).toBeCloseTo(10, 9);
    expect(changes[1]?.magnitudePercent).toBeCloseTo(-10, 9);
    expect(changes[0]?.before).toEqual({ start: 0, end: 30, mean: 100, stddev: 0 });
    expect(changes.every((c) => c.pValue === 0)).toBe(true);
  });

  it('finds a step 3 builds after it happened (the fewest a segment may have)', () => {
    const d = new ChangePointDetector();
    d.addAll([...level(40, 50), 55, 55]);
    // Not even one build early at 39: [50, 55, 55] is no level of its own.
    expect(d.changes()).toEqual([]);
    d.add(55);
    expect(d.changes().map((c) => c.index)).toEqual([40]);
  });

  it('updated point by point gives what a full recomputation gives, at every length', () => {
    const series = noisy([...level(70, 100), ...level(60, 106), ...level(50, 97), ...level(40, 125)], 0.01, 7);
    const d = new ChangePointDetector();
    const seen = new Set<string>();
    for (let i = 0; i < series.length; i++) {
      d.add(series[i] ?? 0);
      const incremental = d.changes();
      expect(incremental).toEqual(detectChangePoints(series.slice(0, i + 1)));
      for (const c of incremental) seen.add(String(c.index));
    }
    // Not vacuous: the noisy series has its three changes, near where they are.
    expect(d.changes().map((c) => c.index)).toEqual([70, 130, 180]);
    expect(seen.size).toBeGreaterThanOrEqual(3);
  });

  it('stays equal to a full recomputation where a window searched before has a clipped value move', () => {
    // Steps and outliers from a fixed generator: at its 51st point, an outlier's cleaned value inside
    // the window before the newest points moves, so that window must be searched again, not reused.
    let state = 20;
    const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    const series: number[] = [];
    let at = 100;
    for (let i = 0; i < 120; i++) {
      if (random() < 0.04) at *= 0.7 + random() * 0.6;
      let v = at * (1 + (random() - 0.5) * 0.04);
      if (random() < 0.05) v *= random() < 0.5 ? 3 : 0.3;
      series.push(v);
    }
    const d = new ChangePointDetector();
    for (let i = 0; i < series.length; i++) {
      d.add(series[i] ?? 0);
      expect(d.changes(), `after point ${i}`).toEqual(detectChangePoints(series.slice(0, i + 1)));
    }
  });

  it('raises nothing on a constant series, nor on noise, nor on a slow drift', () => {
    expect(detectChangePoints(level(200, 42))).toEqual([]);
    expect(detectChangePoints(noisy(level(300, 100), 0.02, 3))).toEqual([]);
    // 10 % over 200 builds, under 1 % noise: the level moves, but never jumps.
    const drift = noisy(
      Array.from({ length: 200 }, (_, i) => 100 * (1 + (0.1 * i) / 199)),
      0.01,
      11,
    );
    const d = new ChangePointDetector();
    for (const v of drift) {
      d.add(v);
      expect(d.changes()).toEqual([]);
    }
  });

  it('reports a p-value from the t-test: small for a clear step, and a small step under noise is not significant', () => {
    const clear = detectChangePoints(noisy([...level(60, 100), ...level(30, 110)], 0.01, 5));
    expect(clear).toHaveLength(1);
    expect(clear[0]?.pValue).toBeLessThan(1e-20);
    expect(clear[0]?.pValue).toBeGreaterThan(0);
    // 0.5 % under 2 % noise: indistinguishable from noise over 40 builds.
    expect(detectChangePoints(noisy([...level(60, 100), ...level(40, 100.5)], 0.02, 9))).toEqual([]);
  });

  it('raises nothing for outlier builds, even two in a row at the newest point', () => {
    const series = noisy(level(200, 100), 0.01, 21);
    // Cold caches: single slow builds, a pair, and a pair as the newest two points at some moment.
    for (const [i, factor] of [
      [20, 1.5],
      [57, 1.3],
      [58, 1.45],
      [120, 1.25],
      [121, 1.6],
      [170, 0.7],
    ] as const)
      series[i] = (series[i] ?? 0) * factor;
    const d = new ChangePointDetector();
    series.forEach((v, i) => {
      d.add(v);
      expect(d.changes(), `after point ${i}`).toEqual([]);
    });
  });

  it('finds a step among outliers, where it happened, and reports the cleaned means', () => {
    const series = noisy([...level(80, 100), ...level(60, 106)], 0.01, 23);
    for (const i of [10, 40, 77, 81, 100, 101]) series[i] = (series[i] ?? 0) * 1.4;
    const d = new ChangePointDetector();
    let firstSeen: number | null = null;
    series.forEach((v, i) => {
      d.add(v);
      if (firstSeen === null && d.changes().length > 0) firstSeen = i;
    });
    const changes = d.changes();
    expect(changes.map((c) => c.index)).toEqual([80]);
    // Seen within a few builds of the new level despite the outlier right after the change.
    expect(firstSeen).toBeLessThanOrEqual(80 + 5);
    // The outliers (40 % slow) are clipped: the means stay near the true levels.
    expect(changes[0]?.before.mean).toBeCloseTo(100, 0);
    expect(changes[0]?.after.mean).toBeCloseTo(106, 0);
  });

  it('stays equal to a full recomputation with outliers and samples', () => {
    const values = noisy([...level(60, 100), ...level(50, 104), ...level(40, 98)], 0.01, 29);
    // Not the newest point: that one has no neighbours after it to be judged by (docs/metrics.md).
    for (const i of [15, 61, 62, 90, 140]) values[i] = (values[i] ?? 0) * 1.5;
    const samples = values.map((v, i) => (i % 3 === 0 ? noisy(level(5, v), 0.01, 100 + i) : undefined));
    const d = new ChangePointDetector();
    for (let i = 0; i < values.length; i++) {
      d.add(values[i] ?? 0, samples[i]);
      const full = new ChangePointDetector();
      for (let j = 0; j <= i; j++) full.add(values[j] ?? 0, samples[j]);
      expect(d.changes(), `at length ${i + 1}`).toEqual(full.changes());
    }
    expect(d.changes().map((c) => c.index)).toEqual([60, 110]);
  });

  it('tests samples when points have them: a noiseless median hides a noisy measurement', () => {
    // Each build measured 5 times; the medians step 100 → 101 without noise, the samples spread ±5.
    const spread = (v: number) => [v - 5, v - 2, v, v + 2, v + 5];
    const medians = [...level(40, 100), ...level(5, 101)];
    const plain = new ChangePointDetector();
    plain.addAll(medians);
    expect(plain.changes().map((c) => c.index)).toEqual([40]);
    expect(plain.changes()[0]?.pValue).toBe(0);
    const sampled = new ChangePointDetector();
    for (const m of medians) sampled.add(m, spread(m));
    // 1 % under samples that vary by 4 %: not significant after 5 builds.
    expect(sampled.changes()).toEqual([]);
    // With samples that agree, the same step is as certain as the medians say.
    const tight = new ChangePointDetector();
    for (const m of medians) tight.add(m, [m, m, m]);
    expect(tight.changes().map((c) => c.index)).toEqual([40]);
    expect(() => tight.add(1, [1, Number.NaN])).toThrow(/point 45: sample 1 is not a finite number/);
  });

  it('calls a change better or worse by the series kind', () => {
    expect(verdict('increase', 'duration')).toBe('worse');
    expect(verdict('decrease', 'size')).toBe('better');
    expect(verdict('increase', 'count')).toBe('worse');
    expect(verdict('increase', 'ratio')).toBe('better');
    expect(verdict('decrease', 'ratio')).toBe('worse');
  });

  it('refuses bad options and non-finite points, naming them', () => {
    expect(() => new ChangePointDetector({ maxPValue: 2 })).toThrow(/maxPValue must be in \(0, 1\), got 2/);
    expect(() => new ChangePointDetector({ windowLength: 4 })).toThrow(/windowLength must be an integer/);
    expect(() => new ChangePointDetector().add(Number.NaN)).toThrow(/point 0 is not a finite number/);
  });
});

describe('significance without the incomplete beta function', () => {
  it("bounds the normal tail from below, and every Student's t tail (any df, fractional too) lies above it", () => {
    for (const df of [0.3, 0.5, 1, 1.7, 2, 3, 5, 10, 30, 100, 1000, 1e6]) {
      for (let x = 0; x <= 12; x += 0.05) {
        const tTail = 2 * tCdf(-x, df);
        const normalTail = 2 * tCdf(-x, 1e12); // the normal, to the precision that matters here
        expect(normalTailAtLeast(x)).toBeLessThanOrEqual(normalTail * (1 + 1e-9));
        expect(tTail).toBeGreaterThanOrEqual(normalTail * (1 - 1e-9));
      }
    }
  });

  it("answers as the t-test's p-value does, at every alpha, on segments near and far from significance", () => {
    const rng = xoroshiro128plus(7);
    const u = () => uniformFloat64(rng);
    let screened = 0;
    let checked = 0;
    for (let i = 0; i < 20000; i++) {
      const a = { n: 1 + Math.floor(u() * 40), mean: 100, variance: u() < 0.05 ? 0 : u() * 20 };
      const b = {
        n: 1 + Math.floor(u() * 8),
        mean: 100 + (u() - 0.3) * 30 * u() ** 3,
        variance: u() < 0.05 ? 0 : u() * 20 * (u() < 0.2 ? 50 : 1),
      };
      if (a.n === 1) a.variance = 0;
      if (b.n === 1) b.variance = 0;
      for (const alpha of [1e-7, 1e-6, 1e-5, 1e-3, 0.05, 0.4]) {
        const p = tTestPValue(a, b);
        expect(isSignificant(a, b, alpha), `${JSON.stringify({ a, b, alpha, p })}`).toBe(p <= alpha);
        checked++;
        const df = a.n + b.n - 2;
        if (df >= 1 && normalTailAtLeast(Math.abs(b.mean - a.mean) / Math.sqrt(a.variance / a.n + b.variance / b.n)) > alpha) screened++;
      }
    }
    // The point of it: most tests are answered by the bound.
    expect(screened / checked).toBeGreaterThan(0.5);
  });
});
