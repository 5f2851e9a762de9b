/**
 * Points in InfluxDB, written as line protocol built with @influxdata/influxdb-client's Point.
 * Writes: InfluxDB 1.x `/write` (database, retention policy, user/password) or the v2 API
 * `/api/v2/write` (org, bucket, token) for InfluxDB 2.x/3.x. Queries: InfluxQL on `/query`, which
 * 1.x speaks natively and 2.x/3.x through their DBRP compatibility; aggregates are InfluxDB's own
 * (COUNT, MEAN, STDDEV, MIN, MAX, PERCENTILE), never a download of every point.
 *
 * Delivery states: buffered (in memory, up to batchSize or flushIntervalMs) -> sent, or on failure
 * -> spooled (SQL table, durable) -> re-sent by the retry loop with backoff until InfluxDB takes it.
 * Re-sending is safe: a point's series, tags and timestamp are fixed at capture, so InfluxDB
 * overwrites the same point instead of doubling it.
 */
import { Point } from '@influxdata/influxdb-client';
import type { Logger } from '../../master/logger.ts';
import { StoreUnavailableError } from '../../master/errors/index.ts';
import type { MetricPoint } from '../metric-point.ts';
import type { SeriesFilter } from '../series-filter.ts';
import type { Aggregates } from '../summary.ts';
import { fromWhere, ident, literal } from './influxql.ts';
import type { MetricSpool } from './metric-spool.ts';
import type { MetricsStore, PointsPage } from './metrics-store.ts';

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
}

class InfluxHttpError extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`InfluxDB answered ${status}: ${body.slice(0, 300)}`);
  }
  /**
   * Only a 400 (bad line protocol, a field type conflict) fails again the same way. Auth (401/403),
   * a missing database (404) or overload (429, 5xx) are fixed by an operator or by time: spool those.
   */
  get permanent(): boolean {
    return this.status === 400 || this.status === 413 || this.status === 422;
  }
}

function rowsToPoints(seriesName: string, series: { columns: string[]; values: unknown[][] }): MetricPoint[] {
  const col = (name: string) => series.columns.indexOf(name);
  const [ti, vi, bi, ii] = [col('time'), col('value'), col('build_number'), col('buildid')];
  return series.values
    .filter((row) => row[vi] !== null && row[vi] !== undefined)
    .map((row) => {
      const tags: Record<string, string> = {};
      series.columns.forEach((c, i) => {
        if (![ti, vi, bi, ii].includes(i) && row[i] !== null && row[i] !== undefined) tags[c] = String(row[i]);
      });
      return {
        series: seriesName,
        time: Number(row[ti]),
        value: Number(row[vi]),
        tags,
        buildNumber: bi >= 0 && row[bi] !== null ? Number(row[bi]) : null,
        buildid: ii >= 0 && row[ii] !== null ? Number(row[ii]) : null,
      };
    });
}

export class InfluxDbStore implements MetricsStore {
  readonly kind = 'influxdb' as const;
  readonly timeStepUs: number;
  private buffer: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = 500;
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
  }

  private get queryDatabase(): string {
    return (this.settings.database ?? this.settings.bucket) as string;
  }

  async start(): Promise<void> {
    if (this.settings.createDatabase && !this.settings.bucket && this.settings.database) {
      await this.query(`CREATE DATABASE ${ident(this.settings.database)}`).catch((e: unknown) =>
        this.log.warn('could not create the InfluxDB database (it may exist, or the user lacks rights)', { error: String(e) }),
      );
    }
    this.scheduleRetry(0);
  }

  /** `measurement,tags` as the client's Point escapes them, per series and tag set (few, reused). */
  private readonly prefixes = new Map<string, string>();

  toLine(p: MetricPoint): string {
    const tags = Object.entries(p.tags);
    let key = p.series;
    for (const [k, v] of tags) key += `\u0000${k}\u0000${v}`;
    let prefix = this.prefixes.get(key);
    if (prefix === undefined) {
      const point = new Point(p.series);
      for (const [k, v] of tags) point.tag(k, v);
      const line = point.floatField('value', 0).toLineProtocol() as string;
      prefix = line.slice(0, line.lastIndexOf(' value='));
      if (this.prefixes.size > 10_000) this.prefixes.clear();
      this.prefixes.set(key, prefix);
    }
    // Fields as Point writes them: value a float, build_number and buildid integers (suffix i).
    let fields = `value=${String(p.value)}`;
    if (p.buildNumber !== null) fields += `,build_number=${Math.trunc(p.buildNumber)}i`;
    if (p.buildid !== null) fields += `,buildid=${Math.trunc(p.buildid)}i`;
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
    for (const p of points) this.buffer.push(this.toLine(p));
    if (this.buffer.length >= this.settings.batchSize) {
      void this.flush();
      // Let the batch's request start now: a caller capturing in a tight loop would otherwise keep
      // the event loop busy and every batch would wait for the loop's end.
      await new Promise((resolve) => setImmediate(resolve));
    } else this.timer ??= setTimeout(() => void this.flush(), this.settings.flushIntervalMs);
  }

  /** Sends the buffer; a batch InfluxDB does not take is spooled. Never rejects for an outage. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const lines = this.buffer;
    this.buffer = [];
    if (lines.length > 0) {
      this.sending = this.sending.then(async () => {
        for (let i = 0; i < lines.length; i += this.settings.batchSize) await this.deliverOrSpool(lines.slice(i, i + this.settings.batchSize));
      });
    }
    return this.sending;
  }

  private async deliverOrSpool(lines: string[]): Promise<void> {
    try {
      await this.send(lines);
    } catch (e) {
      if (e instanceof InfluxHttpError && e.permanent) {
        this.log.error('InfluxDB refused points; they are dropped', { points: lines.length, error: e.message });
        return;
      }
      this.log.warn('InfluxDB unreachable; spooling points', { points: lines.length, error: String(e) });
      await this.spool.add(lines, this.now());
      this.scheduleRetry(this.retryDelayMs);
    }
  }

  private async send(lines: string[]): Promise<void> {
    const s = this.settings;
    const base = s.url.replace(/\/+$/, '');
    let url: string;
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
    if (s.bucket) {
      url = `${base}/api/v2/write?${new URLSearchParams({ org: s.org ?? '', bucket: s.bucket, precision: s.precision === 'u' ? 'us' : s.precision })}`;
      if (s.token) headers.authorization = `Token ${s.token}`;
    } else {
      const params = new URLSearchParams({ db: s.database ?? '', precision: s.precision });
      if (s.retentionPolicy) params.set('rp', s.retentionPolicy);
      url = `${base}/write?${params}`;
      this.addV1Auth(headers);
    }
    const res = await fetch(url, { method: 'POST', headers, body: lines.join('\n'), signal: AbortSignal.timeout(15_000) });
    if (res.status !== 204 && res.status !== 200) throw new InfluxHttpError(res.status, await res.text());
    await res.arrayBuffer().catch(() => undefined);
    this.delivered += lines.length;
  }

  private addV1Auth(headers: Record<string, string>): void {
    const s = this.settings;
    if (s.token) headers.authorization = `Token ${s.token}`;
    else if (s.username) headers.authorization = `Basic ${Buffer.from(`${s.username}:${s.password ?? ''}`).toString('base64')}`;
  }

  private scheduleRetry(delayMs: number): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.drainSpool();
    }, delayMs);
  }

  /** Re-sends spooled batches oldest first; stops at the first failure and backs off. */
  async drainSpool(): Promise<number> {
    let sent = 0;
    for (;;) {
      const rows = await this.spool.oldest(10);
      if (rows.length === 0) {
        this.retryDelayMs = 500;
        return sent;
      }
      for (const row of rows) {
        try {
          await this.send(row.lines.split('\n'));
        } catch (e) {
          if (e instanceof InfluxHttpError && e.permanent) {
            this.log.error('InfluxDB refused spooled points; they are dropped', { points: row.points, error: e.message });
            await this.spool.remove(row.id);
            continue;
          }
          this.retryDelayMs = Math.min(this.retryDelayMs * 2, 30_000);
          this.scheduleRetry(this.retryDelayMs);
          return sent;
        }
        await this.spool.remove(row.id);
        sent += row.points;
      }
    }
  }

  /** Runs an InfluxQL statement on /query; returns the first result's series. */
  async query(q: string): Promise<{ name?: string; columns: string[]; values: unknown[][]; tags?: Record<string, string> }[]> {
    const s = this.settings;
    const params = new URLSearchParams({ db: this.queryDatabase, q, epoch: 'u' });
    if (s.retentionPolicy) params.set('rp', s.retentionPolicy);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    this.addV1Auth(headers);
    let res: Response;
    try {
      res = await fetch(`${s.url.replace(/\/+$/, '')}/query`, { method: 'POST', headers, body: params, signal: AbortSignal.timeout(60_000) });
    } catch (e) {
      throw new StoreUnavailableError(`InfluxDB at ${s.url} cannot be reached: ${(e as Error).cause ? String((e as Error & { cause: unknown }).cause) : String(e)}`);
    }
    const text = await res.text();
    if (res.status !== 200) throw new InfluxHttpError(res.status, text);
    const body = JSON.parse(text) as { results?: { error?: string; series?: { name?: string; columns: string[]; values: unknown[][] }[] }[]; error?: string };
    const first = body.results?.[0];
    if (body.error || first?.error) throw new Error(`InfluxQL error: ${body.error ?? first?.error} (query: ${q})`);
    return first?.series ?? [];
  }

  async aggregates(filter: SeriesFilter): Promise<Aggregates> {
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

  async buildPoints(buildid: number, fromMs: number, toMs: number): Promise<MetricPoint[]> {
    await this.flush();
    const rp = this.settings.retentionPolicy ? `${ident(this.settings.retentionPolicy)}.` : '';
    const rows = await this.query(
      `SELECT * FROM ${rp}/.*/ WHERE time >= ${BigInt(Math.trunc(fromMs)) * 1_000_000n} AND time <= ${BigInt(Math.trunc(toMs)) * 1_000_000n + 999_999n} AND "buildid" = ${Math.trunc(buildid)}`,
    );
    return rows.flatMap((s) => rowsToPoints(s.name ?? '', s));
  }

  async seriesWith(tags: { builder?: string; step?: string }): Promise<string[]> {
    await this.flush();
    const where = Object.entries(tags)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${ident(k)} = ${literal(v as string)}`);
    const rows = await this.query(`SHOW MEASUREMENTS${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}`);
    return (rows[0]?.values ?? []).map((v) => String(v[0]));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.flush();
  }
}
