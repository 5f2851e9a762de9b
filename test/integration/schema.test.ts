/** The migrations and the entity schemas describe the same database: TypeORM's diff between them is empty. */
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../master/db/data-source.ts';
import { testDatabases } from '../helpers/databases.ts';

describe.each(testDatabases())('schema on $kind', (db) => {
  it('has no drift between migrations and entities', async () => {
    const database = await openDatabase(await db.create());
    try {
      const pending = await database.source.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
      const migrations = (await database.source.query('SELECT name FROM migrations ORDER BY id')) as { name: string }[];
      expect(migrations.map((m) => m.name)).toEqual(database.source.migrations.map((m) => m.name));
    } finally {
      await database.close();
    }
  });

  it('runs migrations once: reopening an up-to-date database changes nothing', async () => {
    const url = await db.create();
    const first = await openDatabase(url);
    await first.close();
    const second = await openDatabase(url);
    try {
      const rows = (await second.source.query('SELECT COUNT(*) AS n FROM migrations')) as { n: string | number }[];
      expect(Number(rows[0]?.n)).toBe(second.source.migrations.length);
    } finally {
      await second.close();
    }
  });
});
