/**
 * Prefix sums of a growing series, so the mean and variance of any segment cost O(1): the merge
 * step of the detector re-tests segments many times, and a new point must not mean a pass over
 * all history. Values are shifted by the first one before summing: sums of squares of raw values
 * (byte sizes near 1e9, say) would cancel catastrophically in `S2 - S1²/n`.
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
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** The values so far (a view: valid until the next append). */
  view(): Float64Array {
    return this.values.subarray(0, this.count);
  }

  append(value: number): void {
    if (this.count === 0) this.shift = value;
    if (this.count + 1 >= this.s1.length) this.grow();
    const d = value - this.shift;
    this.values[this.count] = value;
    this.s1[this.count + 1] = (this.s1[this.count] ?? 0) + d;
    this.s2[this.count + 1] = (this.s2[this.count] ?? 0) + d * d;
    this.s3[this.count + 1] = (this.s3[this.count] ?? 0) + this.count * d;
    this.count++;
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
  }
}
