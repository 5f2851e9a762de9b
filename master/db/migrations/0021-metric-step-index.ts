import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An index on `metric_points` (series, builder, step, time) for points that have a step: a step's
 * newest points found at once. The regression watcher reads each series of a builder's step newest
 * first (SqlMetricsStore's recentPoints); with the builder as the deepest tag in the indexes, a read
 * of one step's whole history walked every point of the builder's other steps in the series (50
 * steps × 2000 points: 100 000 index entries and rows to find one step's points).
 *
 * Partial (`WHERE step IS NOT NULL`), so only a read that names a step can use it (both databases
 * know `step = ?` implies it). SQLite with statistics from an ANALYZE before the upgrade (none for
 * the new index) took a full one for reads of a series or a builder without a step too, and sorted
 * every point of it for a page that (series, time) or (series, builder, time) gives in order.
 * Those two stay: they serve the reads without a step (a builder's steps read together by the
 * watcher, points in the API), in time order, which this index cannot give across steps.
 *
 * `IF NOT EXISTS`, under the name TypeORM gives the entity's index (entities.ts), so a database
 * that already has it (made by hand ahead of an upgrade) migrates as well. On PostgreSQL the build
 * holds off inserts into metric_points while it runs (seconds per million points), at master start.
 */
export class MetricStepIndex1764000000021 implements MigrationInterface {
  name = 'MetricStepIndex1764000000021';

  async up(qr: QueryRunner): Promise<void> {
    const columns = STEP_INDEX.columns.map((c) => `"${c}"`).join(', ');
    await qr.query(
      `CREATE INDEX IF NOT EXISTS "${stepIndexName(qr.connection)}" ON "metric_points" (${columns}) WHERE ${STEP_INDEX.where}`,
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.query(`DROP INDEX IF EXISTS "${stepIndexName(qr.connection)}"`);
  }
}

/** Also in the entity schema (entities.ts): the two must agree, or the schema test fails. */
export const STEP_INDEX = { columns: ['series', 'builder', 'step', 'time'], where: '"step" IS NOT NULL' };

/** The name TypeORM gives this index when it reads the entity, so the schema test sees no difference. */
export function stepIndexName(source: Pick<DataSource, 'namingStrategy'>): string {
  return source.namingStrategy.indexName('metric_points', STEP_INDEX.columns, STEP_INDEX.where);
}
