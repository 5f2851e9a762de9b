/**
 * Build numbers when masters share a database: two masters (two data sources, each with its own
 * connections) create builds of one builder at the same moment. Every create succeeds and the numbers
 * are exactly 1..N: none twice, none skipped. Numbers used to come from MAX(number)+1 with retries on
 * the unique index, and under this load some requests ended EXCEPTION (issue 17, defect 11).
 * A database that already holds builds when the counter arrives (migration 0008) continues their
 * numbers.
 */
import { describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { parseDbUrl } from '../../master/db/db-kind.ts';
import { migrations } from '../../master/db/migrations/index.ts';
import { BuildNumberCounter1764000000008 } from '../../master/db/migrations/0008-build-number-counter.ts';
import { createRepositories, type Repositories } from '../../master/db/repositories.ts';
import { testDatabases } from '../helpers/databases.ts';

const CREATES = 420;

async function builderId(repos: Repositories, name: string): Promise<number> {
  const row = (await repos.builders.sync([{ name, tags: [] }])).get(name);
  if (!row) throw new Error(`builder ${name} was not stored`);
  return row.id;
}

function newBuild(builderid: number, buildrequestid: number, masterid: number) {
  return {
    builderid,
    buildrequestid,
    masterid,
    agent: `agent-${buildrequestid}`,
    started_at: Date.now(),
    state_string: '',
    properties: '{}',
  };
}

/** 1..n */
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** The database at `url` as the release before the counter left it: migrated up to 0007. */
async function openBeforeCounter(url: string): Promise<DataSource> {
  const { kind, location } = parseDbUrl(url);
  const before = migrations.slice(0, migrations.indexOf(BuildNumberCounter1764000000008));
  const source = new DataSource(
    kind === 'sqlite' ? { type: 'better-sqlite3', database: location, migrations: before } : { type: 'postgres', url, migrations: before },
  );
  await source.initialize();
  await source.runMigrations({ transaction: 'each' });
  return source;
}

describe.each(testDatabases())('build numbers on $kind', (db) => {
  // PostgreSQL: two masters, each with its pool of connections. SQLite: one master (masters share
  // only PostgreSQL), whose concurrent creates take turns on its one connection.
  const masterCount = db.kind === 'postgres' ? 2 : 1;

  it(`${masterCount} master(s) creating ${CREATES} builds of one builder at once: all succeed, numbered 1..${CREATES}`, async () => {
    const url = await db.create();
    const opened: Database[] = [];
    try {
      for (let i = 0; i < masterCount; i++) opened.push(await openDatabase(url));
      const masters = opened.map((d) => createRepositories(d));
      const master = (i: number): Repositories => {
        const m = masters[i % masters.length];
        if (!m) throw new Error('no master opened');
        return m;
      };
      const builderid = await builderId(master(0), 'shared');
      const requests = [];
      for (let i = 0; i < CREATES; i++) {
        requests.push(await master(0).buildRequests.create({ builderid, reason: 'x', properties: {} }, Date.now()));
      }

      // The creates spread over the masters, all at once; a master starting meanwhile syncs the
      // builders (as every master does at its start), which must not set the numbering back.
      const creates = requests.map((r, i) => master(i).builds.create(newBuild(builderid, r.id, (i % masters.length) + 1)));
      const syncs = [1, 2, 3].map(() => builderId(master(1), 'shared'));
      const settled = await Promise.allSettled(creates);
      await Promise.all(syncs);

      const failures = settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
      expect(failures.length, `${failures.length} of ${CREATES} creates failed, first: ${failures[0]}`).toBe(0);
      const numbers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.number] : [])).sort((x, y) => x - y);
      expect(numbers).toEqual(oneTo(CREATES));
      const stored = await master(0).builds.query({ limit: String(CREATES + 1) }, { builderid });
      expect(stored.rows.map((r) => r.number).sort((x, y) => x - y)).toEqual(oneTo(CREATES));
    } finally {
      for (const d of opened) await d.close();
    }
  }, 120_000);

  it('continues the numbers of builds stored before the upgrade that brings the counter', async () => {
    const url = await db.create();
    const old = await openBeforeCounter(url);
    try {
      // Written as the old release wrote them: builder 1 has builds 1, 2 and 7, builder 2 none.
      await old.query(`INSERT INTO builders (name, tags) VALUES ('old', '[]'), ('fresh', '[]')`);
      await old.query(
        `INSERT INTO buildrequests (builderid, reason, submitted_at) VALUES (1, 'before', 1), (1, 'before', 2), (1, 'before', 3)`,
      );
      await old.query(
        `INSERT INTO builds (builderid, buildrequestid, number, masterid, agent, started_at, complete_at, results)
         VALUES (1, 1, 1, 1, 'a', 10, 11, 0), (1, 2, 2, 1, 'a', 20, 21, 0), (1, 3, 7, 1, 'a', 30, 31, 2)`,
      );
    } finally {
      await old.destroy();
    }

    const upgraded = await openDatabase(url);
    try {
      const repos = createRepositories(upgraded);
      const [oldId, freshId] = [await builderId(repos, 'old'), await builderId(repos, 'fresh')];
      const request = (builderid: number) => repos.buildRequests.create({ builderid, reason: 'after', properties: {} }, Date.now());
      const next = await repos.builds.create(newBuild(oldId, (await request(oldId)).id, 1));
      const first = await repos.builds.create(newBuild(freshId, (await request(freshId)).id, 1));
      expect([next.number, first.number]).toEqual([8, 1]);
      // The builds from before the upgrade are all still there (SQLite rebuilds the builders table).
      const stored = await repos.builds.query({}, { builderid: oldId });
      expect(stored.rows.map((b) => [b.number, b.results])).toEqual([
        [1, 0],
        [2, 0],
        [7, 2],
        [8, null],
      ]);
    } finally {
      await upgraded.close();
    }
  });
});
