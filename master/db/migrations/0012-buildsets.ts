import { Table, TableColumn, TableForeignKey, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Buildsets, as Buildbot's: the requests one submission made (a scheduler's builders for one change,
 * one trigger, one tick), named by the scheduler that made them. A dependent scheduler waits for its
 * upstream's buildsets (`dependent_waits`, written with the buildset, so a master that stops between
 * the upstream's end and the downstream's submission still submits it when it starts again); a
 * nightly triggerable scheduler keeps what the last Trigger step armed it with (`nightly_arms`).
 */
export class Buildsets1764000000012 implements MigrationInterface {
  name = 'Buildsets1764000000012';

  async up(qr: QueryRunner): Promise<void> {
    await qr.createTable(
      new Table({
        name: 'buildsets',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'scheduler', type: 'varchar', length: '100', isNullable: true },
          { name: 'reason', type: 'text' },
          { name: 'submitted_at', type: 'bigint' },
          { name: 'parent_buildid', type: 'integer', isNullable: true },
        ],
        indices: [new TableIndex({ columnNames: ['scheduler'] })],
      }),
    );
    await qr.addColumn('buildrequests', new TableColumn({ name: 'buildsetid', type: 'integer', isNullable: true }));
    await qr.createIndex('buildrequests', new TableIndex({ columnNames: ['buildsetid'] }));
    await qr.createTable(
      new Table({
        name: 'dependent_waits',
        columns: [
          { name: 'scheduler', type: 'varchar', length: '100', isPrimary: true },
          { name: 'buildsetid', type: 'integer', isPrimary: true },
        ],
        indices: [new TableIndex({ columnNames: ['buildsetid'] })],
        foreignKeys: [
          new TableForeignKey({
            columnNames: ['buildsetid'],
            referencedTableName: 'buildsets',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
            onUpdate: 'NO ACTION',
          }),
        ],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'nightly_arms',
        columns: [
          { name: 'scheduler', type: 'varchar', length: '100', isPrimary: true },
          { name: 'properties', type: 'text', default: "'{}'" },
          { name: 'changeids', type: 'text', default: "'[]'" },
          { name: 'parent_buildid', type: 'integer', isNullable: true },
          { name: 'armed_at', type: 'bigint' },
        ],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable('nightly_arms');
    await qr.dropTable('dependent_waits');
    await qr.dropColumn('buildrequests', 'buildsetid');
    await qr.dropTable('buildsets');
  }
}
