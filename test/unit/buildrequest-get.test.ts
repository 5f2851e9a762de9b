/**
 * BuildRequestsRepo.get() reads a request with one plain statement, its row mapped by hand (the
 * poll of `GET /buildrequests/ID` and the collapser read it often): it must answer exactly what the
 * entity read answers, queued, claimed and complete, on a fresh SQLite file and a fresh PostgreSQL
 * database (test/helpers/databases.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { createRepositories, type Repositories } from '../../master/db/repositories.ts';
import type { BuildRequestRow } from '../../master/db/entities.ts';
import { Results } from '../../core/results.ts';
import { testDatabases } from '../helpers/databases.ts';
import { createBuilder } from './helpers.ts';

describe.each(testDatabases())('build request get() on $kind', (database) => {
  let db: Database;
  let repos: Repositories;
  let builderid: number;
  beforeAll(async () => {
    db = await openDatabase(await database.create());
    repos = createRepositories(db);
    builderid = (await createBuilder(repos, 'b')).id;
  });
  afterAll(async () => {
    await db?.close();
  });

  const asEntity = (id: number) => db.source.getRepository<BuildRequestRow>('BuildRequest').findOneBy({ id });

  it('answers what the entity read answers, as the request moves on', async () => {
    const masterid = (await repos.masters.register('m', Date.now())).id;
    const request = await repos.buildRequests.create(
      { builderid, reason: 'a reason', properties: { n: [3, 'Force'] }, priority: 7, matrix: { os: 'linux' } },
      1_796_000_000_123,
    );
    const same = async () => {
      const read = await repos.buildRequests.get(request.id);
      expect(read).toEqual(await asEntity(request.id));
      return read;
    };
    expect(await same()).toMatchObject({ id: request.id, priority: 7, complete: false, claimed_by_masterid: null, results: null });
    await repos.buildRequests.claim(request.id, masterid, 1_796_000_000_456);
    expect(await same()).toMatchObject({ claimed_by_masterid: masterid, claimed_at: 1_796_000_000_456 });
    await repos.buildRequests.complete(request.id, Results.WARNINGS, 1_796_000_000_789);
    expect(await same()).toMatchObject({
      complete: true,
      complete_at: 1_796_000_000_789,
      results: Results.WARNINGS,
      matrix: '{"os":"linux"}',
    });
  });

  it('answers null for a request that does not exist', async () => {
    expect(await repos.buildRequests.get(987_654)).toBeNull();
  });
});
