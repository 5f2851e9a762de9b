/**
 * Migration 0021: the (series, builder, step, time) index on metric_points, partial to points with a
 * step. A database at the version before, with points in it, migrates; the regression watcher's read
 * of one step's whole history then finds the step's points by that index (SQLite's EXPLAIN QUERY
 * PLAN, PostgreSQL's EXPLAIN of the generic plan the driver's prepared statement comes to), not by
 * walking the builder's other steps; and reads that name no step keep the indexes that give them
 * time order (SQLite, with statistics from before the upgrade, took a full step index for them and
 * sorted every point: hence a partial one).
 * On SQLite and, with CALIPER_TEST_PG_URL, PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DataSource } from 'typeorm';
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { entities, metricEntities } from '../../master/db/entities.ts';
import { migrations } from '../../master/db/migrations/index.ts';
import { MetricStepIndex1764000000021, stepIndexName } from '../../master/db/migrations/0021-metric-step-index.ts';
import { parseDbUrl } from '../../master/db/db-kind.ts';
import { SqlMetricsStore } from '../../metrics/stores/sql-store.ts';
import type { MetricPoint } from '../../metrics/metric-point.ts';
import { silentLogger } from '../../core/logger.ts';
import { testDatabases } from '../helpers/databases.ts';

const STEPS = 20;
const BUILDS = 150;
const T0 = Date.UTC(2026, 0, 1) * 1000;

const opened: Database[] = [];
afterAll(async () => {
  for (const db of opened) await db.close();
});

/** The database at the version before migration 0021, as a master of that version left it. */
async function atPreviousVersion(url: string): Promise<DataSource> {
  const { kind, location } = parseDbUrl(url);
  const before = migrations.slice(0, migrations.indexOf(MetricStepIndex1764000000021));
  const common = { entities: [...entities(kind), ...metricEntities(kind)], migrations: before, synchronize: false };
  const source =
    kind === 'sqlite'
      ? new DataSource({ type: 'better-sqlite3', database: location, ...common })
      : new DataSource({ type: 'postgres', url: location, ...common });
  await source.initialize();
  await source.runMigrations({ transaction: 'each' });
  return source;
}

/** Every build writes one point per step into one series; a step added by the last build has one. */
async function fill(store: SqlMetricsStore): Promise<void> {
  for (let b = 0; b < BUILDS; b++) {
    const points: MetricPoint[] = [];
    for (let s = 0; s < STEPS; s++) {
      const time = T0 + (b * STEPS + s) * 1000;
      points.push({
        series: 'step_duration',
        time,
        value: s + b / 1000,
        tags: { builder: 'big', step: `s${s}` },
        buildNumber: b,
        buildid: b + 1,
      });
    }
    await store.write(points);
  }
  const last = { buildNumber: BUILDS, buildid: BUILDS + 1 };
  await store.write([
    { series: 'step_duration', time: T0 + BUILDS * STEPS * 1000, value: 1, tags: { builder: 'big', step: 'new' }, ...last },
  ]);
  await store.flush();
}

/** The plan of a statement, as text: SQLite's EXPLAIN QUERY PLAN; PostgreSQL's generic plan of it prepared. */
async function plan(db: Database, sql: string, params: unknown[]): Promise<string> {
  if (db.kind === 'sqlite') {
    const rows = (await db.source.query(`EXPLAIN QUERY PLAN ${sql}`, params)) as { detail: string }[];
    return rows.map((r) => r.detail).join('\n');
  }
  // The driver prepares each text once and PostgreSQL plans it for any values after a few runs: the
  // generic plan is the one to check (`step = $3` proves `step IS NOT NULL` without the value).
  const qr = db.source.createQueryRunner();
  try {
    await qr.query('SET plan_cache_mode = force_generic_plan');
    await qr.query(`PREPARE step_read AS ${sql}`);
    const literals = params.map((p) => (typeof p === 'number' ? String(p) : `'${String(p).replace(/'/g, "''")}'`));
    const rows = (await qr.query(`EXPLAIN EXECUTE step_read(${literals.join(', ')})`)) as { 'QUERY PLAN': string }[];
    await qr.query('DEALLOCATE step_read');
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    await qr.query('RESET plan_cache_mode');
    await qr.release();
  }
}

describe.each(testDatabases())('metric_points step index on $kind', (test) => {
  let db: Database;
  let store: SqlMetricsStore;

  beforeAll(async () => {
    const url = await test.create();
    const old = await atPreviousVersion(url);
    await fill(new SqlMetricsStore(old, parseDbUrl(url).kind, silentLogger));
    // Statistics from before the upgrade, as an operator's ANALYZE (or PostgreSQL's autovacuum) left
    // them: none for the new index. SQLite then took a full step index for reads without a step.
    await old.query(test.kind === 'postgres' ? 'ANALYZE metric_points' : 'ANALYZE');
    await old.destroy();
    db = await openDatabase(url);
    opened.push(db);
    store = new SqlMetricsStore(db.source, db.kind, silentLogger);
  }, 60_000);

  it('migrates a database with points, and a step read of a whole history uses the index', async () => {
    const applied = (await db.source.query('SELECT name FROM migrations ORDER BY id')) as { name: string }[];
    expect(applied.map((m) => m.name).at(-1)).toBe('MetricStepIndex1764000000021');
    const index = stepIndexName(db.source);
    const query = vi.spyOn(db.source, 'query');
    const whole = (step: string) => ({ filter: { series: 'step_duration', builder: 'big', step, tags: {} }, limit: 400 });
    const [fresh, established] = await store.recentPoints([whole('new'), whole('s3')]);
    expect(fresh?.map((p) => p.tags.step)).toEqual(['new']);
    expect(established).toHaveLength(BUILDS);
    expect(established?.every((p) => p.tags.step === 's3')).toBe(true);
    const reads = query.mock.calls.filter(([sql]) => sql.includes('"metric_points"'));
    query.mockRestore();
    expect(reads, 'the statement(s) of the two reads').not.toHaveLength(0);
    for (const [sql, params] of reads) {
      const text = await plan(db, sql, Array.isArray(params) ? params : []);
      expect(text, `plan of ${sql}`).toContain(index);
      if (db.kind === 'sqlite') expect(text).toMatch(/series=\? AND builder=\? AND step=\?/);
      else expect(text).toMatch(/Index Cond: .*step/);
    }
  });

  it('leaves reads without a step on the time-ordered indexes', async () => {
    const index = stepIndexName(db.source);
    const query = vi.spyOn(db.source, 'query');
    await store.points({ series: 'step_duration', builder: 'big', tags: {} }, { limit: 20, offset: 0, order: 'desc' });
    await store.points({ series: 'step_duration', tags: {} }, { limit: 20, offset: 0, order: 'desc' });
    const pages = query.mock.calls.filter(([sql]) => sql.includes('ORDER BY m."time"'));
    query.mockRestore();
    expect(pages).toHaveLength(2);
    for (const [sql, params] of pages) {
      const text = await plan(db, sql, Array.isArray(params) ? params : []);
      expect(text, `plan of ${sql}`).not.toContain(index);
      if (db.kind === 'sqlite') expect(text, `plan of ${sql}`).not.toContain('TEMP B-TREE');
    }
  });
});
