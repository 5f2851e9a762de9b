import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The queue, by priority. Requests have had a `priority` column since 0001, always 0; now forces,
 * schedulers and builders set it, and the claimer reads each builder's queue highest priority
 * first, then oldest (master/db/buildrequests.ts unclaimed()), as do the collapser and
 * prioritizeBuilders (queued(), queueHeads()). This index serves those reads: a builder's unclaimed
 * requests in claim order, without sorting a long queue on every pass.
 */
export class RequestPriority1764000000013 implements MigrationInterface {
  name = 'RequestPriority1764000000013';

  async up(qr: QueryRunner): Promise<void> {
    await qr.createIndex('buildrequests', new TableIndex({ columnNames: QUEUE_COLUMNS }));
  }

  async down(qr: QueryRunner): Promise<void> {
    const table = await qr.getTable('buildrequests');
    const index = table?.indices.find((i) => i.columnNames.join() === QUEUE_COLUMNS.join());
    if (index) await qr.dropIndex('buildrequests', index);
  }
}

/** Also in the entity schema (entities.ts): the two must agree, or the schema test fails. */
const QUEUE_COLUMNS = ['builderid', 'complete', 'claimed_by_masterid', 'priority', 'submitted_at'];
