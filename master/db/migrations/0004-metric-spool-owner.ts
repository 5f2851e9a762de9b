import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Spooled InfluxDB batches belong to the master that spooled them: their rollup rows are cumulative,
 * so only that master may re-send them, in its own order (masters can share one SQL database).
 */
export class MetricSpoolOwner1764000000004 implements MigrationInterface {
  name = 'MetricSpoolOwner1764000000004';

  async up(qr: QueryRunner): Promise<void> {
    await qr.addColumn('metric_spool', new TableColumn({ name: 'owner', type: 'integer', isNullable: true }));
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn('metric_spool', 'owner');
  }
}
