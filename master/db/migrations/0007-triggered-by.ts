import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** A build request made by a Trigger step remembers the build that made it (the UI links both ways). */
export class TriggeredBy1764000000007 implements MigrationInterface {
  name = 'TriggeredBy1764000000007';

  async up(qr: QueryRunner): Promise<void> {
    await qr.addColumn('buildrequests', new TableColumn({ name: 'parent_buildid', type: 'integer', isNullable: true }));
    await qr.createIndex('buildrequests', new TableIndex({ columnNames: ['parent_buildid'] }));
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn('buildrequests', 'parent_buildid');
  }
}
