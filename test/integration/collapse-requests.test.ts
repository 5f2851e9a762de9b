/**
 * collapseRequests on a real master with a real agent process: requests queue behind a gate build on
 * the only agent; a new request ends the queued ones it makes redundant as SKIPPED (claimed and
 * complete, announced, never built), by Buildbot's rule (same source and properties; changes or the
 * same revision) or a function; the newest is built once the agent is free. Off unless configured;
 * a builder's setting beats the top-level one; a function that throws collapses nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, singleBranchScheduler } from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import { startMaster, type RunningMaster } from '../../master/master.ts';
import type { Result } from '../../core/results.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, waitFor, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'collapse-token-01';
const REPO = 'https://example.org/app.git';

const echo = () => new BuildFactory().addStep(new ShellCommand({ name: 'say', command: ['echo', 'built'] }));

interface Req {
  buildrequestid: number;
  complete: boolean;
  claimed: boolean;
  results: number | null;
  result: string | null;
}

describe.each(testDatabases())('collapsing requests on $kind', (db) => {
  let master: RunningMaster | null = null;
  const agents: AgentProcess[] = [];
  const errors: string[] = [];

  afterEach(async () => {
    for (const a of agents.splice(0)) await a.kill();
    await master?.stop();
    master = null;
    errors.length = 0;
  });

  /** A master whose one agent is held by a gate build until `open()`. */
  const start = async (config: Omit<ConfigInput, 'agents'>) => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-gate-')), 'open');
    const gate = new BuildFactory().addStep(new ShellCommand({ name: 'wait', command: `while [ ! -e '${file}' ]; do sleep 0.05; done` }));
    const m = await startMaster(
      compileConfig({ ...config, agents: [{ name: 'a1', token: TOKEN }], builders: [{ name: 'gate', factory: gate }, ...config.builders] }),
      {
        port: 0,
        host: '127.0.0.1',
        dbUrl: await db.create(),
        log: { info: () => {}, warn: () => {}, error: (msg, fields) => errors.push(`${msg} ${JSON.stringify(fields ?? {})}`) },
        name: `collapse-${process.pid}`,
        shutdownTimeoutMs: 3000,
      },
    );
    master = m;
    const completed: { buildrequestid: number; results: Result }[] = [];
    m.events.subscribe('buildrequest.complete', (e) => completed.push(e));
    agents.push(await startAgent(m, 'a1', TOKEN));
    const gateRequest = await force(m, 'gate');
    await waitFor('the gate build to start', () => buildOf(m, gateRequest));
    return { m, completed, open: () => fs.writeFileSync(file, '') };
  };

  const force = async (m: RunningMaster, builder: string, properties: Record<string, unknown> = {}): Promise<number> => {
    const res = await api(m).post(`/builders/${builder}/force`, { properties });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.buildrequestid as number;
  };
  const request = async (m: RunningMaster, id: number): Promise<Req> =>
    (await api(m).get(`/buildrequests/${id}`)).body.buildrequests[0] as Req;
  const buildOf = async (m: RunningMaster, id: number) =>
    (await api(m).get(`/builds?buildrequestid=${id}`)).body.builds[0] as { result: string } | undefined;
  const skipped = async (m: RunningMaster, id: number) => {
    const r = await request(m, id);
    return r.complete && r.results === 3 ? r : undefined;
  };
  const builtAll = (m: RunningMaster, ids: number[]) =>
    waitFor(
      'the builds',
      async () => (await Promise.all(ids.map((id) => request(m, id)))).every((r) => r.complete && r.results === 0),
      60_000,
    );

  it('collapses queued requests of the same source into the newest, as SKIPPED; others wait and build', async () => {
    const { m, completed, open } = await start({
      builders: [
        { name: 'ci', factory: echo(), collapseRequests: true },
        { name: 'plain', factory: echo() }, // off by default
      ],
    });
    const plain = [await force(m, 'plain'), await force(m, 'plain')];
    const r1 = await force(m, 'ci', { target: 'x' });
    const r2 = await force(m, 'ci', { target: 'x' });
    const r3 = await force(m, 'ci', { target: 'y' }); // other properties: not the same build
    const r4 = await force(m, 'ci', { target: 'x' });
    for (const id of [r1, r2]) {
      const r = await waitFor(`request ${id} to be skipped`, () => skipped(m, id));
      expect(r).toMatchObject({ complete: true, claimed: true, results: 3, result: 'skipped' });
    }
    expect(completed).toEqual(
      expect.arrayContaining([
        { buildrequestid: r1, results: 3 },
        { buildrequestid: r2, results: 3 },
      ]),
    );
    expect(await request(m, r3)).toMatchObject({ complete: false, claimed: false });
    expect(await request(m, r4)).toMatchObject({ complete: false, claimed: false });
    open();
    await builtAll(m, [r3, r4, ...plain]);
    expect(await buildOf(m, r1)).toBeUndefined();
    expect(await buildOf(m, r2)).toBeUndefined();
  }, 90_000);

  it('collapses requests of changes on one branch whatever their revisions, never with a request without changes', async () => {
    const { m, open } = await start({
      builders: [
        { name: 'ci', factory: echo() },
        { name: 'never', factory: echo(), collapseRequests: false }, // beats the top-level true
      ],
      collapseRequests: true, // the top-level default
      schedulers: [singleBranchScheduler({ name: 'main', builderNames: ['ci'], branch: 'main' })],
    });
    const post = async (revision: string, branch = 'main') => {
      const res = await api(m).post('/changes', { repository: REPO, branch, revision });
      expect(res.status).toBe(201);
      return waitFor(`the request of ${revision}`, async () => {
        const rows = (await api(m).get('/buildrequests?order=-buildrequestid&limit=1')).body.buildrequests as (Req & {
          properties: Record<string, unknown>;
        })[];
        const newest = rows[0];
        return newest?.properties.scheduler === 'main' && newest.properties.revision === revision ? newest.buildrequestid : undefined;
      });
    };
    const never = [await force(m, 'never'), await force(m, 'never')];
    const forced = await force(m, 'ci', { branch: 'main', repository: REPO, revision: 'aaa111' });
    const c1 = await post('aaa111');
    const c2 = await post('bbb222');
    await waitFor('the older change request to be skipped', () => skipped(m, c1));
    expect(await request(m, forced)).toMatchObject({ complete: false }); // no changes: not the same source as c2
    open();
    await builtAll(m, [forced, c2, ...never]);
  }, 90_000);

  it('asks a collapse function about every queued request; one that throws collapses nothing and is logged', async () => {
    let broken = false;
    const { m, open } = await start({
      builders: [
        {
          name: 'grouped',
          factory: echo(),
          // Async, as it may be: the same group is redundant, whatever else differs.
          collapseRequests: async (_builder, newer, older) => newer.properties.group === older.properties.group,
        },
        {
          name: 'fragile',
          factory: echo(),
          collapseRequests: () => {
            if (broken) throw new Error('collapse exploded');
            return true;
          },
        },
      ],
    });
    const g1 = await force(m, 'grouped', { group: 'a', n: 1 });
    const g2 = await force(m, 'grouped', { group: 'b', n: 2 });
    const g3 = await force(m, 'grouped', { group: 'a', n: 3 });
    await waitFor('g1 to be skipped', () => skipped(m, g1));
    broken = true;
    const f1 = await force(m, 'fragile');
    const f2 = await force(m, 'fragile');
    await waitFor('the failure to be logged', () =>
      errors.some((e) => e.startsWith('collapseRequests failed') && e.includes('collapse exploded')),
    );
    open();
    await builtAll(m, [g2, g3, f1, f2]);
  }, 90_000);
});
