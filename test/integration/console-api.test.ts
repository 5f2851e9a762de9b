/**
 * `GET /api/v2/console` and `GET /api/v2/waterfall` (the console, grid and waterfall views' reads)
 * against a real master and agent, on SQLite and PostgreSQL: changes posted to the API start builds
 * on several builders through change schedulers; the answers put each build under its change and
 * builder, follow the branch and tag filters, page, and refuse bad parameters naming them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, anyBranchScheduler, singleBranchScheduler } from '../../index.ts';
import type { ConsoleAnswer, WaterfallAnswer } from '../../protocol/api-types.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'console-token-1234';

describe.each(testDatabases())('the console API on $kind', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;
  const ids: Record<'first' | 'dev' | 'second', number> = { first: 0, dev: 0, second: 0 };

  const consoleOf = async (query = '') => {
    const res = await api(master).get<ConsoleAnswer>(`/console${query}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [
          { name: 'c1', token: TOKEN, maxBuilds: 4 },
          // Never connects: the "waiting" builder's requests stay queued.
          { name: 'off', token: 'off-token-1234' },
        ],
        builders: [
          {
            name: 'app',
            tags: ['web'],
            agents: ['c1'],
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'ok', command: ['true'] })),
          },
          {
            name: 'lib',
            tags: ['core'],
            agents: ['c1'],
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'no', command: ['false'] })),
          },
          {
            name: 'docs',
            tags: ['web', 'docs'],
            agents: ['c1'],
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'ok', command: ['true'] })),
          },
          {
            name: 'waiting',
            tags: ['core'],
            agents: ['off'],
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'ok', command: ['true'] })),
          },
        ],
        schedulers: [
          singleBranchScheduler({ name: 'on-main', builderNames: ['app', 'lib', 'waiting'], branch: 'main' }),
          anyBranchScheduler({ name: 'on-dev', builderNames: ['app'], branchRegex: '^dev$' }),
        ],
      },
      await db.create(),
      `console-${db.kind}`,
    );
    agent = await startAgent(master, 'c1', TOKEN);
    const client = api(master);
    const post = async (branch: string, revision: string, comments: string) => {
      const res = await client.post('/changes', {
        repository: 'https://example.org/c.git',
        branch,
        revision,
        author: 'Ada',
        comments,
        files: [],
      });
      expect(res.status).toBe(201);
      return res.body.changeid as number;
    };
    ids.first = await post('main', '1'.repeat(40), 'First on main');
    ids.dev = await post('dev', '2'.repeat(40), 'On dev');
    ids.second = await post('main', '3'.repeat(40), 'Second on main\n\nwith a body');
    // 2 changes on main × (app, lib) + 1 on dev × app finish; the "waiting" requests never start.
    await waitFor(
      'the five builds to finish',
      async () => (await client.get('/builds?field=complete')).body.builds.filter((b: { complete: boolean }) => b.complete).length === 5,
      30_000,
    );
  }, 60_000);

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('answers changes newest first, each with its builds per builder, and the builders in config order', async () => {
    const body = await consoleOf();
    expect(body.builders.map((b) => [b.name, b.tags])).toEqual([
      ['app', ['web']],
      ['lib', ['core']],
      ['docs', ['web', 'docs']],
      ['waiting', ['core']],
    ]);
    const builderid = new Map(body.builders.map((b) => [b.name, b.builderid]));
    const nameOf = new Map(body.builders.map((b) => [b.builderid, b.name]));
    expect(body.meta.total).toBe(3);
    expect(body.changes.map((c) => c.changeid)).toEqual([ids.second, ids.dev, ids.first]);
    const second = body.changes[0];
    expect(second?.comments).toBe('Second on main\n\nwith a body');
    expect(second?.branch).toBe('main');
    const cells = (second?.builds ?? []).map((b) => [nameOf.get(b.builderid), b.result, b.complete, b.buildid === null]);
    expect(cells.sort()).toEqual([
      ['app', 'success', true, false],
      ['lib', 'failure', true, false],
      ['waiting', null, false, true],
    ]);
    expect(body.changes[1]?.builds.map((b) => [nameOf.get(b.builderid), b.result])).toEqual([['app', 'success']]);
    // Each cell's build is the build of that builder for that change.
    for (const change of body.changes)
      for (const cell of change.builds.filter((b) => b.buildid !== null)) {
        const build = (await api(master).get(`/builds/${cell.buildid}`)).body.builds[0];
        expect(build.builderid).toBe(cell.builderid);
        expect(build.number).toBe(cell.number);
        expect(build.buildrequestid).toBe(cell.buildrequestid);
        const changes = (await api(master).get(`/builds/${cell.buildid}/changes`)).body.changes;
        expect(changes.map((c: { changeid: number }) => c.changeid)).toEqual([change.changeid]);
      }
    expect(body.changes.every((c) => c.builds.every((b) => b.builderid !== builderid.get('docs')))).toBe(true);
  });

  it('filters the changes by branch and the builders by tag, and pages', async () => {
    const main = await consoleOf('?branch=main');
    expect(main.changes.map((c) => c.changeid)).toEqual([ids.second, ids.first]);
    expect(main.meta.total).toBe(2);
    expect((await consoleOf('?branch=nowhere')).changes).toEqual([]);

    const core = await consoleOf('?tags=core');
    expect(core.builders.map((b) => b.name)).toEqual(['lib', 'waiting']);
    expect(core.changes).toHaveLength(3); // the tags choose columns, not rows
    expect(core.changes.find((c) => c.changeid === ids.dev)?.builds).toEqual([]);
    const lib = core.builders[0]?.builderid;
    expect(core.changes.flatMap((c) => c.builds).every((b) => core.builders.some((x) => x.builderid === b.builderid))).toBe(true);
    expect(core.changes[0]?.builds.find((b) => b.builderid === lib)?.result).toBe('failure');

    expect((await consoleOf('?tags=docs,core')).builders.map((b) => b.name)).toEqual(['lib', 'docs', 'waiting']);
    expect((await consoleOf('?tags=nothing')).builders).toEqual([]);

    const page = await consoleOf('?limit=1&offset=1');
    expect(page.changes.map((c) => c.changeid)).toEqual([ids.dev]);
    expect(page.meta.total).toBe(3);
  });

  it('refuses a bad query with a 400 naming the parameter', async () => {
    const client = api(master);
    const cases: [string, RegExp][] = [
      ['/console?limit=abc', /limit must be an integer from 1 to 200, got "abc"/],
      ['/console?limit=0', /limit must be an integer from 1 to 200, got "0"/],
      ['/console?limit=201', /limit/],
      ['/console?offset=-1', /offset/],
      ['/console?branch=a&branch=b', /branch must be given once/],
      ['/console?colour=red', /unknown parameter "colour"/],
      ['/waterfall?hours=0', /hours must be a number above 0 and at most 168, got "0"/],
      ['/waterfall?hours=1e3', /hours/],
      ['/waterfall?limit=x', /limit/],
      ['/waterfall?branch=main', /unknown parameter "branch"/],
    ];
    for (const [path, message] of cases) {
      const res = await client.get(path);
      expect(res.status, path).toBe(400);
      expect(res.body.error.code, path).toBe('BAD_REQUEST');
      expect(res.body.error.message, path).toMatch(message);
    }
  });

  it('answers the builds of the last hours per builder for the waterfall', async () => {
    const res = await api(master).get<WaterfallAnswer>('/waterfall?hours=1');
    expect(res.status).toBe(200);
    const { builds, builders, meta } = res.body;
    expect(builders.map((b) => b.name)).toEqual(['app', 'lib', 'docs', 'waiting']);
    expect(meta.total).toBe(5);
    expect(meta.to - meta.from).toBe(3600);
    expect(builds).toHaveLength(5);
    for (const b of builds) {
      expect(b.started_at).toBeGreaterThanOrEqual(meta.from);
      expect(b.complete_at).not.toBeNull();
      expect(b.complete_at ?? 0).toBeGreaterThanOrEqual(b.started_at);
    }
    // Oldest first.
    expect(builds.map((b) => b.started_at)).toEqual([...builds.map((b) => b.started_at)].sort((x, y) => x - y));
    const lib = builders.find((b) => b.name === 'lib')?.builderid;
    const core = (await api(master).get<WaterfallAnswer>('/waterfall?tags=core&limit=1')).body;
    expect(core.builds.map((b) => [b.builderid, b.result])).toEqual([[lib, 'failure']]);
    expect(core.meta.total).toBe(2);
  });
});
