import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Matrix builds (master/config/matrix.ts): a matrix builder's submission stores one request per cell,
 * all in one buildset, each with its cell (JSON: axis name -> value). The build of such a request
 * sets the cell's values as properties (source 'Matrix') and tags its metric points with them.
 * Null for every other request.
 */
export class Matrix1764000000015 implements MigrationInterface {
  name = 'Matrix1764000000015';

  async up(qr: QueryRunner): Promise<void> {
    await qr.addColumn('buildrequests', new TableColumn({ name: 'matrix', type: 'text', isNullable: true }));
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn('buildrequests', 'matrix');
  }
}
