/**
 * The stored change points of watched series (master/regressions) and their confirming reruns, in
 * plain SQL (no entity: nothing else reads these tables). A change point's life:
 *
 *   confirming -> confirmed | dismissed      (worse, with the builder's `confirm` reruns)
 *   confirmed                                 (at once: better, or no `confirm`)
 *
 * Every transition is one conditional UPDATE on the state it leaves, so of masters sharing the
 * database exactly one makes it (and publishes it). `alerted` is claimed the same way: one grouped
 * alert per detecting build.
 */
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { parseJson } from '../../core/parse-json.ts';
import { parseCollectionQuery, type FieldMap } from './collection-query.ts';
import { rawCollectionQuery, rawTime, type RawRow } from './raw-collection-query.ts';
import { plainSql, type PlainSql, type SqlValue } from './plain-sql.ts';

export const CHANGE_POINT_STATES = ['confirming', 'confirmed', 'dismissed'] as const;
export type ChangePointState = (typeof CHANGE_POINT_STATES)[number];
export type ChangePointDirection = 'better' | 'worse';

export interface ChangePointRow {
  id: number;
  series: string;
  /** The watched tag combination (builder, step, branch, user tags), canonical JSON with sorted keys. */
  tag_key: string;
  tags: Record<string, string>;
  builderid: number | null;
  branch: string | null;
  before_buildid: number | null;
  before_revision: string | null;
  after_buildid: number | null;
  after_revision: string | null;
  /** The first point after the change (epoch µs): with series and tags, what makes a change unique. */
  after_time: number;
  mean_before: number;
  mean_after: number;
  /** Relative change of the mean, in percent; null when the mean before is 0. */
  magnitude: number | null;
  p_value: number;
  direction: ChangePointDirection;
  state: ChangePointState;
  /** Confirming reruns requested (0: none). */
  reruns: number;
  detected_by: number | null;
  alerted: boolean;
  created_at: number;
  decided_at: number | null;
}

export type NewChangePoint = Omit<ChangePointRow, 'id' | 'tags' | 'alerted'>;

const COLUMNS = [
  'id',
  'series',
  'tag_key',
  'builderid',
  'branch',
  'before_buildid',
  'before_revision',
  'after_buildid',
  'after_revision',
  'after_time',
  'mean_before',
  'mean_after',
  'magnitude',
  'p_value',
  'direction',
  'state',
  'reruns',
  'detected_by',
  'alerted',
  'created_at',
  'decided_at',
] as const;

/** What `GET /changepoints` filters and orders on. */
export const changePointFields: FieldMap = {
  id: { column: 'id', type: 'int' },
  series: { column: 'series', type: 'string' },
  builderid: { column: 'builderid', type: 'int' },
  branch: { column: 'branch', type: 'string' },
  direction: { column: 'direction', type: 'string' },
  state: { column: 'state', type: 'string' },
  detected_by: { column: 'detected_by', type: 'int' },
  after_buildid: { column: 'after_buildid', type: 'int' },
  created_at: { column: 'created_at', type: 'time' },
};

const tagsSchema = z.record(z.string(), z.string());
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function toRow(r: RawRow): ChangePointRow {
  const id = Number(r.id);
  return {
    id,
    series: String(r.series),
    tag_key: String(r.tag_key),
    tags: parseJson(String(r.tag_key), tagsSchema, `change point ${id}'s tags`),
    builderid: num(r.builderid),
    branch: text(r.branch),
    before_buildid: num(r.before_buildid),
    before_revision: text(r.before_revision),
    after_buildid: num(r.after_buildid),
    after_revision: text(r.after_revision),
    after_time: Number(r.after_time),
    mean_before: Number(r.mean_before),
    mean_after: Number(r.mean_after),
    magnitude: num(r.magnitude),
    p_value: Number(r.p_value),
    direction: r.direction === 'better' ? 'better' : 'worse',
    state: CHANGE_POINT_STATES.find((s) => s === r.state) ?? 'confirming',
    reruns: Number(r.reruns ?? 0),
    detected_by: num(r.detected_by),
    alerted: Number(r.alerted) === 1 || r.alerted === true,
    created_at: Number(r.created_at),
    decided_at: rawTime(r.decided_at),
  };
}

export class ChangePointsRepo {
  private readonly sql: PlainSql;
  private readonly select = `SELECT ${COLUMNS.map((c) => `"${c}"`).join(', ')} FROM "change_points"`;

  constructor(private readonly source: DataSource) {
    this.sql = plainSql(source);
  }

  /** Stores a change; null when it is stored already (same series, tags and first point after). */
  async insert(c: NewChangePoint): Promise<number | null> {
    const values: Record<string, SqlValue> = { ...c };
    const columns = Object.keys(values);
    const text = this.sql.text(`cp:insert:${columns.join(',')}`, (p) => {
      const names = columns.map((n) => `"${n}"`).join(', ');
      const marks = columns.map((_, i) => p(i + 1)).join(', ');
      return `INSERT INTO "change_points" (${names}) VALUES (${marks}) ON CONFLICT ("series", "tag_key", "after_time") DO NOTHING RETURNING "id"`;
    });
    const { rows } = await this.sql.run(
      text,
      columns.map((n) => values[n] ?? null),
    );
    const id = num(rows[0]?.id);
    return id === null ? null : id;
  }

  async get(id: number): Promise<ChangePointRow | null> {
    const text = this.sql.text('cp:get', (p) => `${this.select} WHERE "id" = ${p(1)}`);
    const { rows } = await this.sql.run(text, [id]);
    return rows[0] ? toRow(rows[0]) : null;
  }

  /** The first points after the changes stored for a series and tag combination (epoch µs). */
  async afterTimes(series: string, tagKey: string): Promise<number[]> {
    const text = this.sql.text(
      'cp:after-times',
      (p) => `SELECT "after_time" FROM "change_points" WHERE "series" = ${p(1)} AND "tag_key" = ${p(2)}`,
    );
    return (await this.sql.run(text, [series, tagKey])).rows.map((r) => Number(r.after_time));
  }

  async ofBuild(detectedBy: number): Promise<ChangePointRow[]> {
    const text = this.sql.text('cp:of-build', (p) => `${this.select} WHERE "detected_by" = ${p(1)} ORDER BY "id"`);
    return (await this.sql.run(text, [detectedBy])).rows.map(toRow);
  }

  /** Moves a change out of `confirming`; false when another master (or call) decided it first. */
  async decide(id: number, state: Exclude<ChangePointState, 'confirming'>, now: number): Promise<boolean> {
    const text = this.sql.text(
      'cp:decide',
      (p) => `UPDATE "change_points" SET "state" = ${p(1)}, "decided_at" = ${p(2)} WHERE "id" = ${p(3)} AND "state" = 'confirming'`,
    );
    return (await this.sql.run(text, [state, now, id])).affected > 0;
  }

  /**
   * Claims the confirmed worse changes of a build not alerted yet, when none of its changes is still
   * confirming; returns those this call claimed (empty: nothing to alert, or another master did).
   */
  async claimAlert(detectedBy: number): Promise<ChangePointRow[]> {
    const pending = await this.sql.run(
      this.sql.text(
        'cp:confirming-of',
        (p) => `SELECT COUNT(*) AS "n" FROM "change_points" WHERE "detected_by" = ${p(1)} AND "state" = 'confirming'`,
      ),
      [detectedBy],
    );
    if (Number(pending.rows[0]?.n ?? 0) > 0) return [];
    const candidates = (await this.ofBuild(detectedBy)).filter((c) => c.state === 'confirmed' && c.direction === 'worse' && !c.alerted);
    const claimed: ChangePointRow[] = [];
    const text = this.sql.text('cp:claim-alert', (p) => `UPDATE "change_points" SET "alerted" = 1 WHERE "id" = ${p(1)} AND "alerted" = 0`);
    for (const c of candidates) if ((await this.sql.run(text, [c.id])).affected > 0) claimed.push({ ...c, alerted: true });
    return claimed;
  }

  /** Records a confirming rerun's value (null: it measured nothing); returns how many reruns are recorded. */
  async addRerun(changePointId: number, buildid: number, value: number | null): Promise<number> {
    await this.sql.run(
      this.sql.text(
        'cp:add-rerun',
        (p) =>
          `INSERT INTO "change_point_reruns" ("change_point_id", "buildid", "value") VALUES (${p(1)}, ${p(2)}, ${p(3)}) ON CONFLICT ("change_point_id", "buildid") DO NOTHING`,
      ),
      [changePointId, buildid, value],
    );
    return (await this.rerunValues(changePointId)).length;
  }

  /** The reruns' values, in build order (null: that rerun measured nothing). */
  async rerunValues(changePointId: number): Promise<(number | null)[]> {
    const text = this.sql.text(
      'cp:rerun-values',
      (p) => `SELECT "value" FROM "change_point_reruns" WHERE "change_point_id" = ${p(1)} ORDER BY "buildid"`,
    );
    return (await this.sql.run(text, [changePointId])).rows.map((r) => num(r.value));
  }

  /**
   * Open regressions: worse changes confirming or confirmed that are still the newest change of their
   * series and tags (no later change, better or worse, has been stored since).
   */
  async countOpenRegressions(): Promise<number> {
    const { rows } = await this.sql.run(
      `SELECT COUNT(*) AS "n" FROM "change_points" c WHERE c."direction" = 'worse' AND c."state" IN ('confirming', 'confirmed')
         AND NOT EXISTS (SELECT 1 FROM "change_points" d WHERE d."series" = c."series" AND d."tag_key" = c."tag_key"
           AND d."after_time" > c."after_time" AND d."state" <> 'dismissed')`,
      [],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** The API's collection query (filters, order, paging as every collection). */
  async query(raw: Record<string, unknown>): Promise<{ rows: ChangePointRow[]; total: number }> {
    const q = parseCollectionQuery(raw, changePointFields);
    const page = await rawCollectionQuery(this.source, 'change_points', COLUMNS, changePointFields, q, { field: 'id', desc: true });
    return { rows: page.rows.map(toRow), total: page.total };
  }
}
