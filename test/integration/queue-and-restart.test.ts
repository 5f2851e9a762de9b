/** Requests queue until an agent fits, maxBuilds holds, and a restarted master keeps its history. */
import { afterEach, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, stepLog, waitForRequest, type AgentProcess } from '../helpers/harness.ts';

const config = (): ConfigInput => ({
  agents: [
    { name: 'solo', token: 'solo-token-123', maxBuilds: 1, labels: ['linux'] },
    { name: 'other', token: 'other-token-12', labels: ['windows'] },
  ],
  builders: [
    {
      name: 'wait',
      labels: ['linux'],
      factory: new BuildFactory().addStep(new ShellCommand({ name: 'nap', command: 'echo in; sleep 0.7; echo out' })),
    },
    { name: 'quick', factory: new BuildFactory().addStep(new ShellCommand({ name: 'say', command: ['echo', 'persisted output'] })) },
  ],
});

describe.each(testDatabases())('queueing and restarts on $kind', (db) => {
  let master: RunningMaster | null = null;
  const agents: AgentProcess[] = [];

  afterEach(async () => {
    for (const a of agents.splice(0)) await a.kill();
    await master?.stop();
    master = null;
  });

  it('queues builds while no agent fits and runs them when one connects; maxBuilds is honoured', async () => {
    master = await startTestMaster(config(), await db.create());
    const client = api(master);
    // 'other' is connected but lacks the label: the requests must wait for 'solo'.
    agents.push(await startAgent(master, 'other', 'other-token-12'));
    const ids = [];
    for (let i = 0; i < 3; i++)
      ids.push((await client.post('/builders/wait/force', { reason: `queued ${i}` })).body.buildrequestid as number);
    await new Promise((r) => setTimeout(r, 700));
    const pending = (await client.get('/buildrequests?complete=false&claimed_by_masterid__ne=0')).body;
    expect((await client.get('/builds')).body.meta.total).toBe(0);
    expect((await client.get(`/buildrequests/${ids[0]}`)).body.buildrequests[0]).toMatchObject({ claimed: false, complete: false });
    expect(pending.meta.total).toBe(0);

    agents.push(await startAgent(master, 'solo', 'solo-token-123'));
    const results = [];
    for (const id of ids) results.push(await waitForRequest(master, id));
    const builds = results.map((r) => r.build);
    expect(builds.every((b) => b.result === 'success' && b.agent === 'solo')).toBe(true);
    // maxBuilds 1: each build starts after the previous one finished.
    const sorted = [...builds].sort((a, b) => a.started_at - b.started_at);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i].started_at).toBeGreaterThanOrEqual(sorted[i - 1].complete_at);
    // oldest request first
    expect(sorted.map((b) => b.buildrequestid)).toEqual(ids);
  });

  it('keeps builders, builds, steps and logs across a restart; numbers continue', async () => {
    const url = await db.create();
    master = await startTestMaster(config(), url);
    agents.push(await startAgent(master, 'solo', 'solo-token-123'));
    const first = await forceAndWait(master, 'quick');
    expect(first.build.number).toBe(1);
    for (const a of agents.splice(0)) await a.kill();
    await master.stop();

    master = await startTestMaster(config(), url);
    const client = api(master);
    const build = (await client.get(`/builds/${first.build.buildid}`)).body.builds[0];
    expect(build).toMatchObject({ number: 1, result: 'success', builderid: first.build.builderid });
    const steps = (await client.get(`/builds/${build.buildid}/steps`)).body.steps;
    expect((await stepLog(master, steps[0].stepid)).toString()).toBe('persisted output\n');
    expect((await client.get('/builders')).body.builders.map((b: { name: string }) => b.name)).toEqual(['wait', 'quick']);

    agents.push(await startAgent(master, 'solo', 'solo-token-123'));
    const second = await forceAndWait(master, 'quick');
    expect(second.build.number).toBe(2);
    expect(second.build.builderid).toBe(first.build.builderid);
  });
});
