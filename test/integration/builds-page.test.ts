/**
 * `GET /api/v2/builds` reads in full only the builds its presenter does not hold (finished builds
 * it has presented are known by id), and sends the page with an ETag made from the items' digests.
 * What a client sees must not depend on that: the page is the same as the one presented from fresh
 * rows (`field=` takes that path), a running build shows each change, and conditional GETs answer
 * 304 until the page changes. Real master, SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory } from '../../steps/build-factory.ts';
import { ShellCommand } from '../../steps/shell-command.ts';
import type { RunningMaster } from '../../master/master.ts';
import { internalsOf } from '../../master/testing.ts';
import { startTestMaster } from '../helpers/harness.ts';
import { testDatabases } from '../helpers/databases.ts';

const BUILDS = 12;
/** Every field of a build, so `field=` presents fresh rows with nothing left out. */
const ALL_FIELDS = [
  'buildid',
  'builderid',
  'number',
  'buildrequestid',
  'masterid',
  'agent',
  'started_at',
  'complete_at',
  'complete',
  'results',
  'result',
  'state_string',
  'properties',
  'builder_name',
  'links',
];

describe.each(testDatabases())('the builds page on $kind', (db) => {
  let master: RunningMaster;
  let sql: (text: string, values: unknown[]) => Promise<unknown>;
  let p: (n: number) => string;
  const base = () => `${master.url}/api/v2`;
  const text = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(base() + path, { headers });
    return { status: res.status, etag: res.headers.get('etag'), type: res.headers.get('content-type'), body: await res.text() };
  };

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [{ name: 'a0', token: 'builds-page-token-0123456789' }],
        builders: ['one', 'two'].map((name) => ({
          name,
          agents: ['a0'],
          factory: new BuildFactory([new ShellCommand({ name: 't', command: ['true'] })]),
        })),
      },
      await db.create(),
    );
    const source = internalsOf(master).db.source;
    sql = (t, values) => source.query(t, values);
    p = db.kind === 'postgres' ? (n) => `$${n}` : () => '?';
    await sql(
      `INSERT INTO buildrequests (builderid, reason, properties, submitted_at, complete) VALUES (${p(1)}, 'page', '{}', 0, ${p(2)})`,
      [1, db.kind === 'postgres' ? true : 1],
    );
    // The last build is still running (complete_at NULL); the others finished.
    for (let n = 1; n <= BUILDS; n++) {
      const running = n === BUILDS;
      await sql(
        `INSERT INTO builds (builderid, buildrequestid, number, masterid, agent, started_at, complete_at, results, state_string, properties)
         VALUES (${p(1)}, 1, ${p(2)}, ${p(3)}, 'a0', ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)})`,
        [
          1 + (n % 2),
          n,
          internalsOf(master).masterid,
          n * 1000,
          running ? null : n * 1000 + 500,
          running ? null : n % 3,
          running ? 'running t' : `build ${n} done`,
          JSON.stringify({ buildnumber: [n, 'Build'], note: [`é ${n} ✓`, 'Test'] }),
        ],
      );
    }
  });
  afterAll(async () => {
    await master?.stop();
  });

  it('sends the same page as one presented from fresh rows, again and again', async () => {
    const fresh = await text(`/builds?order=-buildid&limit=5&field=${ALL_FIELDS.join(',')}`);
    const first = await text('/builds?order=-buildid&limit=5');
    const second = await text('/builds?order=-buildid&limit=5');
    expect(first.status).toBe(200);
    expect(first.type).toBe('application/json; charset=utf-8');
    expect(JSON.parse(first.body)).toEqual(JSON.parse(fresh.body));
    expect(JSON.parse(first.body).meta.total).toBe(BUILDS);
    expect(second.body).toBe(first.body);
    expect(second.etag).toBe(first.etag);
    // The bytes are those res.json would send for the same page (key order, no spaces).
    expect(first.body).toBe(JSON.stringify(JSON.parse(first.body)));
    // Every page of the collection, read twice (the second time from what is held), in order.
    const pages: number[] = [];
    for (let round = 0; round < 2; round++) {
      pages.length = 0;
      for (let offset = 0; offset < BUILDS; offset += 5) {
        const page = JSON.parse((await text(`/builds?limit=5&offset=${offset}`)).body) as { builds: { buildid: number }[] };
        pages.push(...page.builds.map((b) => b.buildid));
      }
      expect(pages).toEqual(Array.from({ length: BUILDS }, (_, i) => i + 1));
    }
  });

  it('reads a running build anew each time, and shows it finished once it is', async () => {
    const page = async () => JSON.parse((await text('/builds?order=-buildid&limit=2')).body) as { builds: Record<string, unknown>[] };
    expect((await page()).builds[0]).toMatchObject({ buildid: BUILDS, complete: false, state_string: 'running t' });
    await sql(`UPDATE builds SET state_string = ${p(1)}, properties = ${p(2)} WHERE id = ${p(3)}`, [
      'running u',
      JSON.stringify({ got: [1, 'Step'] }),
      BUILDS,
    ]);
    expect((await page()).builds[0]).toMatchObject({ state_string: 'running u', properties: { got: [1, 'Step'] } });
    await sql(`UPDATE builds SET complete_at = ${p(1)}, results = 0, state_string = 'build successful' WHERE id = ${p(2)}`, [
      BUILDS * 1000 + 900,
      BUILDS,
    ]);
    const done = await page();
    expect(done.builds[0]).toMatchObject({
      complete: true,
      complete_at: BUILDS + 0.9,
      result: 'success',
      state_string: 'build successful',
    });
    expect(done.builds[1]).toMatchObject({ buildid: BUILDS - 1, complete: true });
  });

  it('holds a finished build: its row is not read again (a finished build is never written)', async () => {
    const before = JSON.parse((await text('/builds?buildid=3')).body) as { builds: Record<string, unknown>[] };
    expect(before.builds[0]).toMatchObject({ buildid: 3, state_string: 'build 3 done' });
    // Nothing in Caliper writes a finished build; this test does, to see which path the page takes.
    await sql(`UPDATE builds SET state_string = 'changed behind the master' WHERE id = 3`, []);
    expect(JSON.parse((await text('/builds?buildid=3')).body)).toEqual(before);
    // A single build, and field selections, are presented from a fresh read.
    expect(JSON.parse((await text('/builds/3')).body).builds[0].state_string).toBe('changed behind the master');
    expect(JSON.parse((await text('/builds?buildid=3&field=state_string')).body).builds).toEqual([
      { state_string: 'changed behind the master' },
    ]);
  });

  it('answers a conditional GET with 304 until the page changes', async () => {
    const path = '/builds?order=-buildid&limit=3';
    const first = await text(path);
    expect(first.etag).toMatch(/^W\/"[0-9a-f]+-[A-Za-z0-9+/]{27}"$/);
    // fetch() adds Cache-Control: no-cache to a conditional request unless it carries one (as a browser's revalidation).
    const conditional = { 'if-none-match': first.etag ?? '', 'cache-control': 'max-age=0' };
    const again = await text(path, conditional);
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    // Another page, another tag; a new build changes the total and the page, so the tag too.
    expect((await text('/builds?order=-buildid&limit=2')).etag).not.toBe(first.etag);
    await sql(
      `INSERT INTO builds (builderid, buildrequestid, number, masterid, agent, started_at, complete_at, results, state_string, properties)
       VALUES (1, 1, ${p(1)}, ${p(2)}, 'a0', ${p(3)}, NULL, NULL, 'starting', '{}')`,
      [BUILDS + 1, internalsOf(master).masterid, (BUILDS + 1) * 1000],
    );
    const changed = await text(path, conditional);
    expect(changed.status).toBe(200);
    expect(changed.etag).not.toBe(first.etag);
    expect(JSON.parse(changed.body).meta.total).toBe(BUILDS + 1);
  });
});
