import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Each builder counts its build numbers (`last_build_number`), raised in the transaction that inserts
 * a build: numbers came from MAX(number)+1 before, which two masters sharing a database could both
 * compute at once. The counter starts at the highest number already stored, so numbers continue.
 */
export class BuildNumberCounter1764000000008 implements MigrationInterface {
  name = 'BuildNumberCounter1764000000008';

  async up(qr: QueryRunner): Promise<void> {
    await qr.addColumn('builders', new TableColumn({ name: 'last_build_number', type: 'integer', default: 0 }));
    await qr.query(
      'UPDATE builders SET last_build_number = COALESCE((SELECT MAX(b.number) FROM builds b WHERE b.builderid = builders.id), 0)',
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn('builders', 'last_build_number');
  }
}
