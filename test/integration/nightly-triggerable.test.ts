/**
 * Nightly triggerable schedulers (Buildbot's NightlyTriggerable) on a real master with a real agent
 * process: a Trigger step arms one (and succeeds at once), the scheduler builds at its time with the
 * last arming, once; not armed, it builds nothing; an arming outlives a restart. The times are a cron
 * pattern that fires every second (six fields), or one that does not fire during the test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, Trigger, interpolate, nightlyTriggerableScheduler } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, stepLog, waitFor, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'nightly-token-1';

function config(cron: string): ConfigInput {
  return {
    agents: [{ name: 'n1', token: TOKEN, maxBuilds: 3 }],
    builders: [
      {
        name: 'parent',
        factory: new BuildFactory().addStep(
          new Trigger({
            schedulerNames: ['docs-nightly'],
            waitForFinish: true,
            setProperties: { flavour: interpolate('v%(prop:version:-0)s') },
          }),
        ),
      },
      {
        name: 'docs',
        factory: new BuildFactory().addStep(
          new ShellCommand({ name: 'show', command: ['echo', interpolate('%(prop:flavour)s %(prop:kind)s %(prop:scheduler)s')] }),
        ),
      },
    ],
    schedulers: [
      nightlyTriggerableScheduler({
        name: 'docs-nightly',
        builderNames: ['docs'],
        cron,
        properties: { kind: 'nightly', flavour: 'default' },
      }),
    ],
  };
}

interface Request {
  buildrequestid: number;
  complete: boolean;
  reason: string;
  parent_buildid: number | null;
  properties: Record<string, unknown>;
}

describe.each(testDatabases())('nightly triggerable scheduler on $kind', (db) => {
  let master: RunningMaster | undefined;
  let agent: AgentProcess | undefined;

  afterEach(async () => {
    await agent?.kill();
    await master?.stop();
    agent = master = undefined;
  });

  async function docsRequests(m: RunningMaster): Promise<Request[]> {
    const builders = (await api(m).get('/builders')).body.builders as { builderid: number; name: string }[];
    const id = builders.find((b) => b.name === 'docs')?.builderid;
    return (await api(m).get(`/buildrequests?builderid=${id}&order=buildrequestid`)).body.buildrequests as Request[];
  }
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('builds at its time with what the last Trigger armed it with, once per arming; unarmed, nothing', async () => {
    const m = (master = await startTestMaster(config('* * * * * *'), await db.create()));
    agent = await startAgent(m, 'n1', TOKEN);
    await pause(2200); // two times pass, not armed
    expect(await docsRequests(m)).toEqual([]);

    const { build, steps } = await forceAndWait(m, 'parent', { properties: { version: '7' } });
    // As Buildbot: the Trigger step does not wait for a nightly build, even with waitForFinish.
    expect(build.result).toBe('success');
    expect(steps[0].state_string).toBe('armed docs-nightly');
    expect((await stepLog(m, steps[0].stepid, 'triggered')).toString()).toContain('docs-nightly: nothing requested now');

    const [docs] = await waitFor('the nightly build', async () => {
      const rows = await docsRequests(m);
      return rows.length > 0 && rows.every((r) => r.complete) && rows;
    });
    // The trigger's properties over the scheduler's own.
    expect(docs?.properties).toMatchObject({ flavour: 'v7', kind: 'nightly', scheduler: 'docs-nightly' });
    expect(docs?.parent_buildid).toBe(build.buildid);
    expect(docs?.reason).toBe("The NightlyTriggerable scheduler 'docs-nightly' triggered this build");
    const docsBuild = (await api(m).get(`/builds?buildrequestid=${docs?.buildrequestid}`)).body.builds[0];
    const docsSteps = (await api(m).get(`/builds/${docsBuild.buildid}/steps`)).body.steps;
    expect((await stepLog(m, docsSteps[0].stepid)).toString()).toBe('v7 nightly docs-nightly\n');

    await pause(2200); // disarmed by that build: the next times build nothing
    expect(await docsRequests(m)).toHaveLength(1);
  });

  it.runIf(db.kind === 'postgres')('builds an arming once when two masters share the database and both fire', async () => {
    const url = await db.create();
    const m = (master = await startTestMaster(config('* * * * * *'), url, 'nightly-a'));
    const other = await startTestMaster(config('* * * * * *'), url, 'nightly-b');
    try {
      agent = await startAgent(m, 'n1', TOKEN);
      for (let i = 0; i < 3; i++) {
        await forceAndWait(m, 'parent', { properties: { version: String(i) } });
        await waitFor(`nightly build ${i + 1}`, async () => (await docsRequests(m)).length === i + 1);
        await pause(1100); // another second: both masters fire again, with nothing armed
      }
      expect((await docsRequests(m)).map((r) => r.properties.flavour)).toEqual(['v0', 'v1', 'v2']);
    } finally {
      await other.stop();
    }
  });

  it('keeps its arming across a restart, and builds with the last one', async () => {
    const url = await db.create();
    // 1 January at midnight: not during this test.
    let m = (master = await startTestMaster(config('0 0 1 1 *'), url));
    agent = await startAgent(m, 'n1', TOKEN);
    await forceAndWait(m, 'parent', { properties: { version: '1' } });
    await forceAndWait(m, 'parent', { properties: { version: '2' } });
    await pause(500);
    expect(await docsRequests(m)).toEqual([]);
    await agent.kill();
    await m.stop();

    m = master = await startTestMaster(config('* * * * * *'), url);
    agent = await startAgent(m, 'n1', TOKEN);
    const [docs] = await waitFor('the nightly build after the restart', async () => {
      const rows = await docsRequests(m);
      return rows.length > 0 && rows.every((r) => r.complete) && rows;
    });
    expect(docs?.properties).toMatchObject({ flavour: 'v2' });
    await pause(2200);
    expect(await docsRequests(m)).toHaveLength(1);
  });
});
