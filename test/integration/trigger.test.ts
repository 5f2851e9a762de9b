/** Trigger steps and triggerable schedulers with real builds on a real agent. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BuildFactory,
  Git,
  SetPropertyFromCommand,
  ShellCommand,
  Trigger,
  interpolate,
  singleBranchScheduler,
  triggerableScheduler,
} from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, stepLog, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { git } from '../helpers/git.ts';

const TOKEN = 'trigger-token-1';
/** A repository with one commit on main; returns its path and the commit. */
function repository(dir: string, name: string): { url: string; head: string } {
  const url = path.join(dir, name);
  fs.mkdirSync(url);
  git(url, 'init', '--quiet', '-b', 'main');
  fs.writeFileSync(path.join(url, 'name.txt'), `${name}\n`);
  git(url, 'add', 'name.txt');
  git(url, 'commit', '--quiet', '-m', name);
  return { url, head: git(url, 'rev-parse', 'HEAD') };
}

describe('Trigger', () => {
  let master: RunningMaster;
  let agent: AgentProcess;

  let dbUrl: string;
  let app: { url: string; head: string };
  let tools: { url: string; head: string };

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-trigger-'));
    app = repository(dir, 'app');
    tools = repository(dir, 'tools');
    const db = testDatabases()[0] as { create(): Promise<string> };
    dbUrl = await db.create();
    master = await startTestMaster(
      {
        agents: [{ name: 't1', token: TOKEN, maxBuilds: 6 }],
        builders: [
          {
            name: 'parent',
            factory: new BuildFactory()
              .addStep(new SetPropertyFromCommand({ name: 'version', command: 'echo 1.2', property: 'version' }))
              .addStep(
                new Trigger({
                  schedulerNames: ['tests'],
                  waitForFinish: true,
                  copyProperties: ['version'],
                  setProperties: { flavour: interpolate('%(prop:version)s-x'), fail: interpolate('%(prop:fail:-no)s') },
                }),
              )
              .addStep(new ShellCommand({ name: 'after', command: ['echo', 'after'] })),
          },
          { name: 'fire-and-forget', factory: new BuildFactory().addStep(new Trigger({ schedulerNames: ['tests'] })) },
          { name: 'waits-for-slow', factory: new BuildFactory().addStep(new Trigger({ schedulerNames: ['slow'], waitForFinish: true })) },
          {
            name: 'unit',
            factory: new BuildFactory().addStep(
              new ShellCommand({
                name: 'show',
                command: ['echo', interpolate('%(prop:version:-none)s %(prop:flavour:-none)s %(prop:revision:-none)s')],
              }),
            ),
          },
          {
            name: 'lint',
            factory: new BuildFactory().addStep(
              new ShellCommand({ name: 'check', command: 'test "$FAIL" != yes', env: { FAIL: interpolate('%(prop:fail:-no)s') } }),
            ),
          },
          {
            name: 'app',
            factory: new BuildFactory()
              .addStep(new Git({ repourl: app.url }))
              .addStep(new Trigger({ schedulerNames: ['after-app'], waitForFinish: true })),
          },
          { name: 'app-check', factory: new BuildFactory().addStep(new Git({ repourl: app.url })) },
          {
            name: 'deploy-tools',
            factory: new BuildFactory()
              .addStep(new Git({ repourl: tools.url }))
              .addStep(new ShellCommand({ name: 'show', command: ['cat', 'name.txt'] })),
          },
          { name: 'slowpoke', factory: new BuildFactory().addStep(new ShellCommand({ name: 'nap', command: ['sleep', '30.25'] })) },
        ],
        schedulers: [
          triggerableScheduler({ name: 'tests', builderNames: ['unit', 'lint'] }),
          triggerableScheduler({ name: 'slow', builderNames: ['slowpoke'] }),
          triggerableScheduler({ name: 'after-app', builderNames: ['app-check', 'deploy-tools'] }),
          singleBranchScheduler({ name: 'main', builderNames: ['fire-and-forget'], branch: 'main' }),
        ],
      },
      dbUrl,
    );
    agent = await startAgent(master, 't1', TOKEN);
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  const client = () => api(master);
  /** The builds requested by the Trigger step of `build`, from its `triggered` log. */
  async function triggered(stepid: number): Promise<{ builder: string; build: any }[]> {
    const lines = (await stepLog(master, stepid, 'triggered')).toString().trim().split('\n');
    const ids = [
      ...new Set(
        lines
          .map((l) => /^(\S+): build request (\d+)/.exec(l))
          .filter(Boolean)
          .map((m) => `${m?.[1]}:${m?.[2]}`),
      ),
    ];
    return Promise.all(
      ids.map(async (key) => {
        const [builder, id] = key.split(':') as [string, string];
        const build = await waitFor(`the build of request ${id}`, async () => {
          const b = (await client().get(`/builds?buildrequestid=${id}`)).body.builds[0];
          return b?.complete && b;
        });
        return { builder, build };
      }),
    );
  }

  it('waits for the triggered builds, passes properties on, and goes on when they succeed', async () => {
    const { build, steps } = await forceAndWait(master, 'parent');
    expect(build.result).toBe('success');
    expect(steps.map((s: { name: string; result: string }) => [s.name, s.result])).toEqual([
      ['version', 'success'],
      ['trigger', 'success'],
      ['after', 'success'],
    ]);
    expect(steps[1].state_string).toBe('unit success, lint success');
    const children = await triggered(steps[1].stepid);
    expect(children.map((c) => c.builder).sort()).toEqual(['lint', 'unit']);
    const requested = (await client().get(`/buildrequests?parent_buildid=${build.buildid}`)).body.buildrequests as {
      buildrequestid: number;
      parent_buildid: number;
    }[];
    expect(requested.map((r) => r.buildrequestid).sort()).toEqual(children.map((c) => c.build.buildrequestid).sort());
    expect(requested.every((r) => r.parent_buildid === build.buildid)).toBe(true);
    const unit = children.find((c) => c.builder === 'unit')?.build;
    const unitSteps = (await client().get(`/builds/${unit.buildid}/steps`)).body.steps;
    expect((await stepLog(master, unitSteps[0].stepid)).toString()).toBe('1.2 1.2-x none\n');
    const request = (await client().get(`/buildrequests/${unit.buildrequestid}`)).body.buildrequests[0];
    expect(request.reason).toBe(`The Triggerable scheduler 'tests' triggered this build (from parent #${build.number})`);
  });

  it('fails with the worst result of the builds it waited for', async () => {
    const { build, steps } = await forceAndWait(master, 'parent', { properties: { fail: 'yes' } });
    expect(build.result).toBe('failure');
    expect(steps[1]).toMatchObject({ name: 'trigger', result: 'failure', state_string: 'unit success, lint failure' });
  });

  it('without waiting, succeeds once the builds are queued; they build the changes and revision of the build that triggered them', async () => {
    const posted = await client().post('/changes', {
      repository: 'https://example.org/app.git',
      branch: 'main',
      revision: 'abcdef1234567890',
    });
    expect(posted.status).toBe(201);
    const parent = await waitFor('the change to be built by fire-and-forget', async () => {
      const b = (await client().get('/builders/fire-and-forget/builds')).body.builds[0];
      return b?.complete && b;
    });
    expect(parent.result).toBe('success');
    const steps = (await client().get(`/builds/${parent.buildid}/steps`)).body.steps;
    expect(steps[0].state_string).toBe('triggered unit, lint');
    for (const { builder, build } of await triggered(steps[0].stepid)) {
      expect(
        (await client().get(`/builds/${build.buildid}/changes`)).body.changes.map((c: { changeid: number }) => c.changeid),
        builder,
      ).toEqual([posted.body.changeid]);
      expect(build.properties.revision?.[0], builder).toBe('abcdef1234567890');
    }
  });

  it('passes the commit it checked out to builds of the same repository, and only to those', async () => {
    const { build, steps } = await forceAndWait(master, 'app');
    expect(build.result).toBe('success');
    expect(build.properties.got_revision?.[0]).toBe(app.head);
    const children = await triggered(steps[1].stepid);
    const check = children.find((c) => c.builder === 'app-check')?.build;
    const deploy = children.find((c) => c.builder === 'deploy-tools')?.build;
    expect(check.properties).toMatchObject({
      repository: [app.url, 'Scheduler'],
      revision: [app.head, 'Scheduler'],
      got_revision: [app.head, 'git'],
    });
    expect(deploy.result).toBe('success'); // its Git step builds tools' own main, not app's commit
    expect(deploy.properties.got_revision?.[0]).toBe(tools.head);
  });

  it('ends CANCELLED when the waiting build is stopped; the triggered build goes on', async () => {
    const forced = await client().post('/builders/waits-for-slow/force', {});
    const parent = await waitFor(
      'the waiting build to start',
      async () => (await client().get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0],
    );
    await waitFor('the slow build to start', async () => (await client().get('/builders/slowpoke/builds')).body.builds[0]);
    expect((await client().post(`/builds/${parent.buildid}/stop`, { reason: 'enough' })).status).toBe(202);
    const ended = await waitFor('the waiting build to end', async () => {
      const b = (await client().get(`/builds/${parent.buildid}`)).body.builds[0];
      return b.complete && b;
    });
    expect(ended.result).toBe('cancelled');
    const steps = (await client().get(`/builds/${parent.buildid}/steps`)).body.steps;
    expect(steps[0]).toMatchObject({ result: 'cancelled', state_string: 'cancelled while waiting' });
    const slow = (await client().get('/builders/slowpoke/builds')).body.builds[0];
    expect(slow.complete).toBe(false);
    await client().post(`/builds/${slow.buildid}/stop`, { reason: 'cleanup' });
  });

  it('stops waiting, and triggers nothing more, once the master shuts down', async () => {
    const forced = await client().post('/builders/waits-for-slow/force', {});
    const parent = await waitFor(
      'the waiting build to start',
      async () => (await client().get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0],
    );
    await waitFor('a slow build to run', async () => {
      const last = (await client().get('/builders/slowpoke/builds?order=-number&limit=1')).body.builds[0];
      return last && !last.complete && last.buildrequestid > forced.body.buildrequestid;
    });
    await master.stop();
    master = await startTestMaster(
      { builders: [{ name: 'other', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: ['true'] })) }] },
      dbUrl,
      `after-${process.pid}`,
    );
    const steps = (await client().get(`/builds/${parent.buildid}/steps`)).body.steps;
    expect(steps[0]).toMatchObject({ name: 'trigger', result: 'cancelled', state_string: 'stopped waiting: the master is shutting down' });
    expect((await client().get(`/builds/${parent.buildid}`)).body.builds[0].result).toBe('cancelled');
  });
});
