import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { columnTypes } from '../db-kind.ts';

export class Metrics1764000000002 implements MigrationInterface {
  name = 'Metrics1764000000002';

  async up(qr: QueryRunner): Promise<void> {
    const kind = qr.connection.options.type === 'postgres' ? 'postgres' : 'sqlite';
    const t = columnTypes(kind);
    const pk = { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' as const };
    const nullableVarchar = (name: string, length: number) => ({ name, type: 'varchar', length: String(length), isNullable: true });
    await qr.createTable(
      new Table({
        name: 'metric_points',
        columns: [
          pk,
          { name: 'series', type: 'varchar', length: '200' },
          { name: 'time', type: 'bigint' },
          { name: 'value', type: t.float },
          nullableVarchar('builder', 100),
          nullableVarchar('step', 150),
          nullableVarchar('agent', 100),
          nullableVarchar('result', 20),
          { name: 'tagset', type: 'text', default: "''" },
          { name: 'build_number', type: 'integer', isNullable: true },
          { name: 'buildid', type: 'integer', isNullable: true },
        ],
        indices: [
          new TableIndex({ columnNames: ['series', 'time'] }),
          new TableIndex({ columnNames: ['series', 'builder', 'time'] }),
          new TableIndex({ columnNames: ['buildid'] }),
        ],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'metric_series',
        columns: [
          pk,
          { name: 'name', type: 'varchar', length: '200', isUnique: true },
          { name: 'kind', type: 'varchar', length: '20' },
          nullableVarchar('unit', 30),
          { name: 'tag_keys', type: 'text', default: "'[]'" },
        ],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'metric_state',
        columns: [
          { name: 'key', type: 'varchar', length: '600', isPrimary: true },
          { name: 'last_value', type: t.float, isNullable: true },
          { name: 'total', type: t.float, default: 0 },
        ],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'metric_spool',
        columns: [pk, { name: 'lines', type: 'text' }, { name: 'points', type: 'integer' }, { name: 'created_at', type: 'bigint' }],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    for (const table of ['metric_spool', 'metric_state', 'metric_series', 'metric_points']) await qr.dropTable(table);
  }
}
