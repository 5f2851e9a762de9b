/**
 * Prefix sums of a growing series, so the mean and variance of any segment cost O(1): the merge
 * step of the detector re-tests segments many times, and a new point must not mean a pass over
 * all history. Values are shifted by the first one before summing: sums of squares of raw values
 * (byte sizes near 1e9, say) would cancel catastrophically in `S2 - S1²/n`.
 *
 * A point may carry samples (a measurement repeated within its build): they are summed too, and
 * `testSegment` answers from them wherever a segment has any, a point without samples counting as one
 * sample of its value. `segment` always answers from the points' values (what a chart shows).
 */

export interface SegmentStats {
  n: number;
  mean: number;
  /** Sample variance (divides by n - 1); 0 for a single point. */
  variance: number;
}

export class RunningSums {
  private shift = 0;
  private s1 = new Float64Array(64);
  private s2 = new Float64Array(64);
  /** Σ i·(v_i − shift): with s1 and s2, the least-squares line through any segment. */
  private s3 = new Float64Array(64);
  private values = new Float64Array(64);
  /** Prefix sums over the samples: how many, Σ(x − shift), Σ(x − shift)², and points that had samples. */
  private n1 = new Float64Array(64);
  private t1 = new Float64Array(64);
  private t2 = new Float64Array(64);
  private sampled = new Float64Array(64);
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** The values so far (a view: valid until the next append). */
  view(): Float64Array {
    return this.values.subarray(0, this.count);
  }

  append(value: number, samples?: readonly number[]): void {
    if (this.count === 0) this.shift = value;
    if (this.count + 1 >= this.s1.length) this.grow();
    const i = this.count;
    const d = value - this.shift;
    this.values[i] = value;
    this.s1[i + 1] = (this.s1[i] ?? 0) + d;
    this.s2[i + 1] = (this.s2[i] ?? 0) + d * d;
    this.s3[i + 1] = (this.s3[i] ?? 0) + i * d;
    let [n, t1, t2] = [1, d, d * d];
    if (samples && samples.length > 0) {
      [n, t1, t2] = [samples.length, 0, 0];
      for (const x of samples) {
        t1 += x - this.shift;
        t2 += (x - this.shift) ** 2;
      }
    }
    this.n1[i + 1] = (this.n1[i] ?? 0) + n;
    this.t1[i + 1] = (this.t1[i] ?? 0) + t1;
    this.t2[i + 1] = (this.t2[i] ?? 0) + t2;
    this.sampled[i + 1] = (this.sampled[i] ?? 0) + (samples && samples.length > 0 ? 1 : 0);
    this.count++;
  }

  /** Drops the points from `length` on (the outlier filter rewrites its provisional points). */
  truncate(length: number): void {
    if (length < 0 || length > this.count) throw new RangeError(`truncate to ${length} outside 0..${this.count}`);
    this.count = length;
  }

  /** Statistics of the values at [start, end). */
  segment(start: number, end: number): SegmentStats {
    const n = end - start;
    if (n <= 0 || start < 0 || end > this.count) throw new RangeError(`segment [${start}, ${end}) outside 0..${this.count}`);
    const sum = (this.s1[end] ?? 0) - (this.s1[start] ?? 0);
    const squares = (this.s2[end] ?? 0) - (this.s2[start] ?? 0);
    const mean = this.shift + sum / n;
    // Rounding can leave a hair below zero for a constant segment.
    const variance = n > 1 ? Math.max(0, (squares - (sum * sum) / n) / (n - 1)) : 0;
    return { n, mean, variance };
  }

  /** What the significance tests compare: the segment's samples where it has any, else its values. */
  testSegment(start: number, end: number): SegmentStats {
    const stats = this.segment(start, end);
    if ((this.sampled[end] ?? 0) === (this.sampled[start] ?? 0)) return stats;
    const n = (this.n1[end] ?? 0) - (this.n1[start] ?? 0);
    const sum = (this.t1[end] ?? 0) - (this.t1[start] ?? 0);
    const squares = (this.t2[end] ?? 0) - (this.t2[start] ?? 0);
    const variance = n > 1 ? Math.max(0, (squares - (sum * sum) / n) / (n - 1)) : 0;
    return { n, mean: this.shift + sum / n, variance };
  }

  /** Sum of squared residuals of [start, end) around its least-squares line (a trend). */
  trendResidual(start: number, end: number): number {
    const n = end - start;
    if (n < 3) return 0;
    const sum = (this.s1[end] ?? 0) - (this.s1[start] ?? 0);
    const squares = (this.s2[end] ?? 0) - (this.s2[start] ?? 0);
    const cross = (this.s3[end] ?? 0) - (this.s3[start] ?? 0);
    const centre = (start + end - 1) / 2;
    const sii = (n * (n * n - 1)) / 12;
    const sxy = cross - centre * sum;
    return Math.max(0, squares - (sum * sum) / n - (sxy * sxy) / sii);
  }

  private grow(): void {
    const size = this.s1.length * 2;
    const grown = (a: Float64Array) => {
      const b = new Float64Array(size);
      b.set(a);
      return b;
    };
    this.s1 = grown(this.s1);
    this.s2 = grown(this.s2);
    this.s3 = grown(this.s3);
    this.values = grown(this.values);
    this.n1 = grown(this.n1);
    this.t1 = grown(this.t1);
    this.t2 = grown(this.t2);
    this.sampled = grown(this.sampled);
  }
}
