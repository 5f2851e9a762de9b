import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Logs at rest and their retention (issue 15).
 * - `logchunks.codec`: how a chunk's bytes are kept (master/db/log-codec.ts). Rows written before
 *   this migration are `raw`, which is what they are, so old logs read as before.
 * - `logs.expired_at`: when the retention janitor removed the log's chunks (master/retention/). The
 *   log row stays, so a build's page still lists the log and says it was removed, and when.
 * Plain ALTER TABLE ... ADD COLUMN on both databases: SQLite adds a column with a constant default
 * without copying the table (TypeORM's addColumn would rebuild `logchunks`, every log ever kept).
 */
export class LogCompression1764000000016 implements MigrationInterface {
  name = 'LogCompression1764000000016';

  async up(qr: QueryRunner): Promise<void> {
    await qr.query(`ALTER TABLE "logchunks" ADD COLUMN "codec" varchar(8) NOT NULL DEFAULT 'raw'`);
    await qr.query(`ALTER TABLE "logs" ADD COLUMN "expired_at" bigint`);
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn('logs', 'expired_at');
    await qr.dropColumn('logchunks', 'codec');
  }
}
