import type { DataSource, EntityManager, Repository } from 'typeorm';
import { resultOrNull, type BuildRow } from './entities.ts';
import { NotFoundError } from '../../core/errors/index.ts';
import type { Result } from '../../core/results.ts';
import { parseCollectionQuery, type FieldMap } from './collection-query.ts';
import { rawCollectionIds, rawCollectionQuery, rawTime, type RawRow } from './raw-collection-query.ts';
import { transaction } from './transaction.ts';
import { plainSql, type PlainSql } from './plain-sql.ts';

export const buildFields: FieldMap = {
  buildid: { column: 'id', type: 'int' },
  builderid: { column: 'builderid', type: 'int' },
  buildrequestid: { column: 'buildrequestid', type: 'int' },
  number: { column: 'number', type: 'int' },
  masterid: { column: 'masterid', type: 'int' },
  agent: { column: 'agent', type: 'string' },
  started_at: { column: 'started_at', type: 'time' },
  complete_at: { column: 'complete_at', type: 'time' },
  results: { column: 'results', type: 'int' },
  state_string: { column: 'state_string', type: 'string' },
};

const BUILD_COLUMNS = [
  'id',
  'builderid',
  'buildrequestid',
  'number',
  'masterid',
  'agent',
  'started_at',
  'complete_at',
  'results',
  'state_string',
  'properties',
] as const satisfies readonly (keyof BuildRow)[];

/** The builds' order when the query names none. */
const BUILD_ORDER = { field: 'buildid', desc: false } as const;

/** A plain row of BUILD_COLUMNS as a BuildRow (bigints as numbers, the result checked as the entity does). */
function buildRow(r: RawRow): BuildRow {
  return {
    id: Number(r.id),
    builderid: Number(r.builderid),
    buildrequestid: Number(r.buildrequestid),
    number: Number(r.number),
    masterid: Number(r.masterid),
    agent: String(r.agent),
    started_at: Number(r.started_at),
    complete_at: rawTime(r.complete_at),
    results: resultOrNull.from(r.results),
    state_string: String(r.state_string),
    properties: String(r.properties),
  };
}

/** What a build's end stores (finish()). */
export interface BuildEndValues {
  results: Result;
  complete_at: number;
  state_string: string;
  properties: string;
}

/** A builder's figures for the builders API (builderStats()). */
export interface BuilderStats {
  last: Pick<BuildRow, 'id' | 'number' | 'results' | 'complete_at'> | null;
  running: number;
  averageMs: number | null;
}

export class BuildsRepo {
  private readonly repo: Repository<BuildRow>;
  /** Every build's create and updates: plain statements, one text each (see plain-sql.ts). */
  private readonly sql: PlainSql;
  constructor(private readonly source: DataSource) {
    this.repo = source.getRepository<BuildRow>('Build');
    this.sql = plainSql(source);
  }

  /**
   * Creates a build with the builder's next number, taken from the builder's counter
   * (`builders.last_build_number`) in the transaction that inserts the build. On PostgreSQL the
   * increment holds the builder's row until commit, so masters sharing the database take numbers one
   * after another; SQLite has one writer at a time. No number is handed out twice, none is skipped (a
   * failed insert rolls its increment back), and no create fails for want of a number.
   */
  create(values: Omit<BuildRow, 'id' | 'number' | 'complete_at' | 'results'>): Promise<BuildRow> {
    return transaction(this.source, async (em) => {
      const row = { ...values, number: await this.nextNumber(values.builderid, em), complete_at: null, results: null };
      return { ...row, id: await this.sql.insertReturningId('builds', row, em) };
    });
  }

  /**
   * Takes the builder's next build number, in `em`'s transaction (see create()). The write comes
   * first in its transaction: a SQLite transaction that read before writing could find another
   * connection's write in its way and fail at once instead of waiting its turn. RETURNING gives the
   * new number in the same statement.
   */
  async nextNumber(builderid: number, em: EntityManager): Promise<number> {
    const bump = this.sql.text(
      'builds:next-number',
      (p) => `UPDATE "builders" SET "last_build_number" = "last_build_number" + 1 WHERE "id" = ${p(1)} RETURNING "last_build_number"`,
    );
    const { rows } = await this.sql.run(bump, [builderid], em);
    if (rows.length === 0) throw new NotFoundError(`builder ${builderid} does not exist`);
    return Number(rows[0]?.last_build_number);
  }

  /** One build by id: a plain statement (every finished build is read by the regression watcher and the reporters). */
  async get(id: number): Promise<BuildRow | null> {
    return (await this.byIds([id]))[0] ?? null;
  }

  async update(id: number, values: Partial<Pick<BuildRow, 'state_string' | 'properties' | 'results' | 'complete_at'>>): Promise<void> {
    await this.sql.updateById('builds', id, values);
  }

  /**
   * A build's end: its result, times and properties, and its request completed with the same result
   * and time (or released, for another try), in one transaction. Both writes may be repeated safely
   * (a retry after a lost answer writes the same values).
   */
  async finish(id: number, values: BuildEndValues, request: { complete: number } | { release: number }): Promise<void> {
    await transaction(this.source, (em) => this.finishIn(em, id, values, request));
  }

  /** finish()'s writes, in `em`'s transaction (a step's end writes them with its own: build-progress.ts). */
  async finishIn(
    em: EntityManager,
    id: number,
    values: BuildEndValues,
    request: { complete: number } | { release: number },
  ): Promise<void> {
    const { results, complete_at, state_string, properties } = values; // these columns only, whatever else `values` holds
    await this.sql.updateById('builds', id, { results, complete_at, state_string, properties }, em);
    if ('complete' in request) {
      await this.sql.updateById(
        'buildrequests',
        request.complete,
        { complete: true, complete_at: values.complete_at, results: values.results },
        em,
      );
    } else {
      const unclaim = this.sql.text(
        'buildrequests:unclaim',
        (p) => `UPDATE "buildrequests" SET "claimed_by_masterid" = NULL, "claimed_at" = NULL WHERE "id" = ${p(1)} AND "complete" = ${p(2)}`,
      );
      await this.sql.run(unclaim, [request.release, false], em);
    }
  }

  /** The builder's latest builds that ended SUCCESS or WARNINGS, newest first, before `beforeId`. */
  lastSuccessful(builderid: number, n: number, beforeId: number): Promise<BuildRow[]> {
    return this.repo
      .createQueryBuilder('b')
      .where('b.builderid = :builderid AND b.id < :beforeId AND b.results IN (0, 1)', { builderid, beforeId })
      .orderBy('b.id', 'DESC')
      .take(n)
      .getMany();
  }

  /**
   * For each of `builderids`: its newest build, how many of its builds are running, and the average
   * duration of its last `window` finished builds. Each is read from the (builderid, number) index,
   * so the cost follows the builders asked for (a page of them), not the builds stored: one query
   * over every build (a window function and a GROUP BY) took 8 ms at 10 000 builds, for one builder.
   */
  async builderStats(builderids: readonly number[], window = 20): Promise<Map<number, BuilderStats>> {
    const latestSql = this.sql.text(
      'builds:stats-latest',
      (p) => `SELECT "id", "number", "results", "complete_at" FROM "builds" WHERE "builderid" = ${p(1)} ORDER BY "number" DESC LIMIT 1`,
    );
    const runningSql = this.sql.text(
      'builds:stats-running',
      (p) => `SELECT COUNT(*) AS "n" FROM "builds" WHERE "builderid" = ${p(1)} AND "complete_at" IS NULL`,
    );
    const averageSql = this.sql.text(
      'builds:stats-average',
      (p) =>
        `SELECT AVG("d") AS "avg" FROM (SELECT "complete_at" - "started_at" AS "d" FROM "builds"` +
        ` WHERE "builderid" = ${p(1)} AND "complete_at" IS NOT NULL ORDER BY "number" DESC LIMIT ${p(2)}) t`,
    );
    const out = new Map<number, BuilderStats>();
    for (const id of builderids) {
      const last = (await this.sql.run(latestSql, [id])).rows[0];
      const running = (await this.sql.run(runningSql, [id])).rows[0]?.n;
      const average = (await this.sql.run(averageSql, [id, Math.trunc(window)])).rows[0]?.avg;
      out.set(id, {
        last: last
          ? {
              id: Number(last.id),
              number: Number(last.number),
              results: resultOrNull.from(last.results) as Result | null,
              complete_at: rawTime(last.complete_at),
            }
          : null,
        running: Number(running ?? 0),
        averageMs: average === null || average === undefined ? null : Number(average),
      });
    }
    return out;
  }

  /** The request's newest build, by any master, if it has one. */
  async latestOfRequest(buildrequestid: number): Promise<BuildRow | undefined> {
    const row = await this.repo
      .createQueryBuilder('b')
      .where('b.buildrequestid = :r', { r: buildrequestid })
      .orderBy('b.id', 'DESC')
      .getOne();
    return row ?? undefined;
  }

  /** The build of a request that this master has started and not finished, if any (one at a time). */
  async runningOfRequest(buildrequestid: number, masterid: number): Promise<BuildRow | undefined> {
    const row = await this.repo
      .createQueryBuilder('b')
      .where('b.buildrequestid = :r AND b.masterid = :m AND b.complete_at IS NULL', { r: buildrequestid, m: masterid })
      .getOne();
    return row ?? undefined;
  }

  incompleteOfMaster(masterid: number): Promise<BuildRow[]> {
    return this.repo.createQueryBuilder('b').where('b.masterid = :m AND b.complete_at IS NULL', { m: masterid }).getMany();
  }

  /** A page of builds (the API's collection query), read as plain rows: no entities are made. */
  async query(raw: Record<string, unknown>, scope: { builderid?: number } = {}): Promise<{ rows: BuildRow[]; total: number }> {
    const q = parseCollectionQuery(raw, buildFields);
    const page = await rawCollectionQuery(this.source, 'builds', BUILD_COLUMNS, buildFields, q, BUILD_ORDER, scope);
    return { rows: page.rows.map(buildRow), total: page.total };
  }

  /**
   * A page of builds as query() finds it, reading in full only the rows the caller does not hold:
   * the page's ids first, then the other rows by id. `held(id)` says the caller has that build
   * already and it is finished; a finished build's row is never written again, so what the caller
   * holds is what the database has. Reading a row costs SQLite far more than reading its id (50 rows
   * of eleven columns ≈ 130 µs, their ids ≈ 16 µs), and the API's pages are mostly finished builds
   * it has presented before. `rows` lacks a build deleted between the two reads (retention).
   */
  async queryUnheld(
    raw: Record<string, unknown>,
    held: (id: number) => boolean,
    scope: { builderid?: number } = {},
  ): Promise<{ ids: number[]; rows: Map<number, BuildRow>; total: number }> {
    const q = parseCollectionQuery(raw, buildFields);
    const page = await rawCollectionIds(this.source, 'builds', buildFields, q, BUILD_ORDER, scope);
    const { ids } = page;
    const missing = ids.filter((id) => !held(id));
    const rows = new Map((await this.byIds(missing)).map((row) => [row.id, row]));
    return { ids, rows, total: page.total };
  }

  /** The builds of `ids`, in no particular order; one statement text whatever their number. */
  private async byIds(ids: readonly number[]): Promise<BuildRow[]> {
    if (ids.length === 0) return [];
    const postgres = this.source.options.type === 'postgres';
    const sql = this.sql.text('builds:by-ids', (p) => {
      const list = postgres ? `= ANY(${p(1)}::int[])` : `IN (SELECT "value" FROM json_each(${p(1)}))`;
      return `SELECT ${BUILD_COLUMNS.map((c) => `"${c}"`).join(', ')} FROM "builds" WHERE "id" ${list}`;
    });
    // The ids as one bound text: a PostgreSQL array literal, or a JSON array for SQLite's json_each.
    const list = postgres ? `{${ids.join(',')}}` : `[${ids.join(',')}]`;
    return (await this.sql.run(sql, [list])).rows.map(buildRow);
  }
}
