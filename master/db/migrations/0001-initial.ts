import { Table, TableForeignKey, TableIndex, type MigrationInterface, type QueryRunner, type TableColumnOptions } from 'typeorm';
import { columnTypes, type DbKind } from '../db-kind.ts';

const pk: TableColumnOptions = { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' };
const int = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'integer', isNullable: nullable });
const ms = (name: string, nullable = true): TableColumnOptions => ({ name, type: 'bigint', isNullable: nullable });
const text = (name: string, def?: string): TableColumnOptions => ({
  name,
  type: 'text',
  ...(def === undefined ? {} : { default: `'${def}'` }),
});
const varchar = (name: string, length: number): TableColumnOptions => ({ name, type: 'varchar', length: String(length) });
// SQLite spells a false default 0; writing it so keeps TypeORM's schema diff empty on both databases.
const bool = (name: string, kind: DbKind): TableColumnOptions => ({ name, type: 'boolean', default: kind === 'sqlite' ? 0 : false });
const fk = (column: string, table: string) =>
  new TableForeignKey({
    columnNames: [column],
    referencedTableName: table,
    referencedColumnNames: ['id'],
    onDelete: 'CASCADE',
    onUpdate: 'NO ACTION',
  });

export class Initial1764000000001 implements MigrationInterface {
  name = 'Initial1764000000001';

  async up(qr: QueryRunner): Promise<void> {
    const kind = qr.connection.options.type === 'postgres' ? 'postgres' : 'sqlite';
    const t = columnTypes(kind);
    await qr.createTable(
      new Table({
        name: 'builders',
        columns: [
          pk,
          { ...varchar('name', 100), isUnique: true },
          { name: 'description', type: 'text', isNullable: true },
          text('tags', '[]'),
        ],
      }),
    );
    await qr.createTable(
      new Table({ name: 'masters', columns: [pk, { ...varchar('name', 200), isUnique: true }, bool('active', kind), ms('last_active')] }),
    );
    await qr.createTable(
      new Table({
        name: 'buildrequests',
        columns: [
          pk,
          int('builderid'),
          text('reason'),
          text('properties', '{}'),
          { ...int('priority'), default: 0 },
          ms('submitted_at', false),
          int('claimed_by_masterid', true),
          ms('claimed_at'),
          bool('complete', kind),
          ms('complete_at'),
          int('results', true),
        ],
        foreignKeys: [fk('builderid', 'builders')],
        indices: [new TableIndex({ columnNames: ['complete', 'claimed_by_masterid'] })],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'builds',
        columns: [
          pk,
          int('builderid'),
          int('buildrequestid'),
          int('number'),
          int('masterid'),
          varchar('agent', 100),
          ms('started_at', false),
          ms('complete_at'),
          int('results', true),
          text('state_string', ''),
          text('properties', '{}'),
        ],
        foreignKeys: [fk('builderid', 'builders'), fk('buildrequestid', 'buildrequests')],
        indices: [
          new TableIndex({ columnNames: ['builderid', 'number'], isUnique: true }),
          new TableIndex({ columnNames: ['buildrequestid'] }),
        ],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'steps',
        columns: [
          pk,
          int('buildid'),
          int('number'),
          varchar('name', 150),
          ms('started_at'),
          ms('complete_at'),
          int('results', true),
          text('state_string', ''),
          bool('hidden', kind),
        ],
        foreignKeys: [fk('buildid', 'builds')],
        indices: [new TableIndex({ columnNames: ['buildid', 'number'], isUnique: true })],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'logs',
        columns: [
          pk,
          int('stepid'),
          varchar('name', 100),
          varchar('slug', 100),
          varchar('type', 1),
          { ...int('num_lines'), default: 0 },
          { ...ms('num_bytes', false), default: 0 },
          bool('complete', kind),
        ],
        foreignKeys: [fk('stepid', 'steps')],
        indices: [new TableIndex({ columnNames: ['stepid', 'slug'], isUnique: true })],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'logchunks',
        columns: [pk, int('logid'), int('first_line'), int('last_line'), varchar('stream', 1), { name: 'content', type: t.binary }],
        foreignKeys: [fk('logid', 'logs')],
        indices: [new TableIndex({ columnNames: ['logid', 'first_line'] })],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'agents',
        columns: [
          pk,
          { ...varchar('name', 100), isUnique: true },
          text('info', '{}'),
          int('connected_to_masterid', true),
          ms('last_connected_at'),
        ],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    for (const table of ['agents', 'logchunks', 'logs', 'steps', 'builds', 'buildrequests', 'masters', 'builders']) {
      await qr.dropTable(table);
    }
  }
}
