import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * A change remembers the master that stored it and whether a change scheduler still holds it for its
 * tree-stable timer, so that a master killed meanwhile takes it up again when it starts.
 */
export class ChangeWaiting1764000000006 implements MigrationInterface {
  name = 'ChangeWaiting1764000000006';

  async up(qr: QueryRunner): Promise<void> {
    const sqlite = qr.connection.options.type !== 'postgres';
    await qr.addColumn('changes', new TableColumn({ name: 'masterid', type: 'integer', isNullable: true }));
    // SQLite spells a false default 0 (as in 0001), which keeps TypeORM's schema diff empty.
    await qr.addColumn('changes', new TableColumn({ name: 'waiting', type: 'boolean', default: sqlite ? 0 : false }));
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn('changes', 'waiting');
    await qr.dropColumn('changes', 'masterid');
  }
}
