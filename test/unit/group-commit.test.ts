/**
 * Group commit (master/db/group-commit.ts) on the real SQLite driver: builds running together share
 * the commits of their starts, log creations and step ends; a work that fails in a shared batch fails
 * alone; the claimer's requests are claimed in one statement (BuildRequestsRepo.claimMany).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { openBuildBench, type BuildBench } from '../helpers/build-fixture.ts';
import { countSqliteCommits, expectThreeStepsStored, sourceOf, threeTrueSteps, type CommitCounter } from '../helpers/sqlite-commits.ts';
import { ShellCommand } from '../../steps/shell-command.ts';
import { Results } from '../../core/results.ts';
import { groupCommit } from '../../master/db/group-commit.ts';
import { plainSql } from '../../master/db/plain-sql.ts';

let bench: BuildBench;
let source: DataSource;
let counter: CommitCounter;
beforeAll(async () => {
  bench = await openBuildBench();
  source = sourceOf(bench.repos);
  counter = countSqliteCommits(source);
});
afterAll(async () => {
  counter.restore();
  await bench.close();
});

describe('group commit', () => {
  it('five builds of three silent steps running together share their commits', async () => {
    const fixtures = [];
    for (let i = 0; i < 5; i++) fixtures.push(await bench.fixture({ steps: threeTrueSteps() }));
    counter.reset();
    const rows = await Promise.all(fixtures.map((f) => f.run()));
    // Alone, each build costs 7 commits (test/unit/build-commits.test.ts): 35 one after another.
    expect(counter.count).toBeLessThanOrEqual(7 * 2);
    for (const [i, f] of fixtures.entries()) {
      expect(rows[i]).toMatchObject({ results: Results.SUCCESS, state_string: 'build successful' });
      await expectThreeStepsStored(f);
    }
    expect(new Set(rows.map((r) => r.id)).size).toBe(5);
  });

  it('a work that fails in a shared batch fails alone; the others are stored', async () => {
    const sql = plainSql(source);
    const group = groupCommit(source);
    const insert = (name: string) => group.run((em) => sql.insertReturningId('masters', { name, active: true, last_active: 1 }, em));
    const duplicate = `group-commit-${Date.now()}`;
    await insert(duplicate);
    counter.reset();
    const [a, bad, b] = await Promise.allSettled([insert(`${duplicate}-a`), insert(duplicate), insert(`${duplicate}-b`)]);
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('fulfilled');
    expect(bad.status).toBe('rejected');
    expect(String((bad as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    const names = (await source.query(`SELECT "name" FROM "masters" WHERE "name" LIKE ?`, [`${duplicate}%`])) as { name: string }[];
    expect(names.map((r) => r.name).sort()).toEqual([duplicate, `${duplicate}-a`, `${duplicate}-b`]);
  });

  it('claims several requests in one statement: only those still free, once', async () => {
    const f = await bench.fixture({ steps: [new ShellCommand({ name: 's', command: 'true' })] });
    const made = [];
    for (let i = 0; i < 4; i++)
      made.push((await bench.repos.buildRequests.create({ builderid: f.builderid, reason: 'claim many', properties: {} }, 1)).id);
    const [first, second, third, fourth] = made as [number, number, number, number];
    await bench.repos.buildRequests.claim(second, 7, 2); // another master took it
    await bench.repos.buildRequests.completeUnclaimed(third, Results.CANCELLED, 2);
    counter.reset();
    const got = await bench.repos.buildRequests.claimMany([first, second, third, fourth], 1, 3);
    expect(counter.count).toBe(1);
    expect([...got].sort((x, y) => x - y)).toEqual([first, fourth]);
    expect(await bench.repos.buildRequests.get(second)).toMatchObject({ claimed_by_masterid: 7 });
    expect(await bench.repos.buildRequests.get(fourth)).toMatchObject({ claimed_by_masterid: 1, claimed_at: 3 });
    expect(await bench.repos.buildRequests.claimMany([first, fourth], 2, 4)).toEqual(new Set());
  });
});
