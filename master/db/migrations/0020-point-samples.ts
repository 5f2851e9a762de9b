import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `metric_points.samples`: the samples of a measurement repeated within one build
 * (MeasureShellCommand `repeat`), a JSON array of numbers; the point's value is their median. Null
 * for every point before, and for single measurements. A plain ADD COLUMN without a default: neither
 * database rewrites the table (it holds every point ever measured).
 */
export class PointSamples1764000000020 implements MigrationInterface {
  name = 'PointSamples1764000000020';

  async up(qr: QueryRunner): Promise<void> {
    await qr.query(`ALTER TABLE "metric_points" ADD COLUMN "samples" text`);
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn('metric_points', 'samples');
  }
}
