/**
 * Change-point detection in the E-divisive family with a t-test for significance, after Hunter
 * (Apache Otava; Fleming et al., "Hunter: Using Change Point Detection to Hunt for Performance
 * Regressions", ICPE 2023):
 *
 *   0. clean: each point clipped to its neighbours' robust range (outlier-filter.ts); the tests see
 *      the cleaned values, and a point's samples when it has them (running-sums.ts);
 *   1. split: E-divisive in sliding windows of `windowLength` points that overlap by half (the next
 *      window starts at the last change found, or half a window on), each split kept while a t-test
 *      passes 10 × maxPValue: "weak" candidates;
 *   2. merge: the candidates re-tested over the whole series, weakest dropped first (merge.ts).
 *
 * Deterministic: no permutations, no randomness, ties broken by position.
 *
 * Incremental. A window that ended before the newest points (and before the last `outlierHalfWidth`,
 * whose cleaned values are still provisional) depends only on its own points, so its candidates are kept; an update re-runs E-divisive only over the windows that reach the end of the
 * series (one or two), then the merge over the candidates with O(1) segment sums. The result is the
 * same as a detector fed the whole series at once (test/unit/change-points.test.ts checks it).
 *
 * States: growing (points appended; `changes()` answers for the points so far). No other.
 */
import type { ChangePoint } from './change-point.ts';
import { detectorOptions, type DetectorOptions } from './detector-options.ts';
import { mergeChangePoints } from './merge.ts';
import { cleanedValue, finalBefore, type OutlierFilterOptions } from './outlier-filter.ts';
import { RunningSums } from './running-sums.ts';
import { windowChangePoints } from './window-split.ts';

export class ChangePointDetector {
  readonly options: DetectorOptions;
  private readonly filter: OutlierFilterOptions;
  /** The points as given. */
  private readonly raw: number[] = [];
  /** Each point's samples as given, when it has any. */
  private readonly rawSamples: (number[] | undefined)[] = [];
  /** Sums of the points after the outlier filter: what the tests see. */
  private readonly sums = new RunningSums();
  /** Candidates of the windows that are complete: their points will never change. */
  private readonly settled: number[] = [];
  /** Where the first window not yet complete starts. */
  private nextWindow = 0;
  /**
   * The candidates last found in each window not yet complete (by its start), with the values they
   * were found in: a window whose values did not change since gives the same (its tests see only its
   * own points), so the full window before the newest points is searched again only when the outlier
   * filter moved one of its provisional values.
   */
  private readonly open = new Map<number, { end: number; values: Float64Array; found: number[] }>();
  private cached: ChangePoint[] | null = null;

  constructor(options: Partial<DetectorOptions> = {}) {
    this.options = detectorOptions(options);
    this.filter = { halfWidth: this.options.outlierHalfWidth, threshold: this.options.outlierThreshold };
  }

  get length(): number {
    return this.sums.length;
  }

  /**
   * Adds the next point. `samples`: the point's repeated measurements (its value is usually their
   * median); the significance tests then compare samples, not only values (running-sums.ts).
   */
  add(value: number, samples?: readonly number[]): void {
    const at = `change-point detector: point ${this.raw.length}`;
    if (!Number.isFinite(value)) throw new RangeError(`${at} is not a finite number: ${value}`);
    const bad = samples?.findIndex((x) => !Number.isFinite(x)) ?? -1;
    if (bad >= 0) throw new RangeError(`${at}: sample ${bad} is not a finite number: ${samples?.[bad]}`);
    this.raw.push(value);
    this.rawSamples.push(samples && samples.length > 0 ? [...samples] : undefined);
    // The points whose cleaned value was provisional, and the new one, are (re)computed.
    const n = this.raw.length;
    const from = Math.min(this.sums.length, finalBefore(n - 1, this.filter));
    this.sums.truncate(from);
    for (let i = from; i < n; i++) {
      const cleaned = cleanedValue(this.raw, i, n, this.filter);
      // A clipped build's samples move with its value: the whole build was the outlier.
      const offset = cleaned - (this.raw[i] ?? 0);
      this.sums.append(
        cleaned,
        this.rawSamples[i]?.map((x) => x + offset),
      );
    }
    this.cached = null;
  }

  addAll(values: Iterable<number>): void {
    for (const v of values) this.add(v);
  }

  /** The changes in the points so far, in order. */
  changes(): ChangePoint[] {
    this.cached ??= mergeChangePoints(this.sums, this.candidates(), this.options);
    return this.cached;
  }

  /** The window's candidates: as found last time if its values are the same (see `open`). */
  private window(start: number, end: number, minSize: number, maxPValue: number): number[] {
    const values = this.sums.view().subarray(start, end);
    const last = this.open.get(start);
    if (last && last.end === end && sameValues(last.values, values)) return last.found;
    const found = windowChangePoints(this.sums, start, end, minSize, maxPValue);
    this.open.set(start, { end, values: values.slice(), found });
    return found;
  }

  /** Weak candidates: those of settled windows, plus those of the windows that reach the end now. */
  private candidates(): number[] {
    const { windowLength, minSize, maxPValue } = this.options;
    const n = this.sums.length;
    const final = finalBefore(n, this.filter);
    const firstPass = maxPValue < 0.05 ? maxPValue * 10 : Math.min(0.5, maxPValue * 2);
    const step = Math.floor(windowLength / 2);
    const fresh: number[] = [];
    let start = this.nextWindow;
    for (const at of this.open.keys()) if (at < this.nextWindow) this.open.delete(at);
    while (start < n) {
      const end = Math.min(start + windowLength, n);
      const found = this.window(start, end, minSize, firstPass);
      const next = Math.max(found.at(-1) ?? 0, start + step);
      if (end - start === windowLength && end <= final) {
        // Complete, past the outlier filter's reach: its points are final, and so is where the next window starts.
        this.settled.push(...found);
        this.nextWindow = next;
        this.open.delete(start);
      } else fresh.push(...found);
      start = next;
    }
    return [...new Set([...this.settled, ...fresh])].sort((a, b) => a - b);
  }
}

/** Two windows' values, alike value for value. */
function sameValues(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Changes of a whole series at once. */
export function detectChangePoints(values: Iterable<number>, options: Partial<DetectorOptions> = {}): ChangePoint[] {
  const detector = new ChangePointDetector(options);
  detector.addAll(values);
  return detector.changes();
}
