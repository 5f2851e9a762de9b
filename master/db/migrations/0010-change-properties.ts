import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * A change keeps the properties it came with (a pull request's pr_number, base_branch, …): shown by
 * the changes API, and still there when a change held by a tree-stable timer is offered again after
 * its master was killed.
 */
export class ChangeProperties1764000000010 implements MigrationInterface {
  name = 'ChangeProperties1764000000010';

  async up(qr: QueryRunner): Promise<void> {
    await qr.addColumn('changes', new TableColumn({ name: 'properties', type: 'text', default: "'{}'" }));
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn('changes', 'properties');
  }
}
