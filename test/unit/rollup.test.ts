/** Rollup cells: moments merge exactly, and sketches survive their row encoding bin for bin. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mean, sampleStandardDeviation } from 'simple-statistics';
import { addEncoded, encodeSketch, mergeRows, Moments, newSketch, ROLLUP_FIELDS, RollupCell } from '../../metrics/stores/rollup.ts';

const values = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 300 });
/** Magnitudes from 0.001 to 1e6, both signs: what a sketch keeps (a span of about 10 000 bins). */
const sketchable = fc.array(
  fc.integer({ min: -1e9, max: 1e9 }).map((x) => x / 1000),
  { minLength: 2, maxLength: 300 },
);

describe('Moments', () => {
  it('merged from any split equals simple-statistics on the whole', () => {
    fc.assert(
      fc.property(values, fc.nat(), (xs, cut) => {
        const at = cut % xs.length;
        const [a, b] = [new Moments(), new Moments()];
        xs.slice(0, at).forEach((x) => a.add(x));
        xs.slice(at).forEach((x) => b.add(x));
        a.merge(b);
        expect(a.n).toBe(xs.length);
        expect(a.mean).toBeCloseTo(mean(xs), 6);
        const sd = sampleStandardDeviation(xs);
        expect(Math.abs((a.deviation as number) - sd)).toBeLessThanOrEqual(1e-9 * Math.max(sd, 1));
        expect([a.min, a.max]).toEqual([Math.min(...xs), Math.max(...xs)]);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe('sketch encoding', () => {
  it('decodes to the same bins, negative values and zeros included', () => {
    fc.assert(
      fc.property(sketchable, (xs) => {
        const original = newSketch();
        for (const x of [...xs, 0]) original.accept(x);
        const copy = newSketch();
        addEncoded(copy, encodeSketch(original));
        expect(copy.count).toBe(original.count);
        expect(copy.zeroCount).toBe(original.zeroCount);
        for (const q of [0, 0.05, 0.5, 0.95, 1]) expect(copy.getValueAtQuantile(q)).toBe(original.getValueAtQuantile(q));
      }),
      { numRuns: 200, seed: 11 },
    );
  });

  it('merges rows into one answer, and a damaged or missing sketch leaves percentiles to raw points', () => {
    const [a, b] = [new RollupCell('p', 0), new RollupCell('p', 1)];
    [1, 2, 3].forEach((x) => a.add(x));
    [10, 20].forEach((x) => b.add(x));
    const row = (cell: RollupCell) => {
      const f = Object.fromEntries(
        cell
          .fields()
          .split(/,(?=[a-z0-9_]+=)/)
          .map((kv) => kv.split('=') as [string, string]),
      );
      return [
        0,
        parseInt(f.caliper_n as string, 10),
        ...['mean', 'm2', 'min', 'max'].map((k) => Number(f[`caliper_${k}`])),
        (f.caliper_sketch as string).replace(/"/g, ''),
      ];
    };
    const columns = ['time', ...ROLLUP_FIELDS];
    const merged = mergeRows(columns, [row(a), row(b)]);
    expect(merged.moments.n).toBe(5);
    expect(merged.moments.mean).toBeCloseTo(7.2, 12);
    expect(merged.sketch?.count).toBe(5);
    expect(mergeRows(columns, [row(a), [...row(b).slice(0, 6), '']]).sketch).toBeNull();
    expect(mergeRows(columns, [row(a), [...row(b).slice(0, 6), '//8=']]).sketch).toBeNull();
  });
});

describe('rollup cells', () => {
  it('drop their sketch rather than span more than 20 000 bins, and keep exact moments', () => {
    const cell = new RollupCell('p', 0);
    for (const x of [1, 2, 1e-300, 3]) cell.add(x);
    expect(cell.sketch).toBeNull();
    expect(cell.moments.n).toBe(4);
    expect(cell.fields()).toContain('caliper_sketch=""');
    const wide = newSketch();
    wide.accept(1e-100);
    const far = newSketch();
    far.accept(1e100);
    expect(() => addEncoded(wide, encodeSketch(far))).toThrow(/too widely/);
  });
});
