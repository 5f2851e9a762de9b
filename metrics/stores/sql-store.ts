/**
 * The default metrics store: points in the `metric_points` table of the master's own database.
 * Writes are buffered and inserted in batches; a query flushes first, so it sees every point
 * captured before it. A batch the database cannot take because it is away (a restarting PostgreSQL,
 * a locked or full SQLite file: core/transient-error.ts) waits in memory, oldest first and at most
 * MAX_WAITING_POINTS, and is inserted again with a growing delay (core/retry.ts) until the database
 * is back; a batch that fails otherwise (the rows or the statement) is dropped with an error in the
 * log (retrying could not help). Aggregates are SQL's own (PostgreSQL's stddev_samp and
 * percentile_disc; on SQLite a second pass for the deviation and an ordered offset per percentile
 * position).
 */
import type { DataSource, Repository, SelectQueryBuilder } from 'typeorm';
import { z } from 'zod';
import type { DbKind, MetricPointRow } from '../../master/db/index.ts';
import type { Logger } from '../../core/logger.ts';
import { Backoff } from '../../core/retry.ts';
import { isTransientError } from '../../core/transient-error.ts';
import { parseSamples, type MetricPoint } from '../metric-point.ts';
import { STANDARD_TAGS, userTagFilter, type SeriesFilter } from '../series-filter.ts';
import type { Aggregates, Statistics } from '../summary.ts';
import { exactStatistics, type MetricsStore, type PointsPage, type RecentPointsQuery } from './metrics-store.ts';
import { RECENT_PER_STATEMENT, RECENT_ROWS_PER_STATEMENT, expectedRows, planRecentReads, type Branch } from './recent-reads.ts';

const SEP = '\u001f';
const BATCH = 1000;
/** Points kept in memory while the database is away; past it the oldest are dropped (and logged). */
export const MAX_WAITING_POINTS = 100_000;

type PointRow = Omit<MetricPointRow, 'id'>;

/** A number as SQL hands it back: PostgreSQL's bigint and numeric come as strings, SQLite's as numbers. */
const sqlNumber = z.union([z.number(), z.string(), z.null()]).transform((v) => (v === null ? null : Number(v)));
const aggregatesRow = z.object({ count: sqlNumber, average: sqlNumber, minimum: sqlNumber, maximum: sqlNumber, deviation: sqlNumber });
const valueRows = z.array(z.object({ value: z.union([z.number(), z.string()]).transform(Number) }));
const seriesRows = z.array(z.object({ series: z.string() }));
const STANDARD = new Set<string>(STANDARD_TAGS);

export function encodeTagset(tags: Record<string, string>): string {
  const user = Object.entries(tags).filter(([k]) => !STANDARD.has(k));
  if (user.length === 0) return '';
  user.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${SEP}${user.map(([k, v]) => `${k}=${v}`).join(SEP)}${SEP}`;
}

function decodeTagset(tagset: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of tagset.split(SEP)) {
    if (!part) continue;
    const i = part.indexOf('=');
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

function toPoint(r: MetricPointRow): MetricPoint {
  return {
    series: r.series,
    time: r.time,
    value: r.value,
    tags: {
      ...(r.builder !== null ? { builder: r.builder } : {}),
      ...(r.step !== null ? { step: r.step } : {}),
      ...(r.agent !== null ? { agent: r.agent } : {}),
      ...(r.result !== null ? { result: r.result } : {}),
      ...decodeTagset(r.tagset),
    },
    buildNumber: r.build_number,
    buildid: r.buildid,
    ...(r.samples !== null ? { samples: parseSamples(r.samples) } : {}),
  };
}

const POINT_COLUMNS = [
  'id',
  'series',
  'time',
  'value',
  'builder',
  'step',
  'agent',
  'result',
  'tagset',
  'build_number',
  'buildid',
  'samples',
] as const;
const SELECTED_COLUMNS = POINT_COLUMNS.map((c) => `m."${c}" AS "${c}"`).join(', ');

/** The columns a point's insert writes, in the order of each row's JSON array (rowValues()). */
const INSERTED_COLUMNS = POINT_COLUMNS.filter((c) => c !== 'id');
const INSERTED_NAMES = INSERTED_COLUMNS.map((c) => `"${c}"`).join(', ');
/** How PostgreSQL reads each column from the JSON text of its element (`->>` gives text). */
const PG_CASTS: Record<(typeof INSERTED_COLUMNS)[number], string> = {
  series: '',
  time: '::bigint',
  value: '::double precision',
  builder: '',
  step: '',
  agent: '',
  result: '',
  tagset: '',
  build_number: '::integer',
  buildid: '::integer',
  samples: '',
};

/**
 * A batch of points as one statement with one text, whatever its size: the rows go as one bound
 * JSON array of arrays, which the database unpacks (SQLite's json_each, PostgreSQL's
 * json_array_elements). TypeORM's insert builder made a new text per batch with every value written
 * into it, so each batch was prepared again, and building it cost more than SQLite's own insert.
 * Numbers survive exactly: JavaScript writes the shortest text that reads back as the same double,
 * and both databases read it correctly rounded (test/integration/metrics-sql-insert.test.ts checks it).
 */
function insertStatement(kind: DbKind): string {
  if (kind === 'postgres') {
    const values = INSERTED_COLUMNS.map((c, i) => `(e ->> ${i})${PG_CASTS[c]}`).join(', ');
    return (
      `INSERT INTO "metric_points" (${INSERTED_NAMES}) SELECT ${values}` +
      ' FROM json_array_elements($1::json) WITH ORDINALITY AS x(e, n) ORDER BY n'
    );
  }
  const values = INSERTED_COLUMNS.map((_, i) => `json_extract(p.value, '$[${i}]')`).join(', ');
  return `INSERT INTO "metric_points" (${INSERTED_NAMES}) SELECT ${values} FROM json_each(?) p ORDER BY p.key`;
}

/** A row's values in INSERTED_COLUMNS' order. */
function rowValues(r: PointRow): unknown[] {
  return INSERTED_COLUMNS.map((c) => r[c]);
}
const numberOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const textOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** A raw row as the driver hands it (PostgreSQL's bigint as a string) → the entity's types. */
function rowOf(r: Record<string, unknown>): MetricPointRow {
  return {
    id: Number(r.id),
    series: String(r.series),
    time: Number(r.time),
    value: Number(r.value),
    builder: textOrNull(r.builder),
    step: textOrNull(r.step),
    agent: textOrNull(r.agent),
    result: textOrNull(r.result),
    tagset: String(r.tagset ?? ''),
    build_number: numberOrNull(r.build_number),
    buildid: numberOrNull(r.buildid),
    samples: textOrNull(r.samples),
  };
}

export class SqlMetricsStore implements MetricsStore {
  readonly kind = 'sql' as const;
  readonly timeStepUs = 1;
  private readonly repo: Repository<MetricPointRow>;
  private readonly insertSql: string;
  private buffer: MetricPoint[] = [];
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  /** Batches waiting for the database to come back, oldest first. */
  private waiting: PointRow[][] = [];
  private waitingPoints = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Half a second, doubling to 30 s while the database stays away. */
  private readonly backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });

  constructor(
    private readonly source: DataSource,
    private readonly dbKind: DbKind,
    private readonly log: Logger,
    private readonly flushMs = 200,
  ) {
    this.repo = source.getRepository<MetricPointRow>('MetricPoint');
    this.insertSql = insertStatement(dbKind);
  }

  async write(points: MetricPoint[]): Promise<void> {
    this.buffer.push(...points);
    if (this.buffer.length >= BATCH) await this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length > 0) {
      this.writing = this.writing.then(() => this.insert(batch));
    }
    return this.writing;
  }

  private async insert(points: MetricPoint[]): Promise<void> {
    for (let i = 0; i < points.length; i += BATCH) {
      const rows: PointRow[] = points.slice(i, i + BATCH).map((p) => ({
        series: p.series,
        time: p.time,
        value: p.value,
        builder: p.tags.builder ?? null,
        step: p.tags.step ?? null,
        agent: p.tags.agent ?? null,
        result: p.tags.result ?? null,
        tagset: encodeTagset(p.tags),
        build_number: p.buildNumber,
        buildid: p.buildid,
        samples: p.samples ? JSON.stringify(p.samples) : null,
      }));
      // Behind earlier batches still waiting, so points land in the order they were captured.
      if (this.waiting.length > 0) this.wait(rows);
      else await this.insertRows(rows);
    }
  }

  /** Inserts one batch; false when the database is away and the batch was set aside to retry. */
  private async insertRows(rows: PointRow[], retrying = false): Promise<boolean> {
    try {
      // One statement: the batch lands whole or not at all, so a batch tried again is the same batch.
      await this.source.query(this.insertSql, [JSON.stringify(rows.map(rowValues))]);
      return true;
    } catch (e) {
      // Metrics never fail a build: refused rows are logged and dropped, the rest waits for the database.
      if (!isTransientError(e)) {
        this.log.error('metric points refused by the database; dropped', { points: rows.length, error: String(e) });
        return true;
      }
      if (!retrying) {
        this.log.warn('database unavailable; metric points wait in memory', { points: rows.length, error: String(e) });
        this.wait(rows);
      }
      return false;
    }
  }

  private wait(rows: PointRow[]): void {
    this.waiting.push(rows);
    this.waitingPoints += rows.length;
    while (this.waitingPoints > MAX_WAITING_POINTS && this.waiting.length > 1) {
      const dropped = this.waiting.shift() ?? [];
      this.waitingPoints -= dropped.length;
      this.log.error('too many metric points waiting for the database; the oldest were dropped', {
        points: dropped.length,
        limit: MAX_WAITING_POINTS,
      });
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.retryTimer ??= setTimeout(() => void this.retry(), this.backoff.next());
  }

  /** Inserts waiting batches oldest first; on the first failure, tries again later with a longer delay. */
  private retry(): Promise<void> {
    this.retryTimer = null;
    this.writing = this.writing.then(async () => {
      let stored = 0;
      for (let rows = this.waiting[0]; rows !== undefined; rows = this.waiting[0]) {
        if (!(await this.insertRows(rows, true))) {
          this.scheduleRetry();
          return;
        }
        this.waiting.shift();
        this.waitingPoints -= rows.length;
        stored += rows.length;
      }
      if (stored > 0) this.log.info('database back; metric points that waited are stored', { points: stored });
      this.backoff.reset();
    });
    return this.writing;
  }

  /** The filter's points as a query builder (for the aggregates); the same conditions as points(). */
  private filtered(filter: SeriesFilter): SelectQueryBuilder<MetricPointRow> {
    const where = this.where(filter, (n) => `:w${n}`);
    return this.repo.createQueryBuilder('m').where(where.sql, Object.fromEntries(where.params.map((v, i) => [`w${i + 1}`, v])));
  }

  async aggregates(filter: SeriesFilter): Promise<Aggregates> {
    await this.flush();
    const pg = this.dbKind === 'postgres';
    const raw = aggregatesRow.parse(
      await this.filtered(filter)
        .select('COUNT(*)', 'count')
        .addSelect('AVG(m.value)', 'average')
        .addSelect('MIN(m.value)', 'minimum')
        .addSelect('MAX(m.value)', 'maximum')
        .addSelect(pg ? 'STDDEV_SAMP(m.value)' : 'NULL', 'deviation')
        .getRawOne(),
    );
    const count = raw.count ?? 0;
    const average = count > 0 ? raw.average : null;
    let deviation = raw.deviation;
    if (!pg && count > 1 && average !== null) {
      // Two passes, as simple-statistics does: no cancellation from a sum of squares.
      const sq = z
        .object({ ss: sqlNumber })
        .parse(
          await this.filtered(filter).select('SUM((m.value - :mean) * (m.value - :mean))', 'ss').setParameter('mean', average).getRawOne(),
        );
      deviation = Math.sqrt((sq.ss ?? 0) / (count - 1));
    }
    return { count, average, deviation: count > 1 ? deviation : null, minimum: raw.minimum, maximum: raw.maximum };
  }

  /**
   * The k-th smallest values, read in order from the nearer end with OFFSET/LIMIT: with the
   * (series, value) and (series, builder, value) indexes that is a short index walk instead of a
   * sort of every point (PostgreSQL's percentile_disc sorted all of them, 300+ ms for 1M points).
   */
  async valuesAtPositions(filter: SeriesFilter, positions: number[], count: number): Promise<Map<number, number>> {
    await this.flush();
    const out = new Map<number, number>();
    const wanted = [...new Set(positions)].filter((k) => k >= 0 && k < count).sort((a, b) => a - b);
    // Neighbouring positions (a percentile's lower and upper rank) are read together.
    const runs: [number, number][] = [];
    for (const k of wanted) {
      const last = runs[runs.length - 1];
      if (last && k <= last[1] + 1) last[1] = k;
      else runs.push([k, k]);
    }
    for (const [from, to] of runs) {
      const ascending = from < count - 1 - to;
      const offset = ascending ? from : count - 1 - to;
      const rows = valueRows.parse(
        await this.filtered(filter)
          .select('m.value', 'value')
          .orderBy('m.value', ascending ? 'ASC' : 'DESC')
          .offset(offset)
          .limit(to - from + 1)
          .getRawMany(),
      );
      rows.forEach((r, i) => out.set(ascending ? from + i : to - i, r.value));
    }
    return out;
  }

  statistics(filter: SeriesFilter, ps: number[]): Promise<Statistics> {
    return exactStatistics(this, filter, ps);
  }

  /**
   * A page of points as plain statements: one text per shape of filter (which tags, how many user
   * tags, which bounds), every value bound, so the driver's statement cache finds it again. TypeORM's
   * query builder made the text anew on each call, which cost more than SQLite's own work: the
   * regression watcher asks for each series' new points at every finished build.
   */
  async points(filter: SeriesFilter, page: { limit: number; offset: number; order: 'asc' | 'desc' }): Promise<PointsPage> {
    await this.flush();
    const where = this.where(filter);
    const counted = await this.source.query(`SELECT COUNT(*) AS "n" FROM "metric_points" m WHERE ${where.sql}`, where.params);
    const total = Number((counted as { n: unknown }[])[0]?.n ?? 0);
    const n = where.params.length;
    const raw = (await this.source.query(
      `SELECT ${SELECTED_COLUMNS} FROM "metric_points" m WHERE ${where.sql}` +
        ` ORDER BY m."time" ${page.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ${this.param(n + 1)} OFFSET ${this.param(n + 2)}`,
      [...where.params, page.limit, page.offset],
    )) as Record<string, unknown>[];
    return { total, points: raw.map((r) => toPoint(rowOf(r))) };
  }

  /**
   * Each query's newest points, read with one branch of a UNION ALL per query (ORDER BY time DESC
   * LIMIT n over the series' time index, as a page of points()), so a build's end reads all its series
   * in a statement or a few, and counts none of them; queries of one builder's steps are read
   * together (recent-reads.ts says how and why).
   */
  async recentPoints(queries: readonly RecentPointsQuery[]): Promise<MetricPoint[][]> {
    await this.flush();
    const plan = planRecentReads(queries);
    const first = await this.readBranches(plan.branches);
    const again = plan.answer(first);
    const second = await this.readBranches(again.branches);
    return again.answer(second);
  }

  /**
   * Each branch's newest points, oldest first: up to RECENT_PER_STATEMENT branches and
   * RECENT_ROWS_PER_STATEMENT rows (expectedRows) to a statement, the event loop turning between
   * statements, since SQLite answers synchronously: a statement of many reads of whole histories
   * would keep the agents' frames waiting.
   */
  private async readBranches(branches: readonly Branch[]): Promise<MetricPoint[][]> {
    const out: MetricPoint[][] = branches.map(() => []);
    for (let first = 0, next = 0; first < branches.length; first = next) {
      let rows = 0;
      for (next = first; next < branches.length && next - first < RECENT_PER_STATEMENT; next++) {
        const branch = branches[next];
        const weight = branch ? expectedRows(branch) : 0;
        if (next > first && rows + weight > RECENT_ROWS_PER_STATEMENT) break;
        rows += weight;
      }
      if (first > 0) await new Promise((resolve) => setImmediate(resolve));
      const params: (string | number)[] = [];
      const selects = branches.slice(first, next).map(({ query: q }, i) => {
        const before = params.length;
        const where = this.where(q.filter, (n) => this.param(before + n));
        params.push(...where.params);
        let sql = where.sql;
        if (q.sinceUs !== undefined) {
          params.push(q.sinceUs);
          sql += ` AND m."time" >= ${this.param(params.length)}`;
        }
        params.push(q.limit);
        return (
          `SELECT * FROM (SELECT ${first + i} AS "q", ${SELECTED_COLUMNS} FROM "metric_points" m WHERE ${sql}` +
          ` ORDER BY m."time" DESC LIMIT ${this.param(params.length)}) AS r${i}`
        );
      });
      const raw = (await this.source.query(selects.join(' UNION ALL '), params)) as Record<string, unknown>[];
      for (const r of raw) out[Number(r.q)]?.push(toPoint(rowOf(r)));
    }
    // Newest first as read (the order within a time as the index gave it), so reversed; then sorted,
    // stably, as a UNION ALL promises no order of its rows.
    return out.map((points) => points.reverse().sort((a, b) => a.time - b.time));
  }

  async buildPoints(buildid: number): Promise<MetricPoint[]> {
    await this.flush();
    const raw = (await this.source.query(
      `SELECT ${SELECTED_COLUMNS} FROM "metric_points" m WHERE m."buildid" = ${this.param(1)} ORDER BY m."series" ASC, m."time" ASC`,
      [buildid],
    )) as Record<string, unknown>[];
    return raw.map((r) => toPoint(rowOf(r)));
  }

  /** `$n` on PostgreSQL, `?` on SQLite (which binds by position). */
  private param(n: number): string {
    return this.dbKind === 'postgres' ? `$${n}` : '?';
  }

  /** A filter's conditions as SQL text over `m`, and their values in order (`param(n)`: the n-th's placeholder). */
  private where(filter: SeriesFilter, param = (n: number) => this.param(n)): { sql: string; params: (string | number)[] } {
    const params: (string | number)[] = [filter.series];
    const conditions = [`m."series" = ${param(1)}`];
    const add = (condition: (p: string) => string, value: string | number) => {
      params.push(value);
      conditions.push(condition(param(params.length)));
    };
    for (const tag of STANDARD_TAGS) {
      const v = filter[tag];
      if (v !== undefined) add((p) => `m."${tag}" = ${p}`, v);
    }
    for (const [k, v] of userTagFilter(filter)) {
      const needle = `${SEP}${k}=${v}${SEP}`.replace(/[\\%_]/g, (c) => `\\${c}`);
      add((p) => `m."tagset" LIKE ${p} ESCAPE '\\'`, `%${needle}%`);
    }
    if (filter.from !== undefined) add((p) => `m."time" >= ${p}`, filter.from * 1000);
    if (filter.to !== undefined) add((p) => `m."time" <= ${p}`, filter.to * 1000 + 999);
    return { sql: conditions.join(' AND '), params };
  }

  /**
   * The series names, one index jump each (a recursive "next series after this one" over the
   * (series, time) index), then per series whether a point has the tags, which the (series, builder,
   * time) index answers at once. A plain DISTINCT over a builder read every point of the table.
   */
  async seriesWith(tags: { builder?: string; step?: string }): Promise<string[]> {
    await this.flush();
    const conditions: string[] = [];
    const params: string[] = [];
    const pg = this.dbKind === 'postgres';
    const param = () => (pg ? `$${params.length}` : '?');
    if (tags.builder !== undefined) {
      params.push(tags.builder);
      conditions.push(`m.builder = ${param()}`);
    }
    if (tags.step !== undefined) {
      params.push(tags.step);
      conditions.push(`m.step = ${param()}`);
    }
    const having =
      conditions.length === 0 ? '' : ` AND EXISTS (SELECT 1 FROM metric_points m WHERE m.series = s.name AND ${conditions.join(' AND ')})`;
    const sql =
      'WITH RECURSIVE s(name) AS (SELECT MIN(series) FROM metric_points' +
      ' UNION ALL SELECT (SELECT MIN(series) FROM metric_points WHERE series > s.name) FROM s WHERE s.name IS NOT NULL)' +
      ` SELECT name AS series FROM s WHERE name IS NOT NULL${having}`;
    return seriesRows.parse(await this.repo.query(sql, params)).map((r) => r.series);
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.waiting.length === 0) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.retry(); // one last try
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.waitingPoints > 0)
      this.log.error('database still unavailable at shutdown; metric points lost', { points: this.waitingPoints });
  }
}
