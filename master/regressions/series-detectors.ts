/**
 * One incremental change-point detector per watched series (name + tag combination), kept between
 * builds so a build costs the points it adds, not a pass over history.
 *
 * A detector follows the store: each update is handed the series' most recent stored points (oldest
 * first, bounded) and feeds only those it has not seen: those after the last time it was fed, and of
 * that time those it was not fed (points of one series from several agents can share a time, each
 * told apart by its build and value). It starts over from those
 * points (seeded) when it has none yet, when its last point is no longer among them (history moved:
 * deleted, or older than the bound), or when it has grown past twice the bound (memory stays bounded).
 * Seeding leaves out the points of the build being handled, so the changes those points reveal are
 * told apart from the changes history already held.
 *
 * States per series: absent -> following (update) -> absent (evicted when too many series are kept).
 */
import { ChangePointDetector, type ChangePoint, type DetectorOptions } from '../../metrics/change-points/index.ts';

/** A stored point as the watcher feeds it. */
export interface FedPoint {
  /** Epoch µs: a point's identity within its series and tags. */
  time: number;
  value: number;
  /** The runs a `repeat`ed measurement kept: the detector's t-tests use them. */
  samples?: readonly number[];
  buildid: number | null;
  revision: string | null;
}

export interface SeriesUpdate {
  /** The points the detector holds now, oldest first: a change's `index` is a position in it. */
  points: readonly FedPoint[];
  /** Changes that appeared with the points fed now, not present before them. */
  fresh: ChangePoint[];
  /** Fewest points on either side of a change: two changes closer than this are the same one moved. */
  minSize: number;
}

interface Followed {
  detector: ChangePointDetector;
  points: FedPoint[];
  /** The points fed so far with the time of the last one (pointIdentity), so none is fed twice. */
  atLastTime: Set<string>;
}

/** What tells apart points of one watched series that share a time (they come from different builds). */
function pointIdentity(p: FedPoint): string {
  return `${p.buildid}|${p.value}`;
}

export class SeriesDetectors {
  private readonly followed = new Map<string, Followed>();

  constructor(
    private readonly options: {
      /** The most recent points a detector is seeded with (the bound on history). */
      history: number;
      /** Series kept at once; past this the least recently updated is dropped (and seeded again if it comes back). */
      maxSeries: number;
      detector?: Partial<DetectorOptions>;
    },
  ) {}

  /** The time (epoch µs) of the last point `key`'s detector was fed, if it is followed: history after it is all it needs. */
  lastTime(key: string): number | undefined {
    return this.followed.get(key)?.points.at(-1)?.time;
  }

  /** Feeds `key`'s detector what it has not seen of `history`; `isNew` marks the points of the build being handled. */
  update(key: string, history: readonly FedPoint[], isNew: (p: FedPoint) => boolean): SeriesUpdate {
    let f = this.followed.get(key);
    let unseen: readonly FedPoint[];
    const last = f?.points.at(-1);
    const at = last === undefined ? -1 : history.findIndex((p) => p.time === last.time);
    if (!f || !last || at < 0 || f.points.length > 2 * this.options.history) {
      f = { detector: new ChangePointDetector(this.options.detector), points: [], atLastTime: new Set() };
      const firstNew = history.findIndex(isNew);
      const seed = firstNew < 0 ? history.length : firstNew;
      for (const p of history.slice(0, seed)) this.feed(f, p);
      unseen = history.slice(seed);
    } else {
      const fedAtLast = f.atLastTime;
      unseen = history.slice(at).filter((p) => p.time !== last.time || !fedAtLast.has(pointIdentity(p)));
    }
    // Re-inserted: the map's order is the order of use, the oldest is evicted first.
    this.followed.delete(key);
    this.followed.set(key, f);
    if (this.followed.size > this.options.maxSeries) {
      const oldest = this.followed.keys().next();
      if (!oldest.done) this.followed.delete(oldest.value);
    }
    const minSize = f.detector.options.minSize;
    const known = f.detector.changes().map((c) => c.index);
    for (const p of unseen) this.feed(f, p);
    const fresh = f.detector.changes().filter((c) => !known.some((k) => Math.abs(k - c.index) < minSize));
    return { points: f.points, fresh, minSize };
  }

  private feed(f: Followed, p: FedPoint): void {
    if (f.points.at(-1)?.time !== p.time) f.atLastTime = new Set();
    f.atLastTime.add(pointIdentity(p));
    f.detector.add(p.value, p.samples);
    f.points.push(p);
  }
}
