/**
 * The writes every build and every agent connect make, on each database: agent connects arriving
 * together are written in one transaction and each lands as given; a build's end completes or
 * releases its request in the same transaction; the claimer's queue read binds its values in the
 * right places (SQLite's `?` binds by position).
 */
import { describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { createRepositories, type Repositories } from '../../master/db/repositories.ts';
import { Results } from '../../core/results.ts';
import { testDatabases } from '../helpers/databases.ts';

describe.each(testDatabases())('hot-path writes on $kind', (db) => {
  async function withDatabase(work: (t: { database: Database; repos: Repositories; masterid: number }) => Promise<void>) {
    const database = await openDatabase(await db.create());
    try {
      const repos = createRepositories(database);
      const master = await repos.masters.register('m', Date.now());
      await work({ database, repos, masterid: master.id });
    } finally {
      await database.close();
    }
  }

  it('writes 300 agents connecting at once in one transaction, each row as given, the later connect of a name last', async () => {
    await withDatabase(async ({ database, repos, masterid }) => {
      const source = database.source;
      const real = source.transaction.bind(source);
      let transactions = 0;
      source.transaction = ((...args: Parameters<typeof real>) => {
        transactions++;
        return real(...args);
      }) as typeof source.transaction;
      const writes = Array.from({ length: 300 }, (_, i) => repos.agents.connected(`a${i % 250}`, { os: `os-${i}` }, masterid, 1000 + i));
      await Promise.all(writes);
      expect(transactions).toBe(1);
      const rows = await repos.agents.list();
      expect(rows).toHaveLength(250);
      const byName = new Map(rows.map((r) => [r.name, r]));
      // a0..a49 connected twice: the second connect (i = 250..299) is what is stored.
      expect(JSON.parse(byName.get('a7')?.info ?? '{}')).toEqual({ os: 'os-257' });
      expect(Number(byName.get('a7')?.last_connected_at)).toBe(1257);
      expect(JSON.parse(byName.get('a100')?.info ?? '{}')).toEqual({ os: 'os-100' });
      expect(rows.every((r) => r.connected_to_masterid === masterid)).toBe(true);
    });
  });

  it('reads each builder’s first queued requests by priority then age, claims one once, and finishes or releases with the build', async () => {
    await withDatabase(async ({ repos, masterid }) => {
      const builders = await repos.builders.sync([
        { name: 'x', tags: [] },
        { name: 'y', tags: [] },
      ]);
      const x = builders.get('x')?.id ?? 0;
      const y = builders.get('y')?.id ?? 0;
      const make = (builderid: number, priority: number, at: number) =>
        repos.buildRequests.create({ builderid, reason: `p${priority}@${at}`, properties: {}, priority }, at);
      await make(x, 0, 1);
      await make(x, 5, 2);
      await make(x, 5, 3);
      await make(y, 0, 4);
      await make(y, 9, 5);
      const read = await repos.buildRequests.unclaimed([x, y], 2);
      expect(read.map((r) => r.reason)).toEqual(['p9@5', 'p5@2', 'p5@3', 'p0@4']);
      expect(read[0]).toMatchObject({
        builderid: y,
        priority: 9,
        submitted_at: 5,
        complete: false,
        claimed_by_masterid: null,
        results: null,
      });

      const first = read[0]?.id ?? 0;
      expect(await repos.buildRequests.claim(first, masterid, 10)).toBe(true);
      expect(await repos.buildRequests.claim(first, masterid, 11)).toBe(false);
      const build = await repos.builds.create({
        builderid: y,
        buildrequestid: first,
        masterid,
        agent: 'a',
        started_at: 10,
        state_string: 'starting',
        properties: '{}',
      });
      expect(build.number).toBe(1);
      await repos.builds.finish(
        build.id,
        { results: Results.RETRY, complete_at: 20, state_string: 'retry', properties: '{}' },
        { release: first },
      );
      expect(await repos.buildRequests.get(first)).toMatchObject({ complete: false, claimed_by_masterid: null });
      expect(await repos.buildRequests.claim(first, masterid, 30)).toBe(true);
      await repos.builds.finish(
        build.id,
        { results: Results.SUCCESS, complete_at: 40, state_string: 'ok', properties: '{"a":1}' },
        { complete: first },
      );
      expect(await repos.buildRequests.get(first)).toMatchObject({ complete: true, complete_at: 40, results: Results.SUCCESS });
      expect(await repos.builds.get(build.id)).toMatchObject({ results: Results.SUCCESS, complete_at: 40, properties: '{"a":1}' });
      expect((await repos.buildRequests.unclaimed([x, y], 2)).map((r) => r.reason)).toEqual(['p5@2', 'p5@3', 'p0@4']);
    });
  });
});
