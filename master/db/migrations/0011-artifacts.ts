import { Table, TableForeignKey, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

const fk = (column: string, table: string) =>
  new TableForeignKey({
    columnNames: [column],
    referencedTableName: table,
    referencedColumnNames: ['id'],
    onDelete: 'CASCADE',
    onUpdate: 'NO ACTION',
  });

/**
 * Build artifacts: files an upload step kept for its build (FileUpload / DirectoryUpload with
 * `artifact`), listed and downloaded through the API. The row says where the file is on the master.
 */
export class Artifacts1764000000011 implements MigrationInterface {
  name = 'Artifacts1764000000011';

  async up(qr: QueryRunner): Promise<void> {
    await qr.createTable(
      new Table({
        name: 'artifacts',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'buildid', type: 'integer' },
          { name: 'stepid', type: 'integer' },
          { name: 'name', type: 'varchar', length: '200' },
          { name: 'path', type: 'text' },
          { name: 'size', type: 'bigint' },
          { name: 'sha256', type: 'varchar', length: '64' },
          { name: 'created_at', type: 'bigint' },
        ],
        indices: [new TableIndex({ columnNames: ['buildid', 'name'], isUnique: true })],
        foreignKeys: [fk('buildid', 'builds'), fk('stepid', 'steps')],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable('artifacts');
  }
}
