import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { columnTypes } from '../db-kind.ts';

/**
 * The regression watcher's change points (master/regressions): one row per change found in a
 * watched series, unique by (series, tag combination, the first point after the change), so a
 * restarted master or a second one on the same PostgreSQL never stores a change twice; and the
 * values of its confirming reruns, one row per rerun build.
 */
export class ChangePoints1764000000018 implements MigrationInterface {
  name = 'ChangePoints1764000000018';

  async up(qr: QueryRunner): Promise<void> {
    const t = columnTypes(qr.connection.options.type === 'postgres' ? 'postgres' : 'sqlite');
    const pk = { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' as const };
    const nullable = (name: string, type: string, length?: number) => ({
      name,
      type,
      isNullable: true,
      ...(length === undefined ? {} : { length: String(length) }),
    });
    await qr.createTable(
      new Table({
        name: 'change_points',
        columns: [
          pk,
          { name: 'series', type: 'varchar', length: '200' },
          { name: 'tag_key', type: 'varchar', length: '1000' },
          nullable('builderid', 'integer'),
          nullable('branch', 'varchar', 200),
          nullable('before_buildid', 'integer'),
          nullable('before_revision', 'varchar', 200),
          nullable('after_buildid', 'integer'),
          nullable('after_revision', 'varchar', 200),
          { name: 'after_time', type: 'bigint' },
          { name: 'mean_before', type: t.float },
          { name: 'mean_after', type: t.float },
          nullable('magnitude', t.float),
          { name: 'p_value', type: t.float },
          { name: 'direction', type: 'varchar', length: '6' },
          { name: 'state', type: 'varchar', length: '10' },
          { name: 'reruns', type: 'integer', default: 0 },
          nullable('detected_by', 'integer'),
          { name: 'alerted', type: 'integer', default: 0 },
          { name: 'created_at', type: 'bigint' },
          nullable('decided_at', 'bigint'),
        ],
        indices: [
          new TableIndex({ columnNames: ['series', 'tag_key', 'after_time'], isUnique: true }),
          new TableIndex({ columnNames: ['detected_by'] }),
          new TableIndex({ columnNames: ['state', 'direction'] }),
        ],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'change_point_reruns',
        columns: [pk, { name: 'change_point_id', type: 'integer' }, { name: 'buildid', type: 'integer' }, nullable('value', t.float)],
        indices: [new TableIndex({ columnNames: ['change_point_id', 'buildid'], isUnique: true })],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable('change_point_reruns');
    await qr.dropTable('change_points');
  }
}
