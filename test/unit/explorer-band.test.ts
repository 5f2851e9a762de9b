/**
 * The metrics explorer draws the regression gate's band in the browser (frontend/src/components/
 * baseline-band.ts), so it must agree with the gate's own baseline (metrics/regression.ts) on any
 * values; and its URL state must read back what it wrote.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { computeBaseline } from '../../metrics/regression.ts';
import { baselineOf, rollingBand } from '../../frontend/src/components/baseline-band.ts';
import { explorerQuery, parseExplorerState, type ExplorerState } from '../../frontend/src/components/explorer-state.ts';

describe('the explorer band', () => {
  it('is the gate baseline on any values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 0, maxLength: 40 }),
        fc.constantFrom(0, 0.01, 5),
        (values, resolution) => {
          const gate = computeBaseline(values, resolution);
          const ours = baselineOf(values, resolution);
          if (gate === null) expect(ours).toBeNull();
          else {
            expect(ours?.median).toBeCloseTo(gate.median, 6);
            expect(ours?.spread).toBeCloseTo(gate.spread, 6);
          }
        },
      ),
    );
  });

  it('scores each point against the good points before it, and flags a step', () => {
    const points = [100, 101, 99, 100, 102, 98, 130].map((value, i) => ({ time: i, value, tags: { result: 'success' } }));
    // A failed build's point is scored but never joins a baseline.
    points.splice(3, 0, { time: 2.5, value: 500, tags: { result: 'failure' } });
    const band = rollingBand(points, 5, 3);
    expect(band.slice(0, 3)).toEqual([null, null, null]);
    expect(band[3]?.score).toBeGreaterThan(3); // the failed one, far off
    expect(band[4]?.median).toBe(100); // 100, 101, 99: the 500 is not in it
    const last = band[band.length - 1];
    expect(last && 130 > last.upper).toBe(true);
  });
});

describe('the explorer URL', () => {
  it('reads back every state it writes', () => {
    const state: ExplorerState = {
      series: ['bench_ms', 'heap mb/x'],
      filters: { builder: 'app', 'tag.os': 'linux & mac' },
      splitBy: 'os',
      range: { from: 1_700_000_000, to: 1_700_086_400 },
      band: false,
      k: 2.5,
    };
    expect(parseExplorerState(new URLSearchParams(explorerQuery(state).toString()))).toEqual(state);
    const preset: ExplorerState = { ...state, range: { preset: '7d' }, band: true, k: null, splitBy: null, filters: {} };
    expect(parseExplorerState(new URLSearchParams(explorerQuery(preset).toString()))).toEqual(preset);
  });

  it('drops what it does not know instead of failing', () => {
    const s = parseExplorerState(new URLSearchParams('series=a&range=forever&k=-1&split=a%20b&evil=1&tag.=x&from=5&to=1'));
    expect(s).toEqual({ series: ['a'], filters: {}, splitBy: null, range: { preset: 'all' }, band: true, k: null });
  });
});
