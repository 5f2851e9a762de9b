/**
 * The databases every integration suite runs against: a fresh SQLite file, and a fresh database on
 * the throwaway PostgreSQL that scripts/services.sh starts (CALIPER_TEST_PG_URL).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  kind: 'sqlite' | 'postgres';
  /** A new, empty database each call. */
  create(): Promise<string>;
}

const sqlite: TestDatabase = {
  kind: 'sqlite',
  async create() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-test-'));
    return `sqlite:${path.join(dir, 'caliper.sqlite')}`;
  },
};

function postgres(url: string): TestDatabase {
  return {
    kind: 'postgres',
    async create() {
      const name = `caliper_t_${randomBytes(6).toString('hex')}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`CREATE DATABASE ${name}`);
      await client.end();
      const u = new URL(url);
      u.pathname = `/${name}`;
      return u.toString();
    },
  };
}

export function testDatabases(): TestDatabase[] {
  const url = process.env.CALIPER_TEST_PG_URL;
  if (!url) {
    // The suite's own script always provides PostgreSQL; only a bare `vitest` run lacks it.
    if (process.env.CI) throw new Error('CALIPER_TEST_PG_URL is not set: run the suite with `npm test`');
    console.warn('CALIPER_TEST_PG_URL not set: PostgreSQL variants skipped (run `npm test` for the full suite)');
    return [sqlite];
  }
  return [sqlite, postgres(url)];
}
