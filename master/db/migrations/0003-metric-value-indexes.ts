import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Percentiles read the k-th smallest value of a series: these indexes make that a short index walk. */
export class MetricValueIndexes1764000000003 implements MigrationInterface {
  name = 'MetricValueIndexes1764000000003';

  async up(qr: QueryRunner): Promise<void> {
    await qr.createIndex('metric_points', new TableIndex({ columnNames: ['series', 'value'] }));
    await qr.createIndex('metric_points', new TableIndex({ columnNames: ['series', 'builder', 'value'] }));
  }

  async down(qr: QueryRunner): Promise<void> {
    const table = await qr.getTable('metric_points');
    for (const index of table?.indices ?? []) {
      if (index.columnNames.includes('value')) await qr.dropIndex('metric_points', index);
    }
  }
}
