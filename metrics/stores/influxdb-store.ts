/**
 * Points in InfluxDB, written as line protocol built with @influxdata/influxdb-client's Point (HTTP in
 * influx-http.ts). Aggregates are InfluxDB's own (COUNT, MEAN, STDDEV, MIN, MAX, PERCENTILE), never a
 * download of every point; filters over more than `exactSummaryLimit` points are answered from the
 * rollup rows each batch carries (rollup*.ts).
 *
 * Delivery states: buffered (in memory, up to batchSize or flushIntervalMs) -> sent, or on failure
 * -> spooled (SQL table, durable) -> re-sent by the retry loop with backoff (core/retry.ts) until
 * InfluxDB takes it.
 * Re-sending is safe: a point's series, tags and timestamp are fixed at capture, so InfluxDB
 * overwrites the same point instead of doubling it.
 */
import { Point } from '@influxdata/influxdb-client';
import type { Logger } from '../../core/logger.ts';
import { Backoff } from '../../core/retry.ts';
import { parseSamples, type MetricPoint } from '../metric-point.ts';
import type { SeriesFilter } from '../series-filter.ts';
import { quantileFromPositions, quantilePositions, type Aggregates, type Statistics } from '../summary.ts';
import { InfluxHttp, InfluxHttpError, type InfluxSeries } from './influx-http.ts';
import { fromWhere, ident, literal } from './influxql.ts';
import type { MetricSpool } from './metric-spool.ts';
import { exactStatistics, type MetricsStore, type PointsPage, type RecentPointsQuery } from './metrics-store.ts';
import { COVERAGE_MEASUREMENT, ROLLUP_MEASUREMENT, SKETCH_ACCURACY } from './rollup.ts';
import { readRollups, rollupAggregates, type RollupAnswer } from './rollup-reader.ts';
import { fieldlessLine, RollupWriter } from './rollup-writer.ts';

export type InfluxPrecision = 'ns' | 'u' | 'ms' | 's';
const STEP_US: Record<InfluxPrecision, number> = { ns: 1, u: 1, ms: 1000, s: 1_000_000 };

export interface InfluxDbSettings {
  url: string;
  /** InfluxDB 1.x database (also the query database for 2.x/3.x when `bucket` is not given). */
  database?: string | undefined;
  retentionPolicy?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  /** InfluxDB 2.x/3.x: writes go to /api/v2/write. */
  bucket?: string | undefined;
  org?: string | undefined;
  token?: string | undefined;
  precision: InfluxPrecision;
  batchSize: number;
  flushIntervalMs: number;
  /** Create the 1.x database at start-up if missing (needs admin rights; failures are ignored). */
  createDatabase: boolean;
  /** Filters with more points than this are summarised from rollups (percentiles then approximate). */
  exactSummaryLimit: number;
}

/** A batch as sent: its points' lines, then the rollup rows that count them. */
interface Batch {
  lines: string[];
  points: number;
}

function rowsToPoints(seriesName: string, series: { columns: string[]; values: unknown[][] }): MetricPoint[] {
  const col = (name: string) => series.columns.indexOf(name);
  const [ti, vi, bi, ii, si] = [col('time'), col('value'), col('build_number'), col('buildid'), col('samples')];
  return series.values
    .filter((row) => row[vi] !== null && row[vi] !== undefined)
    .map((row) => {
      const tags: Record<string, string> = {};
      series.columns.forEach((c, i) => {
        if (![ti, vi, bi, ii, si].includes(i) && row[i] !== null && row[i] !== undefined) tags[c] = String(row[i]);
      });
      const samples = si >= 0 && typeof row[si] === 'string' ? parseSamples(row[si]) : undefined;
      return {
        series: seriesName,
        time: Number(row[ti]),
        value: Number(row[vi]),
        tags,
        buildNumber: bi >= 0 && row[bi] !== null ? Number(row[bi]) : null,
        buildid: ii >= 0 && row[ii] !== null ? Number(row[ii]) : null,
        ...(samples ? { samples } : {}),
      };
    });
}

export class InfluxDbStore implements MetricsStore {
  readonly kind = 'influxdb' as const;
  readonly timeStepUs: number;
  /** Lines of the batch being filled, and the batches filled and not yet handed to the sender. */
  private pending: string[] = [];
  private sealed: Batch[] = [];
  /** True while this process has spooled batches not yet re-sent: new batches queue behind them. */
  private backlog = false;
  private readonly rollups: RollupWriter;
  private readonly http: InfluxHttp;
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | null = null;
  /** Between re-sends of the spool while InfluxDB (or the spool's table) stays away: 0.5 s doubling to 30 s. */
  private readonly backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
  private closed = false;
  /** Points handed to InfluxDB successfully, for operators and benchmarks. */
  delivered = 0;

  constructor(
    private readonly settings: InfluxDbSettings,
    private readonly spool: MetricSpool,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.timeStepUs = STEP_US[settings.precision];
    this.http = new InfluxHttp(settings);
    this.rollups = new RollupWriter({
      stepUs: this.timeStepUs,
      timestamp: (us) => this.timestamp(us),
      coverage: (series, firstUs) => this.coverageOf(series, firstUs),
      onMark: () => {
        if (!this.closed) this.timer ??= setTimeout(() => void this.flush(), this.settings.flushIntervalMs);
      },
      now,
    });
  }

  /** Runs an InfluxQL statement on /query; returns the first result's series. */
  query(q: string): Promise<InfluxSeries[]> {
    return this.http.query(q);
  }

  private async send(batch: Batch): Promise<void> {
    await this.http.write(batch.lines);
    this.delivered += batch.points;
  }

  async start(): Promise<void> {
    if (this.settings.createDatabase && !this.settings.bucket && this.settings.database) {
      await this.query(`CREATE DATABASE ${ident(this.settings.database)}`).catch((e: unknown) =>
        this.log.warn('could not create the InfluxDB database (it may exist, or the user lacks rights)', { error: String(e) }),
      );
    }
    this.scheduleRetry(true);
  }

  /** `measurement,tags` as the client's Point escapes them, per series and tag set (few, reused). */
  private readonly prefixes = new Map<string, string>();

  /** Series and tags, in a fixed order: `{a, b}` and `{b, a}` are one series (and one rollup cell). */
  private seriesKey(p: MetricPoint): string {
    let key = p.series;
    for (const k of Object.keys(p.tags).sort()) key += `\u0000${k}\u0000${p.tags[k]}`;
    return key;
  }

  toLine(p: MetricPoint, key = this.seriesKey(p)): string {
    let prefix = this.prefixes.get(key);
    if (prefix === undefined) {
      const point = new Point(p.series);
      for (const [k, v] of Object.entries(p.tags)) point.tag(k, v);
      prefix = fieldlessLine(point);
      if (this.prefixes.size > 10_000) this.prefixes.clear();
      this.prefixes.set(key, prefix);
    }
    // Fields as Point writes them: value a float, build_number and buildid integers (suffix i).
    let fields = `value=${String(p.value)}`;
    if (p.buildNumber !== null) fields += `,build_number=${Math.trunc(p.buildNumber)}i`;
    if (p.buildid !== null) fields += `,buildid=${Math.trunc(p.buildid)}i`;
    // A string field: JSON of finite numbers holds no quote or backslash to escape.
    if (p.samples) fields += `,samples="${JSON.stringify(p.samples)}"`;
    return `${prefix} ${fields} ${this.timestamp(p.time)}`;
  }

  private timestamp(us: number): string {
    switch (this.settings.precision) {
      case 'ns':
        return `${BigInt(us) * 1000n}`;
      case 'u':
        return `${us}`;
      case 'ms':
        return `${Math.floor(us / 1000)}`;
      case 's':
        return `${Math.floor(us / 1_000_000)}`;
      default: {
        const never: never = this.settings.precision;
        return never;
      }
    }
  }

  async write(points: MetricPoint[]): Promise<void> {
    for (const p of points) {
      const key = this.seriesKey(p);
      this.pending.push(this.toLine(p, key));
      this.rollups.add(p, key);
      if (this.pending.length >= this.settings.batchSize) this.seal();
    }
    if (this.sealed.length > 0) {
      void this.flush();
      // Let the batch's request start now: a caller capturing in a tight loop would otherwise keep
      // the event loop busy and every batch would wait for the loop's end.
      await new Promise((resolve) => setImmediate(resolve));
    } else this.timer ??= setTimeout(() => void this.flush(), this.settings.flushIntervalMs);
  }

  /** Closes the batch being filled: its points plus the current rows of the rollup cells they touched. */
  private seal(): void {
    const rollupLines = this.rollups.takeLines();
    if (this.pending.length + rollupLines.length === 0) return;
    this.sealed.push({ lines: [...this.pending, ...rollupLines], points: this.pending.length });
    this.pending = [];
  }

  /** Sends every batch, in order; a batch InfluxDB does not take is spooled. Never rejects for an outage. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.seal();
    const batches = this.sealed;
    this.sealed = [];
    for (const batch of batches) {
      // The chain never rejects: one failed batch must not take the ones behind it down with it.
      this.sending = this.sending
        .then(() => this.deliverOrSpool(batch))
        .catch((e: unknown) => this.log.error('metrics batch lost', { points: batch.points, error: String(e) }));
    }
    return this.sending;
  }

  private async deliverOrSpool(batch: Batch): Promise<void> {
    if (!this.backlog) {
      try {
        await this.send(batch);
        return;
      } catch (e) {
        if (e instanceof InfluxHttpError && e.permanent) {
          this.log.error('InfluxDB refused points; they are dropped', { points: batch.points, error: e.message });
          return;
        }
        this.log.warn('InfluxDB unreachable; spooling points', { points: batch.points, error: String(e) });
      }
    }
    // Behind spooled batches: rollup rows are cumulative, so an older row must never land after a newer one.
    try {
      await this.spool.add(batch.lines, this.now(), batch.points);
    } catch (e) {
      // The SQL database failed too: sending out of order beats losing the points.
      this.log.error('could not spool points; sending them directly', { points: batch.points, error: String(e) });
      this.scheduleRetry();
      await this.send(batch);
      return;
    }
    this.backlog = true;
    this.scheduleRetry();
  }

  /** A re-send of the spool after the backoff's next delay (`now`: at once), unless one is already due. */
  private scheduleRetry(now = false): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null;
        void this.drainSpool();
      },
      now ? 0 : this.backoff.next(),
    );
  }

  /** Re-sends spooled batches oldest first, in the send queue; stops at the first failure and backs off. */
  drainSpool(): Promise<number> {
    const drained = this.sending
      .then(() => this.drainNow())
      .catch((e: unknown) => {
        this.log.error('could not read the metric spool; retrying', { error: String(e) });
        this.scheduleRetry();
        return 0;
      });
    this.sending = drained.then(
      () => undefined,
      () => undefined,
    );
    return drained;
  }

  private async drainNow(): Promise<number> {
    let sent = 0;
    for (;;) {
      const rows = await this.spool.oldest(10);
      if (rows.length === 0) {
        this.backoff.reset();
        this.backlog = false;
        return sent;
      }
      for (const row of rows) {
        try {
          await this.send({ lines: row.lines.split('\n'), points: row.points });
        } catch (e) {
          if (e instanceof InfluxHttpError && e.permanent) {
            this.log.error('InfluxDB refused spooled points; they are dropped', { points: row.points, error: e.message });
            await this.spool.remove(row.id);
            continue;
          }
          this.scheduleRetry();
          return sent;
        }
        await this.spool.remove(row.id);
        sent += row.points;
      }
    }
  }

  /** The filter answered from rollups when it holds more than `exactSummaryLimit` points, else null. */
  private async fromRollups(filter: SeriesFilter, sketches: boolean): Promise<RollupAnswer | null> {
    await this.flush();
    return readRollups((q) => this.query(q), filter, {
      retentionPolicy: this.settings.retentionPolicy,
      above: this.settings.exactSummaryLimit,
      sketches,
    });
  }

  async aggregates(filter: SeriesFilter): Promise<Aggregates> {
    const rolled = await this.fromRollups(filter, false);
    return rolled ? rollupAggregates(rolled) : this.rawAggregates(filter);
  }

  async statistics(filter: SeriesFilter, ps: number[]): Promise<Statistics> {
    const rolled = await this.fromRollups(filter, true);
    const sketch = rolled?.sketch;
    const positions = { valuesAtPositions: (f: SeriesFilter, k: number[], n: number) => this.valuesAtPositions(f, k, n) };
    if (!rolled) return exactStatistics({ ...positions, aggregates: (f) => this.rawAggregates(f) }, filter, ps);
    if (!sketch) return exactStatistics({ ...positions, aggregates: () => Promise.resolve(rollupAggregates(rolled)) }, filter, ps);
    const { n, min, max } = rolled.moments;
    // The value at each sorted position from the sketch (within SKETCH_ACCURACY; the extremes exact),
    // then R-7's interpolation between the two positions as for exact values. Quantile (k + 0.5)/(n - 1)
    // is rank k + 0.5: the bin holding position k, clear of rounding at the bin's edge.
    const valueAt = (k: number) =>
      k === 0 ? min : k === n - 1 ? max : Math.min(max, Math.max(min, sketch.getValueAtQuantile((k + 0.5) / (n - 1))));
    // Interpolating between a negative and a positive neighbour can land near 0, where an error of
    // 0.1% of the neighbours is no longer 0.1% of the result: those positions are read exactly.
    const straddling = ps.flatMap((p) => {
      const ks = quantilePositions(n, p);
      const [lower, upper] = ks;
      return ks.length === 2 && lower !== undefined && upper !== undefined && valueAt(lower) < 0 && valueAt(upper) > 0 ? ks : [];
    });
    const exact = straddling.length > 0 ? await this.valuesAtPositions(filter, straddling, n) : new Map<number, number>();
    const percentiles = ps.map((p) => quantileFromPositions(n, p, (k) => exact.get(k) ?? valueAt(k)));
    return { ...rollupAggregates(rolled), percentiles, percentileError: SKETCH_ACCURACY };
  }

  private async rawAggregates(filter: SeriesFilter): Promise<Aggregates> {
    await this.flush();
    const rows = await this.query(
      `SELECT COUNT("value"), MEAN("value"), STDDEV("value"), MIN("value"), MAX("value") ${fromWhere(filter, this.settings.retentionPolicy)}`,
    );
    const v = rows[0]?.values[0];
    if (!v) return { count: 0, average: null, deviation: null, minimum: null, maximum: null };
    const num = (x: unknown) => (x === null || x === undefined ? null : Number(x));
    const count = Number(v[1] ?? 0);
    return { count, average: num(v[2]), deviation: count > 1 ? num(v[3]) : null, minimum: num(v[4]), maximum: num(v[5]) };
  }

  async valuesAtPositions(filter: SeriesFilter, positions: number[], count: number): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    const unique = [...new Set(positions)];
    if (unique.length === 0 || count === 0) return out;
    await this.flush();
    // PERCENTILE(v, N) returns the value at 0-based index floor(n*N/100 + 0.5) - 1: N = 100(k+1)/n is k.
    const selectors = unique.map((k, i) => `PERCENTILE("value", ${(100 * (k + 1)) / count}) AS p${i}`).join(', ');
    const rows = await this.query(`SELECT ${selectors} ${fromWhere(filter, this.settings.retentionPolicy)}`);
    const v = rows[0]?.values[0] ?? [];
    unique.forEach((k, i) => {
      const value = v[i + 1];
      if (value !== null && value !== undefined) out.set(k, Number(value));
    });
    return out;
  }

  async points(filter: SeriesFilter, page: { limit: number; offset: number; order: 'asc' | 'desc' }): Promise<PointsPage> {
    const agg = await this.aggregates(filter);
    const rows = await this.query(
      `SELECT * ${fromWhere(filter, this.settings.retentionPolicy)} ORDER BY time ${page.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ${page.limit} OFFSET ${page.offset}`,
    );
    const series = rows[0];
    return { points: series ? rowsToPoints(filter.series, series) : [], total: agg.count };
  }

  /**
   * Each query a SELECT of its newest points, all in one /query request; none asks for the count (in
   * points() that is an aggregate, read from the rollups for a long series).
   */
  async recentPoints(queries: readonly RecentPointsQuery[]): Promise<MetricPoint[][]> {
    if (queries.length === 0) return [];
    await this.flush();
    const statements = queries.map((q) => {
      const since = q.sinceUs === undefined ? [] : [`time >= ${BigInt(Math.trunc(q.sinceUs)) * 1000n}`];
      const where = fromWhere(q.filter, this.settings.retentionPolicy, since);
      return `SELECT * ${where} ORDER BY time DESC LIMIT ${Math.max(0, Math.trunc(q.limit))}`;
    });
    const answers = await this.http.queryAll(statements);
    return queries.map((q, i) => {
      const series = answers[i]?.[0];
      return series ? rowsToPoints(q.filter.series, series).reverse() : [];
    });
  }

  async buildPoints(buildid: number, fromMs: number, toMs: number): Promise<MetricPoint[]> {
    await this.flush();
    const rp = this.settings.retentionPolicy ? `${ident(this.settings.retentionPolicy)}.` : '';
    const rows = await this.query(
      `SELECT * FROM ${rp}/.*/ WHERE time >= ${BigInt(Math.trunc(fromMs)) * 1_000_000n} AND time <= ${BigInt(Math.trunc(toMs)) * 1_000_000n + 999_999n} AND "buildid" = ${Math.trunc(buildid)}`,
    );
    return rows.flatMap((s) => rowsToPoints(s.name ?? '', s));
  }

  /**
   * From when (µs) rollups hold every point of the series: an earlier mark if any, else 0 when no
   * point older than this process's first one exists (a new series), else that first point's time.
   */
  private async coverageOf(series: string, firstUs: number): Promise<number> {
    const rp = this.settings.retentionPolicy ? `${ident(this.settings.retentionPolicy)}.` : '';
    const mark = (await this.query(`SELECT MIN("since") FROM ${rp}${ident(COVERAGE_MEASUREMENT)} WHERE "series" = ${literal(series)}`))[0]
      ?.values[0]?.[1];
    if (mark !== null && mark !== undefined) return Number(mark);
    const older = (
      await this.query(`SELECT COUNT("value") FROM ${rp}${ident(series)} WHERE time < ${BigInt(Math.trunc(firstUs)) * 1000n}`)
    )[0]?.values[0]?.[1];
    return Number(older ?? 0) === 0 ? 0 : firstUs;
  }

  async seriesWith(tags: { builder?: string; step?: string }): Promise<string[]> {
    await this.flush();
    const where = Object.entries(tags)
      .filter((tag): tag is [string, string] => tag[1] !== undefined)
      .map(([k, v]) => `${ident(k)} = ${literal(v)}`);
    const rows = await this.query(`SHOW MEASUREMENTS${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}`);
    const names = (rows[0]?.values ?? [])
      .map((v) => String(v[0]))
      .filter((name) => name !== ROLLUP_MEASUREMENT && name !== COVERAGE_MEASUREMENT);
    if (where.length < 2) return names;
    // SHOW MEASUREMENTS matches each tag on any series of a measurement (builder=app on one series,
    // step=test on another both count): keep the measurements where one series has them all.
    const kept: string[] = [];
    for (const name of names) {
      const series = await this.query(`SHOW SERIES FROM ${ident(name)} WHERE ${where.join(' AND ')} LIMIT 1`);
      if ((series[0]?.values ?? []).length > 0) kept.push(name);
    }
    return kept;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.flush();
  }
}
