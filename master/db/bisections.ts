/**
 * The bisections' rows (tables from migration 0019; the rules are master/bisect/bisector.ts's). Read
 * and written with plain SQL: the tables have no entity schema, and a bisection writes a few rows a
 * build, far off the hot path.
 */
import type { DataSource } from 'typeorm';
import { plainSql, type PlainSql, type SqlValue } from './plain-sql.ts';

export type BisectionState = 'running' | 'found' | 'inconclusive';
export type Verdict = 'good' | 'bad';

export interface BisectionRow {
  id: number;
  builderid: number;
  series: string;
  tags: Record<string, string>;
  branch: string | null;
  good: string;
  bad: string;
  repourl: string;
  changepointid: number | null;
  /** The master that drives it. */
  masterid: number | null;
  state: BisectionState;
  /** good..bad, first-parent, oldest first: `bad` is the last. Empty until listed. */
  commits: string[];
  reason: string | null;
  culprit: string | null;
  culprit_author: string | null;
  culprit_email: string | null;
  culprit_subject: string | null;
  created_at: number;
  finished_at: number | null;
}

/** A build a bisection requested (buildrequestid set) or borrowed for a side's samples (null). */
export interface BisectionBuildRow {
  id: number;
  bisectionid: number;
  revision: string;
  buildrequestid: number | null;
  buildid: number | null;
  state: 'pending' | 'done';
  results: number | null;
  /** The series' values the build measured; null until it is done. */
  samples: number[] | null;
  created_at: number;
}

export interface BisectionStepRow {
  id: number;
  bisectionid: number;
  revision: string;
  position: number;
  verdict: Verdict;
  how: string;
  decided_at: number;
}

export type NewBisection = Pick<BisectionRow, 'builderid' | 'series' | 'tags' | 'branch' | 'good' | 'bad' | 'repourl' | 'changepointid'>;

export class BisectionsRepo {
  private readonly sql: PlainSql;
  constructor(source: DataSource) {
    this.sql = plainSql(source);
  }

  async create(b: NewBisection, masterid: number, now: number): Promise<number> {
    return this.sql.insertReturningId('bisections', {
      masterid,
      builderid: b.builderid,
      series: b.series,
      tags: JSON.stringify(b.tags),
      branch: b.branch,
      good: b.good,
      bad: b.bad,
      repourl: b.repourl,
      changepointid: b.changepointid,
      state: 'running',
      commits: '[]',
      created_at: now,
    });
  }

  async get(id: number): Promise<BisectionRow | null> {
    const sql = this.sql.text('bisect:get', (p) => `SELECT * FROM "bisections" WHERE "id" = ${p(1)}`);
    const { rows } = await this.sql.run(sql, [id]);
    return rows[0] ? bisectionOf(rows[0]) : null;
  }

  /** Newest first. */
  async list(limit: number, offset: number): Promise<{ rows: BisectionRow[]; total: number }> {
    const sql = this.sql.text('bisect:list', (p) => `SELECT * FROM "bisections" ORDER BY "id" DESC LIMIT ${p(1)} OFFSET ${p(2)}`);
    const { rows } = await this.sql.run(sql, [limit, offset]);
    const count = await this.sql.run('SELECT COUNT(*) AS n FROM "bisections"', []);
    return { rows: rows.map(bisectionOf), total: Number(count.rows[0]?.n ?? 0) };
  }

  /**
   * The running bisections `masterid` drives, after adopting those whose master is gone (inactive in
   * `masters`, or none): one conditional update each, so of masters adopting at once one wins.
   */
  async runningOf(masterid: number): Promise<BisectionRow[]> {
    const orphans = await this.sql.run(
      this.sql.text(
        'bisect:orphans',
        (p) =>
          `SELECT "id", "masterid" FROM "bisections" WHERE "state" = 'running' AND ("masterid" IS NULL OR "masterid" NOT IN
           (SELECT "id" FROM "masters" WHERE "active" = ${p(1)}))`,
      ),
      [true],
    );
    for (const o of orphans.rows) {
      const old = num(o.masterid);
      const sql = this.sql.text(
        old === null ? 'bisect:adopt-null' : 'bisect:adopt',
        (p) => `UPDATE "bisections" SET "masterid" = ${p(1)} WHERE "id" = ${p(2)} AND "masterid" ${old === null ? 'IS NULL' : `= ${p(3)}`}`,
      );
      await this.sql.run(sql, old === null ? [masterid, Number(o.id)] : [masterid, Number(o.id), old]);
    }
    const sql = this.sql.text(
      'bisect:running',
      (p) => `SELECT * FROM "bisections" WHERE "state" = 'running' AND "masterid" = ${p(1)} ORDER BY "id"`,
    );
    const { rows } = await this.sql.run(sql, [masterid]);
    return rows.map(bisectionOf);
  }

  /** A running or finished bisection of this change point, if one was started. */
  async ofChangePoint(changepointid: number): Promise<number | null> {
    const sql = this.sql.text('bisect:ofcp', (p) => `SELECT "id" FROM "bisections" WHERE "changepointid" = ${p(1)}`);
    const { rows } = await this.sql.run(sql, [changepointid]);
    return rows[0] ? Number(rows[0].id) : null;
  }

  async update(
    id: number,
    values: Partial<
      Pick<
        BisectionRow,
        'state' | 'reason' | 'good' | 'bad' | 'culprit' | 'culprit_author' | 'culprit_email' | 'culprit_subject' | 'finished_at'
      >
    > & {
      commits?: string[];
    },
  ): Promise<void> {
    const { commits, ...rest } = values;
    const row: Record<string, SqlValue | undefined> = { ...rest };
    if (commits !== undefined) row.commits = JSON.stringify(commits);
    await this.sql.updateById('bisections', id, row);
  }

  async addBuild(
    b: Pick<BisectionBuildRow, 'bisectionid' | 'revision' | 'buildrequestid' | 'buildid'> &
      Partial<Pick<BisectionBuildRow, 'samples' | 'results'>>,
    now: number,
  ): Promise<number> {
    const done = b.samples !== undefined;
    return this.sql.insertReturningId('bisection_builds', {
      bisectionid: b.bisectionid,
      revision: b.revision,
      buildrequestid: b.buildrequestid,
      buildid: b.buildid,
      state: done ? 'done' : 'pending',
      results: b.results ?? null,
      samples: done ? JSON.stringify(b.samples) : null,
      created_at: now,
    });
  }

  async finishBuild(id: number, buildid: number | null, results: number | null, samples: number[]): Promise<void> {
    await this.sql.updateById('bisection_builds', id, { buildid, results, samples: JSON.stringify(samples), state: 'done' });
  }

  async builds(bisectionid: number): Promise<BisectionBuildRow[]> {
    const sql = this.sql.text('bisect:builds', (p) => `SELECT * FROM "bisection_builds" WHERE "bisectionid" = ${p(1)} ORDER BY "id"`);
    const { rows } = await this.sql.run(sql, [bisectionid]);
    return rows.map(buildOf);
  }

  /** The bisection a build request belongs to, if any. */
  async ofRequest(buildrequestid: number): Promise<number | null> {
    const sql = this.sql.text('bisect:ofreq', (p) => `SELECT "bisectionid" FROM "bisection_builds" WHERE "buildrequestid" = ${p(1)}`);
    const { rows } = await this.sql.run(sql, [buildrequestid]);
    return rows[0] ? Number(rows[0].bisectionid) : null;
  }

  /** Builds the builder's bisections requested since `since` (its daily budget). */
  async requestedSince(builderid: number, since: number): Promise<number> {
    const sql = this.sql.text(
      'bisect:day',
      (p) =>
        `SELECT COUNT(*) AS n FROM "bisection_builds" bb JOIN "bisections" b ON b."id" = bb."bisectionid"
         WHERE b."builderid" = ${p(1)} AND bb."buildrequestid" IS NOT NULL AND bb."created_at" >= ${p(2)}`,
    );
    const { rows } = await this.sql.run(sql, [builderid, since]);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * The builder's newest good (success or warnings) finished builds that checked `revision` out: the
   * sides' samples when the bisection did not start from a change point's builds. Properties are
   * stored as JSON text (name -> [value, source]), so the match is on that text.
   */
  async buildsAt(builderid: number, revision: string, limit: number): Promise<number[]> {
    if (!/^[0-9a-f]{4,64}$/i.test(revision)) return [];
    const sql = this.sql.text(
      'bisect:at',
      (p) =>
        `SELECT "id" FROM "builds" WHERE "builderid" = ${p(1)} AND "complete_at" IS NOT NULL AND "results" IN (0, 1)
         AND "properties" LIKE ${p(2)} ORDER BY "id" DESC LIMIT ${p(3)}`,
    );
    const { rows } = await this.sql.run(sql, [builderid, `%"got_revision":["${revision}"%`, limit]);
    return rows.map((r) => Number(r.id));
  }

  async addStep(s: Omit<BisectionStepRow, 'id'>): Promise<void> {
    await this.sql.insertReturningId('bisection_steps', { ...s });
  }

  async steps(bisectionid: number): Promise<BisectionStepRow[]> {
    const sql = this.sql.text('bisect:steps', (p) => `SELECT * FROM "bisection_steps" WHERE "bisectionid" = ${p(1)} ORDER BY "id"`);
    const { rows } = await this.sql.run(sql, [bisectionid]);
    return rows.map((r) => ({
      id: Number(r.id),
      bisectionid: Number(r.bisectionid),
      revision: String(r.revision),
      position: Number(r.position),
      verdict: String(r.verdict) as Verdict,
      how: String(r.how),
      decided_at: Number(r.decided_at),
    }));
  }
}

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function bisectionOf(r: Record<string, unknown>): BisectionRow {
  return {
    id: Number(r.id),
    builderid: Number(r.builderid),
    series: String(r.series),
    tags: JSON.parse(String(r.tags)) as Record<string, string>,
    branch: str(r.branch),
    good: String(r.good),
    bad: String(r.bad),
    repourl: String(r.repourl),
    changepointid: num(r.changepointid),
    masterid: num(r.masterid),
    state: String(r.state) as BisectionState,
    commits: JSON.parse(String(r.commits)) as string[],
    reason: str(r.reason),
    culprit: str(r.culprit),
    culprit_author: str(r.culprit_author),
    culprit_email: str(r.culprit_email),
    culprit_subject: str(r.culprit_subject),
    created_at: Number(r.created_at),
    finished_at: num(r.finished_at),
  };
}

function buildOf(r: Record<string, unknown>): BisectionBuildRow {
  return {
    id: Number(r.id),
    bisectionid: Number(r.bisectionid),
    revision: String(r.revision),
    buildrequestid: num(r.buildrequestid),
    buildid: num(r.buildid),
    state: String(r.state) as BisectionBuildRow['state'],
    results: num(r.results),
    samples: r.samples === null || r.samples === undefined ? null : (JSON.parse(String(r.samples)) as number[]),
    created_at: Number(r.created_at),
  };
}
