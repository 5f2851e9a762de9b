import { Table, TableForeignKey, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

const fk = (column: string, table: string) =>
  new TableForeignKey({
    columnNames: [column],
    referencedTableName: table,
    referencedColumnNames: ['id'],
    onDelete: 'CASCADE',
    onUpdate: 'NO ACTION',
  });

/** Changes (commits seen by a poller or posted to the API) and the build requests that build them. */
export class Changes1764000000005 implements MigrationInterface {
  name = 'Changes1764000000005';

  async up(qr: QueryRunner): Promise<void> {
    const varchar = (name: string, length: number, isNullable = false) => ({ name, type: 'varchar', length: String(length), isNullable });
    await qr.createTable(
      new Table({
        name: 'changes',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          varchar('repository', 500),
          varchar('branch', 250, true),
          varchar('revision', 100),
          varchar('author', 500),
          { name: 'comments', type: 'text' },
          { name: 'files', type: 'text', default: "'[]'" },
          { ...varchar('project', 200), default: "''" },
          varchar('category', 200, true),
          { name: 'when_timestamp', type: 'bigint' },
          { name: 'created_at', type: 'bigint' },
        ],
        indices: [new TableIndex({ columnNames: ['repository', 'branch'] }), new TableIndex({ columnNames: ['revision'] })],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'buildrequest_changes',
        columns: [
          { name: 'buildrequestid', type: 'integer', isPrimary: true },
          { name: 'changeid', type: 'integer', isPrimary: true },
        ],
        indices: [new TableIndex({ columnNames: ['changeid'] })],
        foreignKeys: [fk('buildrequestid', 'buildrequests'), fk('changeid', 'changes')],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable('buildrequest_changes');
    await qr.dropTable('changes');
  }
}
