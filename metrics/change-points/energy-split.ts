/**
 * E-divisive means (Matteson & James, 2014): the candidate change point of an interval is the split
 * τ that, with some end κ, maximises the energy statistic between X = v[a, τ) and Y = v[τ, κ):
 *
 *   Q(τ, κ) = 2/(n+m) Σ|X−Y| − 2m/((n+m)(n−1)) Σ_{i<k}|X_i−X_k| − 2n/((n+m)(m−1)) Σ_{j<k}|Y_j−Y_k|
 *
 * with n = |X|, m = |Y| (distance exponent 1). Column prefix sums of the pairwise distances make
 * every Q(τ, κ) of a window O(1), so one interval costs O(L²), not O(L³). Ties go to the smallest τ
 * (then κ): the same input always gives the same candidate.
 */

export interface Candidate {
  /** First index of the segment after the change. */
  index: number;
  qhat: number;
}

/** Pairwise distances of one window, summed down each column, shared by every interval inside it. */
export class WindowDistances {
  private readonly prefix: Float64Array;
  private readonly size: number;

  constructor(
    values: Float64Array,
    readonly start: number,
    readonly end: number,
  ) {
    const size = end - start;
    this.size = size;
    // prefix[j * (size + 1) + i] = Σ_{i' in [0, i)} |v[start+i'] − v[start+j]|
    this.prefix = new Float64Array(size * (size + 1));
    for (let j = 0; j < size; j++) {
      const vj = values[start + j] ?? 0;
      const row = j * (size + 1);
      let acc = 0;
      for (let i = 0; i < size; i++) {
        acc += Math.abs((values[start + i] ?? 0) - vj);
        this.prefix[row + i + 1] = acc;
      }
    }
  }

  /** Σ_{i in [a, b)} |v_i − v_j|, indices absolute. */
  column(j: number, a: number, b: number): number {
    const row = (j - this.start) * (this.size + 1);
    return (this.prefix[row + b - this.start] ?? 0) - (this.prefix[row + a - this.start] ?? 0);
  }

  /** The best split of [a, b) with at least `minSize` points on each side, or null if none fits. */
  bestSplit(a: number, b: number, minSize: number): Candidate | null {
    let best: Candidate | null = null;
    let withinX = 0; // Σ_{a ≤ i < k < τ} |v_i − v_k|
    for (let tau = a + 1; tau <= b - minSize; tau++) {
      withinX += this.column(tau - 1, a, tau - 1);
      const n = tau - a;
      if (n < minSize) continue;
      let cross = 0;
      let withinY = 0;
      for (let kappa = tau + 1; kappa <= b; kappa++) {
        // Y grows by v[kappa - 1].
        cross += this.column(kappa - 1, a, tau);
        withinY += this.column(kappa - 1, tau, kappa - 1);
        const m = kappa - tau;
        if (m < minSize) continue;
        const total = n + m;
        const q =
          (2 / total) * cross -
          (n > 1 ? ((2 * m) / (total * (n - 1))) * withinX : 0) -
          (m > 1 ? ((2 * n) / (total * (m - 1))) * withinY : 0);
        if (best === null || q > best.qhat) best = { index: tau, qhat: q };
      }
    }
    return best;
  }
}
