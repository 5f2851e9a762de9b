/**
 * Pages of builds kept between writes (master/api/page-cache.ts), on a real master: whatever writes
 * the database — the master, a statement on its connection, another connection (another process on
 * the SQLite file), a transaction rolled back — the next read shows what is stored; a running build
 * whose Grafana link ends "now" is presented anew each time. On PostgreSQL nothing is kept.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, grafana } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { internalsOf } from '../../master/testing.ts';
import { startTestMaster } from '../helpers/harness.ts';
import { testDatabases } from '../helpers/databases.ts';

interface Page {
  builds: { buildid: number; state_string: string; complete: boolean; links: { grafana?: string } }[];
  meta: { total: number };
}

describe.each(testDatabases())('kept pages of builds on $kind', (db) => {
  let master: RunningMaster;
  let url: string;
  let sql: (text: string, values?: unknown[]) => Promise<unknown>;
  let p: (n: number) => string;
  const page = async (path: string): Promise<Page> => (await fetch(`${master.url}/api/v2${path}`)).json() as Promise<Page>;
  const insertBuild = (n: number, running: boolean) =>
    sql(
      `INSERT INTO builds (builderid, buildrequestid, number, masterid, agent, started_at, complete_at, results, state_string, properties)
       VALUES (1, 1, ${p(1)}, ${p(2)}, 'k0', ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, '{}')`,
      [n, internalsOf(master).masterid, n * 1000, running ? null : n * 1000 + 500, running ? null : 0, running ? 'running' : `build ${n}`],
    );

  beforeAll(async () => {
    url = await db.create();
    master = await startTestMaster(
      {
        agents: [{ name: 'k0', token: 'page-cache-token-0123456789' }],
        builders: [{ name: 'one', agents: ['k0'], factory: new BuildFactory([new ShellCommand({ name: 't', command: ['true'] })]) }],
        services: [grafana({ url: 'https://grafana.example.com/', dashboardUid: 'caliper-builds' })],
      },
      url,
    );
    const source = internalsOf(master).db.source;
    sql = (t, values = []) => source.query(t, values);
    p = db.kind === 'postgres' ? (n) => `$${n}` : () => '?';
    await sql(`INSERT INTO buildrequests (builderid, reason, properties, submitted_at, complete) VALUES (1, 'page', '{}', 0, ${p(1)})`, [
      db.kind === 'postgres' ? true : 1,
    ]);
    for (let n = 1; n <= 5; n++) await insertBuild(n, false);
  });
  afterAll(async () => {
    await master?.stop();
  });

  it('has a version on SQLite only', () => {
    const version = internalsOf(master).repos.version();
    if (db.kind === 'postgres') expect(version).toBeNull();
    else expect(version).toMatch(/^\d+:\d+:\d+$/);
  });

  it('shows a write on the master’s connection at once', async () => {
    expect((await page('/builds?order=-buildid&limit=3')).meta.total).toBe(5);
    expect((await page('/builds?order=-buildid&limit=3')).meta.total).toBe(5);
    await insertBuild(6, false);
    const after = await page('/builds?order=-buildid&limit=3');
    expect(after.meta.total).toBe(6);
    expect(after.builds[0]?.buildid).toBe(6);
  });

  it('shows a write committed by another connection, as another process would make it', async () => {
    if (db.kind !== 'sqlite') return;
    expect((await page('/builds?order=-buildid&limit=2')).builds[0]?.buildid).toBe(6);
    const other = new Database(url.slice('sqlite:'.length));
    try {
      other
        .prepare(
          `INSERT INTO builds (builderid, buildrequestid, number, masterid, agent, started_at, complete_at, results, state_string, properties)
           VALUES (1, 1, 7, ?, 'k0', 7000, 7500, 0, 'build 7', '{}')`,
        )
        .run(internalsOf(master).masterid);
    } finally {
      other.close();
    }
    const after = await page('/builds?order=-buildid&limit=2');
    expect(after.meta.total).toBe(7);
    expect(after.builds[0]?.buildid).toBe(7);
  });

  it('shows what a rolled-back transaction left: nothing', async () => {
    const before = await page('/builds?order=-buildid&limit=2');
    await expect(
      internalsOf(master).db.source.transaction(async (m) => {
        await m.query(`DELETE FROM builds WHERE id = ${p(1)}`, [before.builds[0]?.buildid]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await page('/builds?order=-buildid&limit=2')).toEqual(before);
  });

  it('presents a running build anew each time: its Grafana link ends now', async () => {
    await insertBuild(8, true);
    const to = async () => {
      const first = (await page('/builds?order=-buildid&limit=2')).builds[0];
      expect(first).toMatchObject({ state_string: 'running', complete: false });
      return Number(new URL(first?.links.grafana ?? '').searchParams.get('to'));
    };
    const a = await to();
    await new Promise((r) => setTimeout(r, 20));
    expect(await to()).toBeGreaterThan(a);
  });
});
