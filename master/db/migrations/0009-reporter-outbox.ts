import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The reporters' durable outbox: one row per delivery a reporter owes (a build started, a step or a
 * build finished), kept across restarts until delivered, in order per (reporter, build).
 */
export class ReporterOutbox1764000000009 implements MigrationInterface {
  name = 'ReporterOutbox1764000000009';

  async up(qr: QueryRunner): Promise<void> {
    const ms = (name: string, isNullable = true) => ({ name, type: 'bigint', isNullable });
    await qr.createTable(
      new Table({
        name: 'reporter_outbox',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'reporter', type: 'varchar', length: '200' },
          { name: 'buildid', type: 'integer' },
          { name: 'seq', type: 'integer' },
          { name: 'payload', type: 'text' },
          { name: 'delivery_id', type: 'varchar', length: '36', isUnique: true },
          { name: 'state', type: 'varchar', length: '10', default: "'pending'" },
          { name: 'attempts', type: 'integer', default: 0 },
          ms('next_attempt_at', false),
          { name: 'claimed_by_masterid', type: 'integer', isNullable: true },
          ms('claimed_until'),
          ms('delivered_at'),
          ms('failed_at'),
          { name: 'last_error', type: 'text', isNullable: true },
          ms('created_at', false),
        ],
        indices: [
          new TableIndex({ columnNames: ['reporter', 'buildid', 'seq'], isUnique: true }),
          new TableIndex({ columnNames: ['reporter', 'state', 'next_attempt_at'] }),
        ],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable('reporter_outbox');
  }
}
