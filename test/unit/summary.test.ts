import { quantileSorted } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { quantileFromPositions, quantilePositions } from '../../metrics/summary.ts';

const PS = [0, 0.05, 0.1, 0.25, 0.5, 0.95, 0.999, 1];

/** n sorted values with uneven gaps and a negative start, so interpolation errors show. */
function sortedValues(n: number): number[] {
  return Array.from({ length: n }, (_, i) => -3.7 + i * 1.3 + (i * i) / 7 + (i % 3) * 0.011);
}

describe('quantilePositions', () => {
  it('gives the sorted position (n - 1) * p, or its two neighbours when it is fractional', () => {
    expect(quantilePositions(11, 0.5)).toEqual([5]);
    expect(quantilePositions(10, 0.5)).toEqual([4, 5]);
    expect(quantilePositions(20, 0.95)).toEqual([18, 19]);
    expect(quantilePositions(21, 0.95)).toEqual([19]);
    expect(quantilePositions(5, 0.25)).toEqual([1]);
    expect(quantilePositions(4, 0.25)).toEqual([0, 1]);
  });

  it('gives the first and last position for p 0 and 1', () => {
    expect(quantilePositions(7, 0)).toEqual([0]);
    expect(quantilePositions(7, 1)).toEqual([6]);
    expect(quantilePositions(1, 0)).toEqual([0]);
    expect(quantilePositions(1, 1)).toEqual([0]);
  });

  it('gives only position 0 for one value, whatever p', () => {
    for (const p of PS) expect(quantilePositions(1, p)).toEqual([0]);
  });

  it('stays within [0, n - 1] and names one or two adjacent positions', () => {
    for (let n = 1; n <= 50; n++) {
      for (const p of PS) {
        const pos = quantilePositions(n, p);
        expect(pos.length === 1 || (pos.length === 2 && pos[1] === (pos[0] as number) + 1), `n ${n} p ${p}: ${pos.join(',')}`).toBe(true);
        for (const k of pos) {
          expect(Number.isInteger(k)).toBe(true);
          expect(k).toBeGreaterThanOrEqual(0);
          expect(k).toBeLessThanOrEqual(n - 1);
        }
      }
    }
  });

  it('needs no position for n = 0', () => {
    expect(quantilePositions(0, 0.5)).toEqual([]);
    expect(quantilePositions(0, 0)).toEqual([]);
    expect(quantilePositions(0, 1)).toEqual([]);
  });

  it.each([-0.01, 1.01, -1, 2, 95, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    'throws a RangeError for p = %d',
    (p) => {
      expect(() => quantilePositions(10, p)).toThrow(RangeError);
      expect(() => quantilePositions(10, p)).toThrow(`percentile must be between 0 and 1, got ${p}`);
      expect(() => quantilePositions(0, p)).toThrow(RangeError);
    },
  );
});

describe('quantileFromPositions', () => {
  it('equals simple-statistics quantile exactly for n 1..50 and p in {0, .05, .1, .25, .5, .95, .999, 1}', () => {
    for (let n = 1; n <= 50; n++) {
      const sorted = sortedValues(n);
      for (const p of PS) {
        const expected = quantileSorted(sorted, p);
        expect(
          quantileFromPositions(n, p, (k) => sorted[k] as number),
          `n ${n} p ${p}`,
        ).toBe(expected);
      }
    }
  });

  it('equals simple-statistics on data with repeated values and a large range', () => {
    const sorted = [-1e9, -5, -5, 0, 0, 0, 0.1, 3, 3, 3, 3, 7.25, 1e6, 1e12];
    for (const p of [...PS, 0.33, 0.9, 0.99]) {
      expect(
        quantileFromPositions(sorted.length, p, (k) => sorted[k] as number),
        `p ${p}`,
      ).toBe(quantileSorted(sorted, p));
    }
  });

  it('interpolates linearly between neighbours, worked by hand', () => {
    const sorted = [10, 20, 30, 40];
    const at = (k: number) => sorted[k] as number;
    expect(quantileFromPositions(4, 0.5, at)).toBe(25); // position 1.5
    expect(quantileFromPositions(4, 0.25, at)).toBe(17.5); // position 0.75
    expect(quantileFromPositions(4, 0.95, at)).toBeCloseTo(38.5, 12); // position 2.85
    expect(quantileFromPositions(4, 0, at)).toBe(10);
    expect(quantileFromPositions(4, 1, at)).toBe(40);
  });

  it('reads only the positions quantilePositions named', () => {
    for (let n = 1; n <= 50; n++) {
      for (const p of PS) {
        const asked: number[] = [];
        quantileFromPositions(n, p, (k) => {
          asked.push(k);
          return k;
        });
        expect(
          asked.sort((a, b) => a - b),
          `n ${n} p ${p}`,
        ).toEqual(quantilePositions(n, p));
      }
    }
  });

  it('is null for n = 0 without reading any value', () => {
    let reads = 0;
    expect(
      quantileFromPositions(0, 0.5, () => {
        reads++;
        return 1;
      }),
    ).toBeNull();
    expect(reads).toBe(0);
  });

  it.each([-0.5, 1.5, Number.NaN])('throws a RangeError for p = %d when there are values', (p) => {
    expect(() => quantileFromPositions(5, p, () => 0)).toThrow(RangeError);
  });
});
