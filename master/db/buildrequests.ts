import { In, IsNull, type DataSource, type EntityManager, type Repository } from 'typeorm';
import { resultOrNull, type BuildRequestRow } from './entities.ts';
import { Results, type Result } from '../../core/results.ts';
import { scopedCollectionQuery, type FieldMap } from './collection-query.ts';
import { rawBool, rawTime, type RawRow } from './raw-collection-query.ts';
import { transaction } from './transaction.ts';
import { plainSql, type PlainSql } from './plain-sql.ts';
import { cellKey, type MatrixCell } from '../config/matrix.ts';

export const buildRequestFields: FieldMap = {
  buildrequestid: { column: 'id', type: 'int' },
  builderid: { column: 'builderid', type: 'int' },
  priority: { column: 'priority', type: 'int' },
  submitted_at: { column: 'submitted_at', type: 'time' },
  claimed_at: { column: 'claimed_at', type: 'time' },
  claimed_by_masterid: { column: 'claimed_by_masterid', type: 'int' },
  complete: { column: 'complete', type: 'bool' },
  complete_at: { column: 'complete_at', type: 'time' },
  results: { column: 'results', type: 'int' },
  reason: { column: 'reason', type: 'string' },
  parent_buildid: { column: 'parent_buildid', type: 'int' },
  buildsetid: { column: 'buildsetid', type: 'int' },
};

export interface NewBuildRequest {
  builderid: number;
  reason: string;
  properties: Record<string, unknown>;
  priority?: number;
  changeids?: number[];
  parentBuildid?: number | null;
  /** The buildset it belongs to (master/db/buildsets.ts). */
  buildsetid?: number | null;
  /** The matrix cell it builds (master/config/matrix.ts), stored as JSON. */
  matrix?: MatrixCell | null;
}

function requestRow(values: NewBuildRequest, now: number) {
  return {
    builderid: values.builderid,
    reason: values.reason,
    properties: JSON.stringify(values.properties),
    priority: values.priority ?? 0,
    submitted_at: now,
    complete: false,
    parent_buildid: values.parentBuildid ?? null,
    buildsetid: values.buildsetid ?? null,
    matrix: values.matrix ? cellKey(values.matrix) : null,
  };
}

/** Stores a request and its links to the changes it builds, inside the caller's transaction. */
export async function insertBuildRequest(m: EntityManager, values: NewBuildRequest, now: number): Promise<BuildRequestRow> {
  // A plain insert: TypeORM's save() read the row back for its defaults, a second statement per force.
  const row = requestRow(values, now);
  const id = await plainSql(m.connection).insertReturningId('buildrequests', row, m);
  const saved: BuildRequestRow = { ...row, id, claimed_by_masterid: null, claimed_at: null, complete_at: null, results: null };
  const changeids = values.changeids ?? [];
  if (changeids.length > 0)
    await m.insert(
      'buildrequest_changes',
      changeids.map((changeid) => ({ buildrequestid: saved.id, changeid })),
    );
  return saved;
}

const REQUEST_COLUMNS = [
  'id',
  'builderid',
  'reason',
  'properties',
  'priority',
  'submitted_at',
  'claimed_by_masterid',
  'claimed_at',
  'complete',
  'complete_at',
  'results',
  'parent_buildid',
  'buildsetid',
  'matrix',
]
  .map((c) => `"${c}"`)
  .join(', ');

/** A plain row of REQUEST_COLUMNS as the entity reads it (bigints and booleans as each driver gives them). */
function requestFromRaw(r: RawRow): BuildRequestRow {
  const intOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: Number(r.id),
    builderid: Number(r.builderid),
    reason: String(r.reason),
    properties: String(r.properties),
    priority: Number(r.priority),
    submitted_at: Number(r.submitted_at),
    claimed_by_masterid: intOrNull(r.claimed_by_masterid),
    claimed_at: rawTime(r.claimed_at),
    complete: rawBool(r.complete),
    complete_at: rawTime(r.complete_at),
    results: resultOrNull.from(r.results),
    parent_buildid: intOrNull(r.parent_buildid),
    buildsetid: intOrNull(r.buildsetid),
    matrix: r.matrix === null || r.matrix === undefined ? null : String(r.matrix),
  };
}

/**
 * Build requests. A request's life: unclaimed -> claimed by one master (atomic conditional update,
 * so masters sharing a database never both take it) -> complete with a result. A claim can be
 * released (agent lost, build to be retried), which puts the request back in the queue.
 */
export class BuildRequestsRepo {
  private readonly repo: Repository<BuildRequestRow>;
  /** Claim, release and complete, once per build: plain statements, one text each (see plain-sql.ts). */
  private readonly sql: PlainSql;
  constructor(private readonly source: DataSource) {
    this.repo = source.getRepository<BuildRequestRow>('BuildRequest');
    this.sql = plainSql(source);
  }

  /** A new request; with `changeids`, linked to the changes it builds in the same transaction. */
  create(values: NewBuildRequest, now: number): Promise<BuildRequestRow> {
    if ((values.changeids ?? []).length === 0) return insertBuildRequest(this.source.manager, values, now);
    return transaction(this.source, (m) => insertBuildRequest(m, values, now));
  }

  /**
   * Plain SQL, the row mapped by hand (as unclaimed()): a request is read on every poll of its state
   * (`GET /buildrequests/ID`) and on every force (the collapser), and TypeORM's query building and
   * entity hydration cost several times the query.
   */
  async get(id: number): Promise<BuildRequestRow | null> {
    const sql = this.sql.text('buildrequests:get', (p) => `SELECT ${REQUEST_COLUMNS} FROM "buildrequests" WHERE "id" = ${p(1)}`);
    const [row] = (await this.sql.run(sql, [id])).rows;
    return row ? requestFromRaw(row) : null;
  }

  /** Those of these requests that are complete. */
  completedAmong(ids: number[]): Promise<BuildRequestRow[]> {
    return ids.length === 0 ? Promise.resolve([]) : this.repo.findBy({ id: In(ids), complete: true });
  }

  /**
   * What the claimer should try next: of each of `builderids`, its `perBuilder` oldest unclaimed
   * requests (highest priority first), all of them oldest first within priority. Per builder, so
   * that however many requests a builder that cannot run has queued, the others' are still seen.
   * Read without locks: claim() is what makes taking one atomic.
   */
  async unclaimed(builderids: readonly number[], perBuilder: number): Promise<BuildRequestRow[]> {
    if (builderids.length === 0 || perBuilder < 1) return [];
    // Plain SQL, rows mapped by hand: the claimer reads this on every pass (several per build), and
    // TypeORM's query building and entity hydration cost more than the query. One text per number
    // of builders, so the driver's statement cache finds it again.
    // ROW_NUMBER() over each builder's queue: PostgreSQL and SQLite (3.25+) both have it.
    const sql = this.sql.text(`buildrequests:unclaimed:${builderids.length}`, (p) => {
      // Numbered in the order they appear: SQLite's `?` binds by position.
      const ids = builderids.map((_, i) => p(i + 2)).join(', ');
      return `SELECT ${REQUEST_COLUMNS} FROM "buildrequests" WHERE "id" IN (
        SELECT "id" FROM (
          SELECT "id", ROW_NUMBER() OVER (PARTITION BY "builderid" ORDER BY "priority" DESC, "submitted_at" ASC, "id" ASC) AS "place"
          FROM "buildrequests" WHERE "complete" = ${p(1)} AND "claimed_by_masterid" IS NULL AND "builderid" IN (${ids})
        ) "ranked" WHERE "place" <= ${p(builderids.length + 2)})
      ORDER BY "priority" DESC, "submitted_at" ASC, "id" ASC`;
    });
    const { rows } = await this.sql.run(sql, [false, ...builderids, perBuilder]);
    return rows.map(requestFromRaw);
  }

  /** Of each of `builderids` with queued requests: the highest priority among them, and when the oldest was submitted. */
  async queueHeads(builderids: readonly number[]): Promise<Map<number, { highestPriority: number; oldestSubmittedAt: number }>> {
    if (builderids.length === 0) return new Map();
    const rows = await this.source
      .createQueryBuilder()
      .select('q.builderid', 'builderid')
      .addSelect('MAX(q.priority)', 'highest')
      .addSelect('MIN(q.submitted_at)', 'oldest')
      .from('buildrequests', 'q')
      .where('q.complete = :incomplete AND q.claimed_by_masterid IS NULL AND q.builderid IN (:...builderids)', {
        incomplete: false,
        builderids,
      })
      .groupBy('q.builderid')
      .getRawMany<{ builderid: number | string; highest: number | string; oldest: number | string }>();
    return new Map(rows.map((r) => [Number(r.builderid), { highestPriority: Number(r.highest), oldestSubmittedAt: Number(r.oldest) }]));
  }

  /** A builder's queued requests (unclaimed, incomplete), oldest first, at most `limit`: what a new request may collapse. */
  queued(builderid: number, limit: number): Promise<BuildRequestRow[]> {
    return this.repo.find({
      where: { builderid, complete: false, claimed_by_masterid: IsNull() },
      order: { submitted_at: 'ASC', id: 'ASC' },
      take: limit,
    });
  }

  /** Of these requests, those that build changes, each with its changes' properties (JSON text). */
  async changePropertiesOf(ids: readonly number[]): Promise<Map<number, string[]>> {
    const byRequest = new Map<number, string[]>();
    if (ids.length === 0) return byRequest;
    const rows = await this.source
      .createQueryBuilder()
      .select('l.buildrequestid', 'buildrequestid')
      .addSelect('c.properties', 'properties')
      .from('buildrequest_changes', 'l')
      .innerJoin('changes', 'c', 'c.id = l.changeid')
      .where('l.buildrequestid IN (:...ids)', { ids })
      .getRawMany<{ buildrequestid: number | string; properties: string }>();
    for (const r of rows) byRequest.set(Number(r.buildrequestid), [...(byRequest.get(Number(r.buildrequestid)) ?? []), r.properties]);
    return byRequest;
  }

  /**
   * Ends a queued request as SKIPPED, claimed by `masterid`: what Buildbot does to a request a newer
   * one collapsed. The same condition as claim(), in one statement: of a skip and a claim at once,
   * exactly one wins. True when this call skipped it.
   */
  async skipUnclaimed(id: number, masterid: number, now: number): Promise<boolean> {
    const result = await this.source
      .createQueryBuilder()
      .update('buildrequests')
      .set({ claimed_by_masterid: masterid, claimed_at: now, complete: true, complete_at: now, results: Results.SKIPPED })
      .where('id = :id AND claimed_by_masterid IS NULL AND complete = :incomplete', { id, incomplete: false })
      .execute();
    return result.affected === 1;
  }

  /**
   * True when this master got the request; false when another claimed it first (or it was
   * cancelled). On PostgreSQL the row is locked with SKIP LOCKED, so masters claiming at once
   * never wait on each other's row: the one that holds it wins, the others move on.
   */
  async claim(id: number, masterid: number, now: number): Promise<boolean> {
    const sql = this.sql.text('buildrequests:claim', (p) => {
      const free = `"claimed_by_masterid" IS NULL AND "complete" = ${p(4)}`;
      const which =
        this.source.options.type === 'postgres'
          ? `"id" = (SELECT "id" FROM "buildrequests" WHERE "id" = ${p(3)} AND ${free} FOR UPDATE SKIP LOCKED)`
          : `"id" = ${p(3)} AND ${free}`;
      return `UPDATE "buildrequests" SET "claimed_by_masterid" = ${p(1)}, "claimed_at" = ${p(2)} WHERE ${which}`;
    });
    return (await this.sql.run(sql, [masterid, now, id, false])).affected === 1;
  }

  /**
   * claim() for several requests in one statement (one commit): the ids this master got, the others
   * having been claimed by another master or cancelled meanwhile. The claimer takes what one pass
   * matched with free agents this way, instead of one claim after another.
   */
  async claimMany(ids: readonly number[], masterid: number, now: number): Promise<Set<number>> {
    if (ids.length === 0) return new Set();
    // One text per number of ids, so the driver's statement cache finds it again (a pass claims at
    // most as many requests as there are free agents).
    const sql = this.sql.text(`buildrequests:claim-many:${ids.length}`, (p) => {
      const list = ids.map((_, i) => p(i + 3)).join(', ');
      const free = `"claimed_by_masterid" IS NULL AND "complete" = ${p(ids.length + 3)}`;
      const which =
        this.source.options.type === 'postgres'
          ? `"id" IN (SELECT "id" FROM "buildrequests" WHERE "id" IN (${list}) AND ${free} FOR UPDATE SKIP LOCKED)`
          : `"id" IN (${list}) AND ${free}`;
      return `UPDATE "buildrequests" SET "claimed_by_masterid" = ${p(1)}, "claimed_at" = ${p(2)} WHERE ${which} RETURNING "id"`;
    });
    const { rows } = await this.sql.run(sql, [masterid, now, ...ids, false]);
    return new Set(rows.map((r) => Number(r.id)));
  }

  /**
   * Completes a request no master has claimed with `results` (a user cancelled it). The same
   * condition as claim(), in one statement: of a cancel and a claim at once, exactly one wins.
   * True when this call completed it.
   */
  async completeUnclaimed(id: number, results: Result, now: number): Promise<boolean> {
    const result = await this.source
      .createQueryBuilder()
      .update('buildrequests')
      .set({ complete: true, complete_at: now, results })
      .where('id = :id AND claimed_by_masterid IS NULL AND complete = :incomplete', { id, incomplete: false })
      .execute();
    return result.affected === 1;
  }

  async unclaim(id: number): Promise<void> {
    const sql = this.sql.text(
      'buildrequests:unclaim',
      (p) => `UPDATE "buildrequests" SET "claimed_by_masterid" = NULL, "claimed_at" = NULL WHERE "id" = ${p(1)} AND "complete" = ${p(2)}`,
    );
    await this.sql.run(sql, [id, false]);
  }

  async complete(id: number, results: Result, now: number): Promise<void> {
    await this.sql.updateById('buildrequests', id, { complete: true, complete_at: now, results });
  }

  /** Requests this master claimed but never finished (it died): each is completed or released. */
  claimedIncomplete(masterid: number): Promise<BuildRequestRow[]> {
    return this.repo.findBy({ claimed_by_masterid: masterid, complete: false });
  }

  query(raw: Record<string, unknown>): Promise<{ rows: BuildRequestRow[]; total: number }> {
    return scopedCollectionQuery(this.repo, buildRequestFields, raw, { field: 'buildrequestid', desc: false });
  }
}
