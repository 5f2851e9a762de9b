/**
 * Dependent schedulers (Buildbot's Dependent) on a real master with a real agent process: builds after
 * an upstream buildset that succeeds (or has warnings), with its source and changes, never after one
 * that fails, in a chain, and once after a restart that fell between the upstream's end and the
 * downstream's submission. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, dependentScheduler, interpolate, singleBranchScheduler } from '../../index.ts';
import { Results } from '../../core/results.ts';
import type { RunningMaster } from '../../master/master.ts';
import { internalsOf } from '../../master/testing.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, stepLog, waitFor, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'dependent-token-1';
const REPO = 'https://example.org/app.git';
const rev = (c: string) => c.repeat(40);

const echo = (name: string, text: string) => new ShellCommand({ name, command: ['echo', interpolate(text)] });

function config(): ConfigInput {
  return {
    agents: [{ name: 'd1', token: TOKEN, maxBuilds: 4 }],
    builders: [
      // A change whose `outcome` property is 'fail' fails unit; 'warn' makes lint end WARNINGS.
      {
        name: 'unit',
        factory: new BuildFactory().addStep(
          new ShellCommand({ name: 'test', command: interpolate('test "%(prop:outcome:-ok)s" != fail') }),
        ),
      },
      {
        name: 'lint',
        factory: new BuildFactory().addStep(
          new ShellCommand({
            name: 'lint',
            command: interpolate('test "%(prop:outcome:-ok)s" != warn'),
            decodeRC: { 0: Results.SUCCESS, 1: Results.WARNINGS },
          }),
        ),
      },
      { name: 'slow', factory: new BuildFactory().addStep(new ShellCommand({ name: 'nap', command: ['sleep', '1'] })) },
      {
        name: 'deploy',
        factory: new BuildFactory().addStep(
          echo('show', '%(prop:revision)s %(prop:branch)s %(prop:scheduler)s %(prop:target)s %(prop:outcome:-none)s %(prop:ticket:-none)s'),
        ),
      },
      { name: 'notify', factory: new BuildFactory().addStep(echo('show', '%(prop:revision)s %(prop:scheduler)s')) },
    ],
    schedulers: [
      singleBranchScheduler({ name: 'main', builderNames: ['unit', 'lint'], branch: 'main', properties: { upstreamOnly: 'yes' } }),
      dependentScheduler({ name: 'after-main', upstream: 'main', builderNames: ['deploy'], properties: { target: 'staging' } }),
      dependentScheduler({ name: 'after-deploy', upstream: 'after-main', builderNames: ['notify'] }),
      singleBranchScheduler({ name: 'slow-lane', builderNames: ['slow'], branch: 'slow' }),
      dependentScheduler({ name: 'after-slow', upstream: 'slow-lane', builderNames: ['deploy'], properties: { target: 'later' } }),
    ],
  };
}

interface Request {
  buildrequestid: number;
  complete: boolean;
  result: string | null;
  reason: string;
  properties: Record<string, unknown>;
}

describe.each(testDatabases())('dependent scheduler on $kind', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;
  let dbUrl: string;

  beforeAll(async () => {
    dbUrl = await db.create();
    master = await startTestMaster(config(), dbUrl);
    agent = await startAgent(master, 'd1', TOKEN);
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  async function requestsOf(builder: string): Promise<Request[]> {
    const builders = (await api(master).get('/builders')).body.builders as { builderid: number; name: string }[];
    const id = builders.find((b) => b.name === builder)?.builderid;
    return (await api(master).get(`/buildrequests?builderid=${id}&order=buildrequestid`)).body.buildrequests as Request[];
  }
  /** The requests of `builder` for revision `sha`, once `count` of them are complete. */
  const completed = (builder: string, sha: string, count = 1) =>
    waitFor(`${count} complete request(s) of ${builder} for ${sha.slice(0, 4)}`, async () => {
      const rows = (await requestsOf(builder)).filter((r) => r.properties.revision === sha);
      return rows.length >= count && rows.every((r) => r.complete) && rows;
    });
  async function outputOf(buildrequestid: number): Promise<string> {
    const build = (await api(master).get(`/builds?buildrequestid=${buildrequestid}`)).body.builds[0];
    const steps = (await api(master).get(`/builds/${build.buildid}/steps`)).body.steps;
    return (await stepLog(master, steps[0].stepid)).toString().trim();
  }
  const post = async (branch: string, sha: string, properties: Record<string, unknown> = {}) => {
    const res = await api(master).post('/changes', { repository: REPO, branch, revision: sha, properties });
    expect(res.status).toBe(201);
    return res.body.changeid as number;
  };
  /** Long enough for a wrongly submitted request to show: the dependent checks on every completion, and polls. */
  const settle = () => new Promise((r) => setTimeout(r, 1500));

  it("builds its builders once after the upstream buildset succeeds, with its source, changes and the change's properties", async () => {
    const changeid = await post('main', rev('a'), { ticket: 'T-1' });
    const [unit] = await completed('unit', rev('a'));
    await completed('lint', rev('a'));
    expect(unit?.result).toBe('success');
    // unit and lint were requested in one buildset, named by its scheduler.
    const buildsetid = (await internalsOf(master).repos.buildRequests.get(unit?.buildrequestid ?? 0))?.buildsetid ?? 0;
    expect(await internalsOf(master).repos.buildsets.get(buildsetid)).toMatchObject({ scheduler: 'main' });
    const inSet = (await api(master).get(`/buildrequests?buildsetid=${buildsetid}`)).body.buildrequests as Request[];
    expect(inSet.map((r) => r.properties.revision)).toEqual([rev('a'), rev('a')]);
    expect(inSet).toHaveLength(2);
    const [deploy] = await completed('deploy', rev('a'));
    expect(deploy?.result).toBe('success');
    // The upstream's source and the change's properties; its own properties, not the upstream scheduler's others.
    expect(deploy?.properties).toMatchObject({
      revision: rev('a'),
      branch: 'main',
      repository: REPO,
      scheduler: 'after-main',
      target: 'staging',
      ticket: 'T-1',
    });
    expect(deploy?.properties).not.toHaveProperty('upstreamOnly');
    expect(deploy?.reason).toMatch(/^The Dependent scheduler 'after-main' triggered this build \(buildset \d+ of 'main' ended success\)$/);
    expect(await outputOf(deploy?.buildrequestid ?? 0)).toBe(`${rev('a')} main after-main staging none T-1`);
    const build = (await api(master).get(`/builds?buildrequestid=${deploy?.buildrequestid}`)).body.builds[0];
    const changes = (await api(master).get(`/builds/${build.buildid}/changes`)).body.changes as { changeid: number }[];
    expect(changes.map((c) => c.changeid)).toEqual([changeid]);
    // A dependent of a dependent: after deploy's buildset.
    const [notify] = await completed('notify', rev('a'));
    expect(await outputOf(notify?.buildrequestid ?? 0)).toBe(`${rev('a')} after-deploy`);
    await settle();
    expect(await completed('deploy', rev('a'))).toHaveLength(1);
    expect(await internalsOf(master).repos.buildsets.waitsOf('after-main')).toEqual([]);
  });

  it('builds after an upstream buildset with warnings, as Buildbot', async () => {
    await post('main', rev('b'), { outcome: 'warn' });
    const [lint] = await completed('lint', rev('b'));
    expect(lint?.result).toBe('warnings');
    const [deploy] = await completed('deploy', rev('b'));
    expect(deploy?.properties).toMatchObject({ outcome: 'warn', scheduler: 'after-main' });
  });

  it('builds nothing after an upstream buildset with a failure, and stops waiting for it', async () => {
    await post('main', rev('c'), { outcome: 'fail' });
    const [unit] = await completed('unit', rev('c'));
    expect(unit?.result).toBe('failure');
    await completed('lint', rev('c'));
    await waitFor(
      'the wait for the failed buildset to end',
      async () => (await internalsOf(master).repos.buildsets.waitsOf('after-main')).length === 0,
    );
    await settle();
    expect((await requestsOf('deploy')).filter((r) => r.properties.revision === rev('c'))).toEqual([]);
  });

  it('submits once, when the master starts again, for an upstream that ended while it was stopping', async () => {
    await post('slow', rev('d'));
    const [slow] = await waitFor('the slow build to start', async () => {
      const rows = (await requestsOf('slow')).filter((r) => r.properties.revision === rev('d'));
      const builds = rows[0] ? (await api(master).get(`/builds?buildrequestid=${rows[0].buildrequestid}`)).body.builds : [];
      return builds.length > 0 && rows;
    });
    // The schedulers stop first; the running build is then given time to finish: its buildset
    // completes after the dependent stopped listening.
    await master.stop();
    await agent.kill();
    master = await startTestMaster({ ...config(), schedulers: [] }, dbUrl);
    const ended = (await internalsOf(master).repos.buildRequests.get(slow?.buildrequestid ?? 0)) ?? undefined;
    expect(ended).toMatchObject({ complete: true, results: Results.SUCCESS });
    expect((await requestsOf('deploy')).filter((r) => r.properties.revision === rev('d'))).toEqual([]);
    expect(await internalsOf(master).repos.buildsets.waitsOf('after-slow')).toHaveLength(1);
    await master.stop();

    master = await startTestMaster(config(), dbUrl);
    agent = await startAgent(master, 'd1', TOKEN);
    const [deploy] = await completed('deploy', rev('d'));
    expect(deploy).toMatchObject({ result: 'success', properties: { branch: 'slow', target: 'later', scheduler: 'after-slow' } });
    await settle();
    expect(await completed('deploy', rev('d'))).toHaveLength(1);
    expect(await internalsOf(master).repos.buildsets.waitsOf('after-slow')).toEqual([]);
  });
});
