/**
 * Master and agent locks with real builds on real agent processes: exclusive access serialises,
 * counting access allows maxCount at once, agent locks count per agent, and a build waiting for a
 * lock exclusively is not overtaken by newer builds counting on it. Locks live in the master's
 * memory, so one database kind is enough.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, agentLock, masterLock } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'locks-token-1';

interface Span {
  builder: string;
  start: number;
  end: number;
}

const nap = () => new BuildFactory().addStep(new ShellCommand({ name: 'nap', command: ['sleep', '0.7'] }));

/** The most builds running at once among these spans. */
function peak(spans: Span[]): number {
  const edges = spans.flatMap((s) => [
    [s.start, 1],
    [s.end, -1],
  ]) as [number, number][];
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // an end before a start at the same instant
  let now = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (now += d));
  return most;
}

describe('locks', () => {
  let master: RunningMaster;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    const db = testDatabases()[0] as { create(): Promise<string> };
    master = await startTestMaster(
      {
        agents: [
          { name: 'a1', token: TOKEN, maxBuilds: 6 },
          { name: 'a2', token: TOKEN, maxBuilds: 6 },
        ],
        locks: [masterLock({ name: 'deploy' }), masterLock({ name: 'pool', maxCount: 2 }), agentLock({ name: 'heavy' })],
        builders: [
          ...['deploy-a', 'deploy-b'].map((name) => ({
            name,
            agents: ['a1'],
            factory: nap(),
            locks: [{ lock: 'deploy', access: 'exclusive' as const }],
          })),
          ...['p1', 'p2', 'p3', 'p4'].map((name) => ({ name, agents: ['a1'], factory: nap(), locks: [{ lock: 'pool' }] })),
          { name: 'pool-admin', agents: ['a1'], factory: nap(), locks: [{ lock: 'pool', access: 'exclusive' as const }] },
          {
            name: 'deploy-with-pool',
            agents: ['a1'],
            factory: nap(),
            locks: [{ lock: 'deploy', access: 'exclusive' as const }, { lock: 'pool' }],
          },
          ...['h1', 'h2'].map((name) => ({ name, agents: ['a2'], factory: nap(), locks: [{ lock: 'heavy' }] })),
          ...['h3', 'h4'].map((name) => ({ name, factory: nap(), locks: [{ lock: 'heavy' }] })),
        ],
      },
      await db.create(),
    );
    agents.push(await startAgent(master, 'a1', TOKEN), await startAgent(master, 'a2', TOKEN));
  });

  afterAll(async () => {
    for (const a of agents) await a.kill();
    await master?.stop();
  });

  /** Forces the builders in this order (each request submitted before the next) and returns their builds' spans. */
  async function run(builders: string[]): Promise<(Span & { agent: string })[]> {
    const client = api(master);
    const ids: number[] = [];
    for (const b of builders) {
      const r = await client.post(`/builders/${b}/force`, {});
      expect(r.status).toBe(202);
      ids.push(r.body.buildrequestid as number);
    }
    return Promise.all(
      ids.map((id, i) =>
        waitFor(
          `the build of ${builders[i]}`,
          async () => {
            const build = (await client.get(`/builds?buildrequestid=${id}`)).body.builds[0];
            if (!build?.complete) return null;
            expect(build.result).toBe('success');
            return {
              builder: builders[i] as string,
              start: build.started_at as number,
              end: build.complete_at as number,
              agent: build.agent as string,
            };
          },
          30_000,
        ),
      ),
    );
  }

  it('runs builds that take a master lock exclusively one at a time', async () => {
    const spans = await run(['deploy-a', 'deploy-b']);
    expect(peak(spans)).toBe(1);
  });

  it('runs at most maxCount builds counting on a master lock, and that many at once', async () => {
    const spans = await run(['p1', 'p2', 'p3', 'p4']);
    expect(peak(spans)).toBe(2);
  });

  it('starts an exclusive build waiting for a counted lock before newer builds counting on it', async () => {
    const spans = await run(['p1', 'p2', 'pool-admin', 'p3']);
    const admin = spans.find((s) => s.builder === 'pool-admin') as Span;
    for (const s of spans)
      if (s !== admin) expect(s.end <= admin.start || s.start >= admin.end, `${s.builder} overlaps pool-admin`).toBe(true);
    const p3 = spans.find((s) => s.builder === 'p3') as Span;
    expect(p3.start).toBeGreaterThanOrEqual(admin.end);
  });

  it('lets a newer build take a free lock that an older build, waiting for another lock, also needs', async () => {
    const spans = await run(['deploy-a', 'deploy-with-pool', 'p1']);
    const [deploy, waiting, p1] = spans as unknown as [Span, Span, Span];
    expect(waiting.start).toBeGreaterThanOrEqual(deploy.end); // it waited for 'deploy'
    expect(p1.start).toBeLessThan(deploy.end); // 'pool' was free: p1 did not wait behind it
  });

  it('counts an agent lock per agent: one heavy build on each agent at a time, two agents in parallel', async () => {
    const pinned = await run(['h1', 'h2']);
    expect(pinned.every((s) => s.agent === 'a2')).toBe(true);
    expect(peak(pinned)).toBe(1);
    const spread = await run(['h3', 'h4']);
    expect(new Set(spread.map((s) => s.agent)).size).toBe(2);
    expect(peak(spread)).toBe(2);
  });
});
