/**
 * Answers a filter from rollups: whole hours from `caliper_rollup` rows, the rest (a partial hour at
 * either end of a time range, or points older than the series' coverage mark) from the raw points with
 * InfluxDB's own aggregates. Null when rollups cannot answer: no coverage mark, or no whole hour.
 */
import type { DDSketch } from '@datadog/sketches-js';
import type { SeriesFilter } from '../series-filter.ts';
import type { Aggregates } from '../summary.ts';
import type { InfluxSeries } from './influx-http.ts';
import { ident, literal, tagConditions } from './influxql.ts';
import {
  COVERAGE_MEASUREMENT,
  fits,
  MAX_MERGED_BINS,
  mergeRows,
  type Moments,
  ROLLUP_BUCKET_US,
  ROLLUP_FIELDS,
  ROLLUP_MEASUREMENT,
} from './rollup.ts';

/** Raw points outside whole hours are downloaded into the sketch only up to this many. */
const RAW_SKETCH_LIMIT = 50_000;

export type InfluxQuery = (q: string) => Promise<InfluxSeries[]>;

export interface RollupAnswer {
  moments: Moments;
  /** Null when some part has no sketch (too big, or too many raw points): percentiles need the raw path. */
  sketch: DDSketch | null;
}

const ns = (us: number) => `${BigInt(Math.trunc(us)) * 1000n}`;

export interface RollupRead {
  retentionPolicy?: string | undefined;
  /** Answer only for more points than this (else null, before any raw values are downloaded). */
  above: number;
  /** Read the sketches too (percentiles); without them `sketch` is null. */
  sketches: boolean;
}

export async function readRollups(query: InfluxQuery, filter: SeriesFilter, read: RollupRead): Promise<RollupAnswer | null> {
  const rp = read.retentionPolicy ? `${ident(read.retentionPolicy)}.` : '';
  const series = `${ident('series')} = ${literal(filter.series)}`;
  const mark = (await query(`SELECT MIN("since") FROM ${rp}${ident(COVERAGE_MEASUREMENT)} WHERE ${series}`))[0]?.values[0]?.[1];
  if (mark === null || mark === undefined) return null;
  const sinceUs = Number(mark);
  const fromUs = filter.from === undefined ? -Infinity : filter.from * 1000;
  const toUs = filter.to === undefined ? Infinity : filter.to * 1000 + 999; // inclusive
  const coveredFrom = Math.max(fromUs, sinceUs > 0 ? sinceUs : -Infinity);
  const firstHour = Number.isFinite(coveredFrom) ? Math.ceil(coveredFrom / ROLLUP_BUCKET_US) * ROLLUP_BUCKET_US : -Infinity;
  const endHour = Number.isFinite(toUs) ? Math.floor((toUs + 1) / ROLLUP_BUCKET_US) * ROLLUP_BUCKET_US : Infinity; // exclusive
  if (!(firstHour < endHour)) return null;

  const tags = tagConditions(filter);
  const where = (times: string[]) => [...tags, ...times].join(' AND ');
  const hourTimes = [
    ...(Number.isFinite(firstHour) ? [`time >= ${ns(firstHour)}`] : []),
    ...(Number.isFinite(endHour) ? [`time < ${ns(endHour)}`] : []),
  ];
  // The raw parts: [from, firstHour) and [endHour, to].
  const rawParts: string[][] = [];
  if (firstHour > fromUs) rawParts.push([...(Number.isFinite(fromUs) ? [`time >= ${ns(fromUs)}`] : []), `time < ${ns(firstHour)}`]);
  if (Number.isFinite(endHour) && endHour <= toUs)
    rawParts.push([`time >= ${ns(endHour)}`, ...(Number.isFinite(toUs) ? [`time <= ${ns(toUs)}`] : [])]);

  const raw = `FROM ${rp}${ident(filter.series)}`;
  const [rollupRows, ...rawAggregates] = await Promise.all([
    query(
      `SELECT ${ROLLUP_FIELDS.slice(0, read.sketches ? 6 : 5)
        .map(ident)
        .join(', ')} FROM ${rp}${ident(ROLLUP_MEASUREMENT)} WHERE ${where([series, ...hourTimes])}`,
    ),
    // InfluxQL 1.x takes no OR between time conditions: one query per part.
    ...rawParts.map((times) =>
      query(`SELECT COUNT("value"), MEAN("value"), STDDEV("value"), MIN("value"), MAX("value") ${raw} WHERE ${where(times)}`),
    ),
  ]);
  const first = rollupRows[0];
  if (!first) return null; // no rows in whole hours: nothing to gain
  const answer: RollupAnswer = mergeRows(first.columns, first.values);
  if (!read.sketches) answer.sketch = null;

  let rawCount = 0;
  for (const rows of rawAggregates) {
    const v = rows[0]?.values[0];
    const n = Number(v?.[1] ?? 0);
    if (!v || n === 0) continue;
    rawCount += n;
    const sd = v[3] === null || v[3] === undefined ? 0 : Number(v[3]);
    answer.moments.merge({ n, mean: Number(v[2]), m2: sd * sd * (n - 1), min: Number(v[4]), max: Number(v[5]) });
  }
  if (answer.moments.n <= read.above) return null;
  if (answer.sketch && rawCount > 0) {
    if (rawCount > RAW_SKETCH_LIMIT) answer.sketch = null;
    else {
      const values = (await Promise.all(rawParts.map((times) => query(`SELECT "value" ${raw} WHERE ${where(times)}`)))).flatMap((rows) =>
        (rows[0]?.values ?? []).filter((row) => row[1] !== null && row[1] !== undefined).map((row) => Number(row[1])),
      );
      const sketch = answer.sketch;
      // All of them (a server's max-row-limit may cut an answer short), and none too far from the rest.
      answer.sketch =
        values.length === rawCount && values.every((v) => fits(sketch, v, MAX_MERGED_BINS) && (sketch.accept(v), true)) ? sketch : null;
    }
  }
  return answer;
}

export function rollupAggregates({ moments: m }: RollupAnswer): Aggregates {
  return { count: m.n, average: m.mean, deviation: m.deviation, minimum: m.min, maximum: m.max };
}
