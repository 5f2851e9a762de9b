/**
 * Change-point detection in the E-divisive family with a t-test for significance, after Hunter
 * (Apache Otava; Fleming et al., "Hunter: Using Change Point Detection to Hunt for Performance
 * Regressions", ICPE 2023):
 *
 *   1. split: E-divisive in sliding windows of `windowLength` points that overlap by half (the next
 *      window starts at the last change found, or half a window on), each split kept while a t-test
 *      passes 10 × maxPValue: "weak" candidates;
 *   2. merge: the candidates re-tested over the whole series, weakest dropped first (merge.ts).
 *
 * Deterministic: no permutations, no randomness, ties broken by position.
 *
 * Incremental. A window that ended before the newest points depends only on its own points, so its
 * candidates are kept; an update re-runs E-divisive only over the windows that reach the end of the
 * series (one or two), then the merge over the candidates with O(1) segment sums. The result is the
 * same as a detector fed the whole series at once (test/unit/change-points.test.ts checks it).
 *
 * States: growing (points appended; `changes()` answers for the points so far). No other.
 */
import type { ChangePoint } from './change-point.ts';
import { detectorOptions, type DetectorOptions } from './detector-options.ts';
import { mergeChangePoints } from './merge.ts';
import { RunningSums } from './running-sums.ts';
import { windowChangePoints } from './window-split.ts';

export class ChangePointDetector {
  readonly options: DetectorOptions;
  private readonly sums = new RunningSums();
  /** Candidates of the windows that are complete: their points will never change. */
  private readonly settled: number[] = [];
  /** Where the first window not yet complete starts. */
  private nextWindow = 0;
  private cached: ChangePoint[] | null = null;

  constructor(options: Partial<DetectorOptions> = {}) {
    this.options = detectorOptions(options);
  }

  get length(): number {
    return this.sums.length;
  }

  add(value: number): void {
    if (!Number.isFinite(value)) throw new RangeError(`change-point detector: point ${this.sums.length} is not a finite number: ${value}`);
    this.sums.append(value);
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

  /** Weak candidates: those of settled windows, plus those of the windows that reach the end now. */
  private candidates(): number[] {
    const { windowLength, minSize, maxPValue } = this.options;
    const n = this.sums.length;
    const firstPass = maxPValue < 0.05 ? maxPValue * 10 : Math.min(0.5, maxPValue * 2);
    const step = Math.floor(windowLength / 2);
    const fresh: number[] = [];
    let start = this.nextWindow;
    while (start < n) {
      const end = Math.min(start + windowLength, n);
      const found = windowChangePoints(this.sums, start, end, minSize, firstPass);
      const next = Math.max(found.at(-1) ?? 0, start + step);
      if (end - start === windowLength) {
        // Complete: its points are final, and so is where the next window starts.
        this.settled.push(...found);
        this.nextWindow = next;
      } else fresh.push(...found);
      start = next;
    }
    return [...new Set([...this.settled, ...fresh])].sort((a, b) => a - b);
  }
}

/** Changes of a whole series at once. */
export function detectChangePoints(values: Iterable<number>, options: Partial<DetectorOptions> = {}): ChangePoint[] {
  const detector = new ChangePointDetector(options);
  detector.addAll(values);
  return detector.changes();
}
