/**
 * Fair claiming and cancelled requests: a builder whose agents are offline, however many requests it
 * has queued, never keeps another builder from building (also after a restart); a queued request can
 * be cancelled — also one of a builder no longer in the config — and a claimed or finished one cannot.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import type { RunningMaster } from '../../master/master.ts';
import type { Result } from '../../core/results.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, waitFor, waitForRequest, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'api-token-0123456789';

const config = (options: { withGone?: boolean; auth?: boolean } = {}): ConfigInput => ({
  agents: [
    { name: 'offline', token: 'offline-token-1' },
    { name: 'online', token: 'online-token-12' },
  ],
  builders: [
    {
      name: 'stuck',
      agents: ['offline'],
      factory: new BuildFactory().addStep(new ShellCommand({ name: 'say', command: ['echo', 'late'] })),
    },
    { name: 'free', agents: ['online'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'say', command: ['echo', 'free'] })) },
    { name: 'slow', agents: ['online'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'nap', command: 'sleep 60' })) },
    ...(options.withGone
      ? [{ name: 'gone', agents: ['offline'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'x', command: 'true' })) }]
      : []),
  ],
  ...(options.auth ? { web: { auth: { tokens: [TOKEN] } } } : {}),
});

describe.each(testDatabases())('fair claiming and cancelling on $kind', (db) => {
  let master: RunningMaster | null = null;
  const agents: AgentProcess[] = [];

  afterEach(async () => {
    for (const a of agents.splice(0)) await a.kill();
    await master?.stop();
    master = null;
  });

  const force = async (m: RunningMaster, builder: string): Promise<number> => {
    const res = await api(m).post(`/builders/${builder}/force`, { reason: `for ${builder}` });
    expect(res.status).toBe(202);
    return res.body.buildrequestid as number;
  };

  it('a builder with 120 requests and no agent online does not starve another builder, also after a restart', async () => {
    const url = await db.create();
    master = await startTestMaster(config(), url);
    for (let i = 0; i < 120; i++) await force(master, 'stuck');
    agents.push(await startAgent(master, 'online', 'online-token-12'));
    const first = await waitForRequest(master, await force(master, 'free'), 15_000);
    expect(first.build.result).toBe('success');

    for (const a of agents.splice(0)) await a.kill();
    await master.stop();
    master = await startTestMaster(config(), url);
    // Queued while no agent is online: the restarted master must find it behind the 120 others.
    const queued = await force(master, 'free');
    agents.push(await startAgent(master, 'online', 'online-token-12'));
    const second = await waitForRequest(master, queued, 15_000);
    expect(second.build.result).toBe('success');
    const builderid = (await api(master).get('/builders/stuck')).body.builders[0].builderid as number;
    const waiting = (await api(master).get(`/buildrequests?builderid=${builderid}&complete=false&limit=1`)).body;
    expect(waiting.meta.total).toBe(120);
  }, 60_000);

  it('cancels a queued request: CANCELLED, complete, announced, never built', async () => {
    master = await startTestMaster(config(), await db.create());
    const client = api(master);
    const completed: { buildrequestid: number; results: Result }[] = [];
    master.events.subscribe('buildrequest.complete', (e) => completed.push(e));
    const cancelled = await force(master, 'stuck');
    const kept = await force(master, 'stuck');

    const res = await client.post(`/buildrequests/${cancelled}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body.buildrequests[0]).toMatchObject({
      buildrequestid: cancelled,
      complete: true,
      results: 6,
      result: 'cancelled',
      claimed: false,
    });
    expect(completed).toEqual([{ buildrequestid: cancelled, results: 6 }]);

    // Its agent comes: the other request builds, the cancelled one never does.
    agents.push(await startAgent(master, 'offline', 'offline-token-1'));
    expect((await waitForRequest(master, kept, 15_000)).build.result).toBe('success');
    expect((await client.get(`/builds?buildrequestid=${cancelled}`)).body.meta.total).toBe(0);
    expect((await client.get(`/buildrequests/${cancelled}`)).body.buildrequests[0]).toMatchObject({ complete: true, result: 'cancelled' });

    // Finished (cancelled or built): 409; unknown: 404.
    const again = await client.post(`/buildrequests/${cancelled}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/already complete/);
    expect((await client.post(`/buildrequests/${kept}/cancel`)).status).toBe(409);
    const unknown = await client.post('/buildrequests/987654/cancel');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/build request 987654/);
  }, 60_000);

  it('answers 409 for a request whose build runs, pointing at the build to stop', async () => {
    master = await startTestMaster(config(), await db.create());
    const client = api(master);
    agents.push(await startAgent(master, 'online', 'online-token-12'));
    const id = await force(master, 'slow');
    const build = await waitFor('the slow build to start', async () => (await client.get(`/builds?buildrequestid=${id}`)).body.builds[0]);
    const res = await client.post(`/buildrequests/${id}/cancel`);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(new RegExp(`stop build ${build.buildid}`));
    expect((await client.get(`/buildrequests/${id}`)).body.buildrequests[0]).toMatchObject({ complete: false, claimed: true });
    expect((await client.post(`/builds/${build.buildid}/stop`, { reason: 'test over' })).status).toBe(202);
    expect((await waitForRequest(master, id, 15_000)).build.result).toBe('cancelled');
  }, 60_000);

  it('needs the token when web.auth is configured', async () => {
    master = await startTestMaster(config({ auth: true }), await db.create());
    const client = api(master);
    const id = (await client.post('/builders/stuck/force', {}, { authorization: `Bearer ${TOKEN}` })).body.buildrequestid as number;
    const refused = await client.post(`/buildrequests/${id}/cancel`);
    expect(refused.status).toBe(401);
    expect((await client.get(`/buildrequests/${id}`)).body.buildrequests[0].complete).toBe(false);
    expect((await client.post(`/buildrequests/${id}/cancel`, {}, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  }, 60_000);

  it('cancels a request of a builder removed from the config, after a restart with the new config', async () => {
    const url = await db.create();
    master = await startTestMaster(config({ withGone: true }), url);
    const id = await force(master, 'gone');
    await master.stop();
    master = await startTestMaster(config(), url);
    const client = api(master);
    expect((await client.get(`/buildrequests/${id}`)).body.buildrequests[0]).toMatchObject({ complete: false, claimed: false });
    const res = await client.post(`/buildrequests/${id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body.buildrequests[0]).toMatchObject({ complete: true, result: 'cancelled' });
  }, 60_000);
});
