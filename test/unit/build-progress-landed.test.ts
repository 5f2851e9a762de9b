/**
 * A build's start and a step's end whose COMMIT answer was lost are recognised by what they stored
 * (master/db/build-progress.ts): the retry through the outage gets the same rows back, the next
 * step's first log with them, instead of writing them twice. Run on a fresh SQLite file and a fresh
 * PostgreSQL database (test/helpers/databases.ts), on the real repositories.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { createRepositories, type Repositories } from '../../master/db/repositories.ts';
import type { StepStart } from '../../master/db/build-progress.ts';
import { Results } from '../../core/results.ts';
import { testDatabases } from '../helpers/databases.ts';
import { createBuilder } from './helpers.ts';

describe.each(testDatabases())('build progress on $kind', (database) => {
  let db: Database;
  let repos: Repositories;
  let masterid: number;
  let builderid: number;
  beforeAll(async () => {
    db = await openDatabase(await database.create());
    repos = createRepositories(db);
    masterid = (await repos.masters.register('landed', Date.now())).id;
    builderid = (await createBuilder(repos, 'landed')).id;
  });
  afterAll(async () => {
    await db?.close();
  });

  async function started(first: StepStart) {
    const request = await repos.buildRequests.create({ builderid, reason: 'landed', properties: {} }, Date.now());
    await repos.buildRequests.claim(request.id, masterid, Date.now());
    const values = { builderid, buildrequestid: request.id, masterid, agent: 'a', started_at: Date.now() };
    const stored = await repos.progress.start(values, () => '{}', first);
    return { request, stored };
  }

  it('finds the first step and its log that a start stored', async () => {
    const first: StepStart = { number: 0, name: 'compile', started_at: Date.now(), log: { name: 'stdio', type: 's' } };
    const { request, stored } = await started(first);
    expect(stored.step?.log).toMatchObject({ stepid: stored.step?.row.id, name: 'stdio', slug: 'stdio', type: 's', complete: false });
    expect(await repos.progress.startLanded(request.id, masterid, first)).toEqual(stored);
  });

  it('finds the next step and its log that a step end stored, and removes a log the step never used', async () => {
    const { stored } = await started({ number: 0, name: 's1', started_at: Date.now(), log: { name: 'stdio', type: 's' } });
    const step = stored.step;
    if (!step?.log) throw new Error('no first step and log');
    const next: StepStart = { number: 1, name: 's2', started_at: Date.now(), log: { name: 'stdio', type: 's' } };
    const end = { results: Results.SKIPPED, complete_at: Date.now(), state_string: 'skipped', hidden: false };
    const after = { next, properties: undefined };
    const written = await repos.progress.endStep(stored.build.id, step.row.id, end, [], after, step.log.id);
    expect(written?.log).toMatchObject({ stepid: written?.row.id, name: 'stdio' });
    expect(await repos.progress.endLanded(stored.build.id, after)).toEqual(written);
    // The skipped step's log is gone; the next step's is there.
    expect(await repos.logs.created(step.row.id, 'stdio')).toBeUndefined();
    expect((await repos.logs.created(written?.row.id ?? 0, 'stdio'))?.id).toBe(written?.log?.id);
  });

  it('a log with bytes is never removed as unused', async () => {
    const { stored } = await started({ number: 0, name: 'talk', started_at: Date.now(), log: { name: 'stdio', type: 's' } });
    const log = stored.step?.log;
    if (!log) throw new Error('no first log');
    await repos.logs.appendChunk(log, 'o', Buffer.from('hello\n'));
    await repos.progress.dropUnused(log.id);
    expect(await repos.logs.created(log.stepid, 'stdio')).toMatchObject({ id: log.id, num_bytes: 6 });
  });
});
