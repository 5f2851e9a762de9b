/**
 * The watcher's detectors per series follow the store and feed each stored point once. Points of
 * one watched series can share a time: the clock makes times unique per tag set, and the agent is
 * a tag the watcher does not split by, so builds on two agents finishing in the same millisecond
 * store two points at one time.
 */
import { describe, expect, it } from 'vitest';
import { SeriesDetectors, type FedPoint } from '../../master/regressions/series-detectors.ts';

const point = (time: number, buildid: number, value = 10): FedPoint => ({ time, value, buildid, revision: null });

describe('series detectors', () => {
  it('feeds each point once when several share the time it resumes from', () => {
    const detectors = new SeriesDetectors({ history: 200, maxSeries: 10 });
    const never = () => false;
    const history = [point(1000, 1), point(2000, 2), point(2000, 3), point(2000, 4)];
    expect(detectors.update('s', history, never).points).toHaveLength(4);
    // The next read starts at the last time fed (the store is asked from it on): the three points of
    // time 2000 again, and one new one of that time and one after it.
    const again = [point(2000, 3), point(2000, 2), point(2000, 5), point(2000, 4), point(3000, 6)];
    const fed = detectors.update('s', again, (p) => p.buildid === 6).points;
    expect(fed.map((p) => p.buildid)).toEqual([1, 2, 3, 4, 5, 6]);
    // Nothing new: nothing fed.
    expect(detectors.update('s', [point(3000, 6)], never).points).toHaveLength(6);
    expect(detectors.lastTime('s')).toBe(3000);
  });

  it('starts over from the history it is handed when its last point is gone from it', () => {
    const detectors = new SeriesDetectors({ history: 200, maxSeries: 10 });
    detectors.update('s', [point(1000, 1), point(2000, 2)], () => false);
    const fed = detectors.update('s', [point(5000, 7), point(6000, 8)], (p) => p.buildid === 8).points;
    expect(fed.map((p) => p.buildid)).toEqual([7, 8]);
  });
});
