/**
 * One measured value. measurement = series name; tags = builder, step, agent, result and user tags
 * (low cardinality); fields = value (always a float), build_number and buildid (always integers).
 * `time` is in microseconds and unique per series and tag set, since InfluxDB silently overwrites a
 * point with the same series, tags and time.
 */
export interface MetricPoint {
  series: string;
  /** Epoch microseconds. */
  time: number;
  value: number;
  tags: Record<string, string>;
  buildNumber: number | null;
  buildid: number | null;
  /**
   * Every sample of a measurement repeated within one build (MeasureShellCommand's `repeat`), in
   * run order; `value` is their median. Absent for a single measurement.
   */
  samples?: number[];
}

/** A point's samples as a store keeps them (a JSON array); text that is not one reads as no samples. */
export function parseSamples(text: string): number[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return Array.isArray(parsed) && parsed.every((x) => typeof x === 'number' && Number.isFinite(x)) ? (parsed as number[]) : undefined;
}

/** Canonical key of a series and tag set: points with the same key need distinct times. */
export function seriesKey(series: string, tags: Record<string, string>): string {
  // JSON, not "k=v" joined: a value holding "," or "=" cannot make two tag sets look alike.
  return JSON.stringify([
    series,
    ...Object.keys(tags)
      .sort()
      .map((k) => [k, tags[k]]),
  ]);
}

/**
 * Hands out strictly increasing microsecond timestamps per series key, `stepUs` apart at least, so
 * two points stay distinct at the store's precision (1 for µs, 1000 for ms, 1e6 for s).
 */
export class UniqueClock {
  private readonly last = new Map<string, number>();
  private lastPruned = 0;

  constructor(
    private readonly nowUs: () => number = () => Date.now() * 1000,
    private readonly stepUs = 1,
  ) {}

  next(key: string): number {
    const now = Math.floor(this.nowUs() / this.stepUs) * this.stepUs;
    const previous = this.last.get(key) ?? 0;
    const t = now > previous ? now : previous + this.stepUs;
    this.last.set(key, t);
    if (this.last.size > 10_000 && now - this.lastPruned > 60_000_000) this.prune(now);
    return t;
  }

  /** Keys whose last time is in the past can be forgotten: a later `now` is already unique. */
  private prune(now: number): void {
    this.lastPruned = now;
    for (const [k, t] of this.last) if (t < now - 1_000_000) this.last.delete(k);
  }
}
