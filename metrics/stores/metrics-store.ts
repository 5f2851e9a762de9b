/**
 * Where points live. The SQL store (same database as builds) is the default; the InfluxDB store
 * sends them to InfluxDB. Every store passes the same conformance suite (test/integration/metrics-stores).
 */
import type { MetricPoint } from '../metric-point.ts';
import type { SeriesFilter } from '../series-filter.ts';
import { quantileFromPositions, quantilePositions, type Aggregates, type Statistics } from '../summary.ts';

export interface PointsPage {
  points: MetricPoint[];
  total: number;
}

/** One series' read in recentPoints(): its newest points, from a time on. */
export interface RecentPointsQuery {
  filter: SeriesFilter;
  /** Only points at or after this time (epoch µs, inclusive: the time itself is read again); absent: any time. */
  sinceUs?: number | undefined;
  /** At most this many: the newest. */
  limit: number;
}

export interface MetricsStore {
  readonly kind: 'sql' | 'influxdb';
  /** Smallest time difference the store keeps apart, in microseconds (its write precision). */
  readonly timeStepUs: number;
  /** Accepts points for storage; never throws for a store outage (points are kept and retried). */
  write(points: MetricPoint[]): Promise<void>;
  /** Sends whatever is buffered; resolves when delivered or safely spooled. */
  flush(): Promise<void>;
  aggregates(filter: SeriesFilter): Promise<Aggregates>;
  /** Values at 0-based positions of the filtered points sorted by value. */
  valuesAtPositions(filter: SeriesFilter, positions: number[], count: number): Promise<Map<number, number>>;
  /** Aggregates and percentiles ps (each in [0, 1]) together. */
  statistics(filter: SeriesFilter, ps: number[]): Promise<Statistics>;
  points(filter: SeriesFilter, page: { limit: number; offset: number; order: 'asc' | 'desc' }): Promise<PointsPage>;
  /**
   * For each query, its newest points (at most `limit`), oldest first; several series in one round
   * trip and without the count points() makes. The regression watcher reads what is new in every
   * series a build wrote with it at each build's end.
   */
  recentPoints(queries: readonly RecentPointsQuery[]): Promise<MetricPoint[][]>;
  /** Names of the series that have points with these tags. */
  seriesWith(tags: { builder?: string; step?: string }): Promise<string[]>;
  /** Every point a build produced (all series), found by its buildid field within its time span. */
  buildPoints(buildid: number, fromMs: number, toMs: number): Promise<MetricPoint[]>;
  close(): Promise<void>;
}

/** Exact statistics from a store's aggregates and the values at the percentiles' sorted positions. */
export async function exactStatistics(
  store: Pick<MetricsStore, 'aggregates' | 'valuesAtPositions'>,
  filter: SeriesFilter,
  ps: number[],
): Promise<Statistics> {
  const agg = await store.aggregates(filter);
  const values = await store.valuesAtPositions(
    filter,
    ps.flatMap((p) => quantilePositions(agg.count, p)),
    agg.count,
  );
  // A position the store could not answer (points deleted between the two queries) gives NaN, as before.
  const percentiles = ps.map((p) => quantileFromPositions(agg.count, p, (k) => values.get(k) ?? NaN));
  return { ...agg, percentiles, percentileError: 0 };
}
