import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Bisections (master/bisect): one row per bisection of a change point to its culprit commit, one
 * row per build it requested or borrowed (the good and bad sides' builds), and one per commit it
 * judged. All of a bisection's state is here, so a master that restarts resumes it where it was.
 * Plain tables read and written with plain SQL (master/db/bisections.ts): no entity schema.
 */
export class Bisections1764000000019 implements MigrationInterface {
  name = 'Bisections1764000000019';

  async up(qr: QueryRunner): Promise<void> {
    const pk = { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' as const };
    const varchar = (name: string, length: number, isNullable = false) => ({ name, type: 'varchar', length: String(length), isNullable });
    const text = (name: string, isNullable = true) => ({ name, type: 'text', isNullable });
    const ms = (name: string, isNullable = true) => ({ name, type: 'bigint', isNullable });
    await qr.createTable(
      new Table({
        name: 'bisections',
        columns: [
          pk,
          { name: 'builderid', type: 'integer' },
          varchar('series', 200),
          text('tags', false),
          varchar('branch', 255, true),
          varchar('good', 64),
          varchar('bad', 64),
          text('repourl', false),
          { name: 'changepointid', type: 'integer', isNullable: true },
          // The master that drives it (masters sharing PostgreSQL): another adopts it if that one stops.
          { name: 'masterid', type: 'integer', isNullable: true },
          varchar('state', 16),
          text('commits', false),
          text('reason'),
          varchar('culprit', 64, true),
          varchar('culprit_author', 500, true),
          varchar('culprit_email', 320, true),
          text('culprit_subject'),
          ms('created_at', false),
          ms('finished_at'),
        ],
        indices: [new TableIndex({ columnNames: ['builderid', 'created_at'] }), new TableIndex({ columnNames: ['state'] })],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'bisection_builds',
        columns: [
          pk,
          { name: 'bisectionid', type: 'integer' },
          varchar('revision', 64),
          { name: 'buildrequestid', type: 'integer', isNullable: true },
          { name: 'buildid', type: 'integer', isNullable: true },
          varchar('state', 10),
          { name: 'results', type: 'integer', isNullable: true },
          text('samples'),
          ms('created_at', false),
        ],
        indices: [new TableIndex({ columnNames: ['bisectionid'] }), new TableIndex({ columnNames: ['buildrequestid'] })],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'bisection_steps',
        columns: [
          pk,
          { name: 'bisectionid', type: 'integer' },
          varchar('revision', 64),
          { name: 'position', type: 'integer' },
          varchar('verdict', 10),
          text('how', false),
          ms('decided_at', false),
        ],
        indices: [new TableIndex({ columnNames: ['bisectionid', 'revision'], isUnique: true })],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable('bisection_steps');
    await qr.dropTable('bisection_builds');
    await qr.dropTable('bisections');
  }
}
