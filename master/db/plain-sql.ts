/**
 * Plain parameterised statements for the writes every build makes (claim, build, step, log, finish).
 *
 * Why not TypeORM's update()/insert(): its query builder writes ids and times into the SQL text as
 * literals (`UPDATE "steps" SET "complete_at" = 1796608558690 ... WHERE "id" = 1`), so every statement
 * is new text: better-sqlite3 prepares it again (its statement cache, keyed by text, never hits) and the
 * builder itself costs 0.2–0.5 ms a statement. Here each shape of statement has one text, built once
 * and remembered, with every value bound: the driver's statement cache finds it the next time. On
 * PostgreSQL the statements run through TypeORM's query runner (in a surrounding transaction: pass its
 * EntityManager); on SQLite straight on the connection, in their turn (sqlite-statements.ts).
 */
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { SqliteStatements } from './sqlite-statements.ts';
import { transaction } from './transaction.ts';

/** A column's value as the drivers bind it (booleans become 0/1 on SQLite in TypeORM's runner). */
export type SqlValue = string | number | boolean | null | Buffer;

export interface PlainResult {
  /** Rows a RETURNING clause or a SELECT gave. */
  rows: Record<string, unknown>[];
  /** Rows an UPDATE or DELETE changed. */
  affected: number;
}

export class PlainSql {
  private readonly postgres: boolean;
  private readonly texts = new Map<string, string>();

  /** On SQLite, the statements run straight on the driver's connection (sqlite-statements.ts). */
  private readonly sqlite: SqliteStatements | null;

  constructor(private readonly source: DataSource) {
    this.postgres = source.options.type === 'postgres';
    this.sqlite = source.options.type === 'better-sqlite3' ? new SqliteStatements(source) : null;
  }

  /**
   * A text that changes whenever something stored may have changed (sqlite-statements.ts), for
   * caches of what reads answer; null on PostgreSQL, where other masters write too and no read this
   * cheap can tell.
   */
  version(): string | null {
    return this.sqlite?.version() ?? null;
  }

  /** `$n` on PostgreSQL, `?` on SQLite: the n-th (1-based) bound value. */
  param(n: number): string {
    return this.postgres ? `$${n}` : '?';
  }

  /**
   * The statement `build()` makes for `key`, built once. Number the placeholders in the order they
   * appear in the text: SQLite's `?` binds by position, whatever number `p()` was given.
   */
  text(key: string, build: (p: (n: number) => string) => string): string {
    let sql = this.texts.get(key);
    if (sql === undefined) this.texts.set(key, (sql = build((n) => this.param(n))));
    return sql;
  }

  /**
   * Runs `work`, whose statements are plain ones of this class, as one transaction: on SQLite
   * straight on the connection (sqlite-statements.ts; `em` is then the data source's manager, which
   * the statements here do not need), elsewhere through TypeORM (transaction.ts).
   */
  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    if (this.sqlite) return this.sqlite.transaction(() => work(this.source.manager));
    return transaction(this.source, work);
  }

  /** Runs `sql` with `params` (in `em`'s transaction when given). */
  async run(sql: string, params: readonly SqlValue[], em?: EntityManager): Promise<PlainResult> {
    // On SQLite `em` adds nothing: one connection, and the turn says whose transaction is open.
    if (this.sqlite) return this.sqlite.run(sql, params);
    const own = em?.queryRunner === undefined;
    const runner: QueryRunner = em?.queryRunner ?? this.source.createQueryRunner();
    try {
      const result = await runner.query(sql, [...params], true);
      const records: unknown = result.records;
      return { rows: Array.isArray(records) ? (records as Record<string, unknown>[]) : [], affected: result.affected ?? 0 };
    } finally {
      if (own) await runner.release();
    }
  }

  /** The first column of each row a SELECT gives, in order (no object made of a row on SQLite). */
  async column(sql: string, params: readonly SqlValue[]): Promise<unknown[]> {
    if (this.sqlite) return this.sqlite.column(sql, params);
    const { rows } = await this.run(sql, params);
    return rows.map((row) => Object.values(row)[0]);
  }

  /** `UPDATE "table" SET "a" = ?, … WHERE "id" = ?`; the rows changed (0 or 1). Undefined values are left out. */
  async updateById(table: string, id: number, values: Record<string, SqlValue | undefined>, em?: EntityManager): Promise<number> {
    const columns = Object.keys(values).filter((k) => values[k] !== undefined);
    if (columns.length === 0) return 0;
    const sql = this.text(`u:${table}:${columns.join(',')}`, (p) => {
      const set = columns.map((c, i) => `"${c}" = ${p(i + 1)}`).join(', ');
      return `UPDATE "${table}" SET ${set} WHERE "id" = ${p(columns.length + 1)}`;
    });
    const params = columns.map((c) => values[c] as SqlValue);
    return (await this.run(sql, [...params, id], em)).affected;
  }

  /** `INSERT INTO "table" (…) VALUES (…) RETURNING "id"`: the new row's id. */
  async insertReturningId(table: string, values: Record<string, SqlValue>, em?: EntityManager): Promise<number> {
    const columns = Object.keys(values);
    const sql = this.text(`i:${table}:${columns.join(',')}`, (p) => {
      const names = columns.map((c) => `"${c}"`).join(', ');
      const marks = columns.map((_, i) => p(i + 1)).join(', ');
      return `INSERT INTO "${table}" (${names}) VALUES (${marks}) RETURNING "id"`;
    });
    const { rows } = await this.run(
      sql,
      columns.map((c) => values[c] as SqlValue),
      em,
    );
    const id = Number(rows[0]?.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`insert into ${table} returned no usable id: ${JSON.stringify(rows)}`);
    return id;
  }
}

/** One PlainSql per data source, so every repository over it shares the statement texts. */
const bySource = new WeakMap<DataSource, PlainSql>();
export function plainSql(source: DataSource): PlainSql {
  let sql = bySource.get(source);
  if (!sql) bySource.set(source, (sql = new PlainSql(source)));
  return sql;
}
