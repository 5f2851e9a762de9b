/**
 * Bisection to the culprit commit (issue 18 item 3) with a real master, a real agent and a real git
 * repository of 64 commits where commit 37 makes the measured value 10 % higher: named in exactly 6
 * builds without noise (⌈log2 63⌉: the 62 commits between good and bad, plus bad itself), within
 * 2·log2(64) = 12 commits built plus repeats under ±2 % noise; a small budget ends inconclusive
 * without exceeding it; a master restarted mid-bisection resumes it. The good and bad commits were
 * built before (as the builds that revealed the change): the bisection borrows their values.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, Git, MeasureShellCommand, interpolate } from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import { startMaster, type RunningMaster } from '../../master/master.ts';
import { silentLogger } from '../../core/logger.ts';
import type { BisectionDetail, BisectionList } from '../../protocol/api-types.ts';
import type { ChangePointEvent, EventBus } from '../../master/events/event-bus.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { bisectRepo, measureCommand } from '../helpers/bisect-repo.ts';

const TOKEN = 'bisect-token-1';
const SLOW_AT = 37;

function builder(name: string, repo: string, noisePercent: number, bisect: { maxBuilds: number; maxPerDay: number; repeats?: number }) {
  return {
    name,
    agents: ['a1'],
    bisect,
    factory: new BuildFactory()
      .addStep(new Git({ repourl: repo, branch: 'main' }))
      .addStep(new MeasureShellCommand({ name: 'measure', metric: 'runtime', command: interpolate(measureCommand(noisePercent)) })),
  };
}

describe.each(testDatabases())('bisection on a real repository, $kind', (db) => {
  let dir: string;
  let repo: string;
  let shas: string[];
  let dbUrl: string;
  let config: ConfigInput;
  let master: RunningMaster;
  let agent: AgentProcess;

  const start = async (name = 'bisect-test') => {
    master = await startMaster(compileConfig(config), {
      port: 0,
      host: '127.0.0.1',
      dbUrl,
      log: silentLogger,
      basedir: dir,
      name,
      shutdownTimeoutMs: 5000,
    });
    agent = await startAgent(master, 'a1', TOKEN);
  };
  const stop = async () => {
    // The master first: the build under way finishes while it drains, and is read after the restart.
    await master.stop();
    await agent.kill();
  };
  const detail = async (id: number) => (await api(master).get<BisectionDetail>(`/bisections/${id}`)).body;
  const finished = (id: number, timeoutMs = 120_000) =>
    waitFor(`bisection ${id} to finish`, async () => ((await detail(id)).bisection.state !== 'running' ? detail(id) : null), timeoutMs);
  /** Builds the good and bad ends, as the builds that revealed the change would have. */
  const buildEnds = async (name: string) => {
    const ids: number[] = [];
    for (const revision of [shas[0], shas[63]]) {
      const { build } = await forceAndWait(master, name, { properties: { revision } });
      expect(build.results).toBe(0);
      ids.push(build.buildid as number);
    }
    return ids;
  };
  const bisect = async (name: string) => {
    const res = await api(master).post('/bisections', {
      builder: name,
      series: 'runtime',
      tags: { builder: name },
      good: shas[0],
      bad: shas[63],
    });
    expect(res.status).toBe(201);
    return res.body.bisectionid as number;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-bisect-'));
    repo = path.join(dir, 'repo');
    shas = bisectRepo(repo, 64, SLOW_AT);
    dbUrl = await db.create();
    config = {
      agents: [{ name: 'a1', token: TOKEN }],
      builders: [
        builder('quiet', repo, 0, { maxBuilds: 20, maxPerDay: 100 }),
        builder('noisy', repo, 3, { maxBuilds: 40, maxPerDay: 100, repeats: 3 }),
        builder('tight', repo, 0, { maxBuilds: 3, maxPerDay: 100 }),
        builder('daily', repo, 0, { maxBuilds: 20, maxPerDay: 2 }),
        { name: 'plain', agents: ['a1'], factory: new BuildFactory().addStep(new Git({ repourl: repo })) },
      ],
    };
    await start();
  }, 60_000);

  afterAll(async () => {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names the culprit in exactly 6 builds without noise', async () => {
    await buildEnds('quiet');
    const id = await bisect('quiet');
    const { bisection, steps } = await finished(id);
    expect(bisection.reason).toBeNull();
    expect(bisection.state).toBe('found');
    expect(bisection.culprit?.revision).toBe(shas[SLOW_AT]);
    expect(bisection.culprit?.subject).toBe(`Make it slower (#${SLOW_AT})`);
    expect(bisection.culprit?.email).toBe('ada@example.org');
    expect(bisection.commits).toBe(63);
    expect(bisection.builds_requested).toBe(6);
    // The ends borrowed, then six commits with one build each.
    expect(steps.map((s) => s.role)).toEqual(['good', 'bad', ...Array<string>(6).fill('commit')]);
    for (const s of steps.filter((x) => x.role === 'commit')) {
      expect(s.builds).toHaveLength(1);
      expect(s.verdict).toBe(shas.indexOf(s.revision) >= SLOW_AT ? 'bad' : 'good');
      expect(s.builds[0]?.samples).toEqual([shas.indexOf(s.revision) >= SLOW_AT ? 110 : 100]);
    }
  }, 180_000);

  // The search and its budgets are the bisector's logic over builds, the same on either database;
  // PostgreSQL's part (the state it resumes from, the change point it starts from) is tested by the
  // others. On SQLite only, to keep CI inside its time.
  it.runIf(db.kind === 'sqlite')(
    'names it under noise within 2·log2(64) commits built, plus repeats',
    async () => {
      await buildEnds('noisy');
      const id = await bisect('noisy');
      const { bisection, steps } = await finished(id, 240_000);
      expect(bisection.reason).toBeNull();
      expect(bisection.culprit?.revision).toBe(shas[SLOW_AT]);
      const commits = steps.filter((s) => s.role === 'commit');
      const repeats = commits.reduce((n, s) => n + s.builds.length - 1, 0);
      expect(commits.length).toBeLessThanOrEqual(12);
      // The noise is seeded (commit number, build number): this run's figures are the same every time,
      // and two commits were borderline on one build.
      expect(repeats).toBeGreaterThan(0);
      expect(bisection.builds_requested).toBe(commits.length + repeats);
      expect(bisection.builds_requested).toBeLessThanOrEqual(12 + repeats);
      for (const s of commits) expect(s.builds.length).toBeLessThanOrEqual(1 + 3);
      console.log(`noisy bisection: ${commits.length} commits built, ${repeats} repeats, ${bisection.builds_requested} builds`);
    },
    300_000,
  );

  it.runIf(db.kind === 'sqlite')(
    'ends inconclusive when the budget is spent, without exceeding it',
    async () => {
      await buildEnds('tight');
      const id = await bisect('tight');
      const { bisection } = await finished(id);
      expect(bisection.state).toBe('inconclusive');
      expect(bisection.reason).toMatch(/budget: 3 builds \(maxBuilds\) used; the culprit is one of the 8 commits after/);
      expect(bisection.builds_requested).toBe(3);
      expect(bisection.culprit).toBeNull();
    },
    120_000,
  );

  it.runIf(db.kind === 'sqlite')(
    "ends inconclusive when the builder's daily budget is spent",
    async () => {
      await buildEnds('daily');
      const { bisection } = await finished(await bisect('daily'));
      expect(bisection.state).toBe('inconclusive');
      expect(bisection.reason).toMatch(/budget: 2 builds a day \(maxPerDay\) used by builder daily/);
      expect(bisection.builds_requested).toBe(2);
      // A second bisection the same day gets nothing.
      const again = await finished(await bisect('daily'));
      expect(again.bisection.builds_requested).toBe(0);
      expect(again.bisection.reason).toMatch(/maxPerDay/);
    },
    120_000,
  );

  it('resumes a bisection after a master restart (another master adopts it)', async () => {
    const id = await bisect('quiet');
    await waitFor(
      'two commits judged',
      async () => (await detail(id)).steps.filter((s) => s.role === 'commit' && s.verdict !== null).length >= 2,
      60_000,
    );
    await stop();
    await start('bisect-test-2'); // another master: it adopts the bisection of the one that stopped
    const { bisection, steps } = await finished(id);
    expect(bisection.culprit?.revision).toBe(shas[SLOW_AT]);
    // Still six builds: the one under way at the restart was read, not asked for again.
    expect(bisection.builds_requested).toBe(6);
    expect(new Set(steps.map((s) => s.revision)).size).toBe(steps.length);
  }, 180_000);

  it('starts from a confirmed, worse change point of a builder with bisect, once', async () => {
    const [before, after] = await buildEnds('tight');
    const builderid = (await api(master).get('/builders/tight')).body.builders[0].builderid as number;
    const event = (id: number, over: Partial<ChangePointEvent> = {}): ChangePointEvent => ({
      id,
      series: 'runtime',
      tags: { builder: 'tight' },
      builderid,
      branch: 'main',
      before: { buildid: before ?? null, revision: shas[0] ?? null },
      after: { buildid: after ?? null, revision: shas[63] ?? null },
      magnitude: 10,
      pValue: 0.001,
      direction: 'worse',
      confirmed: true,
      detectedBy: after ?? null,
      ...over,
    });
    // The regression watcher publishes on the master's bus; the test stands in for it (events is the bus).
    const bus = master.events as EventBus;
    const count = async () => (await api(master).get<BisectionList>('/bisections')).body.meta.total;
    const total = await count();
    bus.publish('changepoint.detected', event(901, { confirmed: false }));
    bus.publish('changepoint.detected', event(902, { direction: 'better' }));
    bus.publish('changepoint.detected', event(903));
    bus.publish('changepoint.detected', event(903));
    const started = await waitFor('the bisection of change point 903', async () =>
      (await api(master).get<BisectionList>('/bisections')).body.bisections.find((b) => b.changepointid === 903),
    );
    const { bisection, steps } = await finished(started.bisectionid);
    expect(await count()).toBe(total + 1);
    expect(bisection.branch).toBe('main');
    // The change point's own builds are the ends' samples: nothing built for them.
    expect(steps.filter((s) => s.role !== 'commit').flatMap((s) => s.builds.map((b) => b.buildid))).toEqual([before, after]);
    expect(bisection.builds_requested).toBe(3); // tight's budget
  }, 120_000);

  it('refuses a bad request with a 4xx naming what is wrong', async () => {
    const post = (body: unknown) => api(master).post('/bisections', body);
    const missing = await post({ builder: 'quiet', good: shas[0], bad: shas[63] });
    expect(missing.status).toBe(422);
    expect(missing.body.error.message).toMatch(/series/);
    const badRev = await post({ builder: 'quiet', series: 'runtime', good: '-x', bad: shas[63] });
    expect(badRev.status).toBe(422);
    expect(badRev.body.error.message).toMatch(/good: must be a commit id or a branch name/);
    expect((await post({ builder: 'nope', series: 'runtime', good: shas[0], bad: shas[63] })).status).toBe(404);
    const off = await post({ builder: 'plain', series: 'runtime', good: shas[0], bad: shas[63] });
    expect(off.status).toBe(409);
    expect(off.body.error.message).toMatch(/no bisect option/);
    expect((await post({ builder: 'quiet', series: 'runtime', good: shas[1], bad: shas[1] })).status).toBe(400);
    expect((await api(master).get('/bisections/99999')).status).toBe(404);
  });
});

describe('the bisect option', () => {
  it('is checked with the config, every mistake with its path', () => {
    const factory = new BuildFactory().addStep(new MeasureShellCommand({ name: 'm', metric: 'runtime', command: 'echo 1' }));
    const check = () =>
      compileConfig({
        agents: [{ name: 'a1', token: TOKEN }],
        builders: [
          { name: 'a', agents: ['a1'], factory, bisect: { maxBuilds: 0, maxPerDay: 5, extra: 1 } },
          { name: 'b', agents: ['a1'], factory, bisect: { maxBuilds: 5, maxPerDay: 5 } },
        ],
      });
    expect(check).toThrow(/builders\[0\]\.bisect\.maxBuilds: must be at least 1 \(builds per bisection\)/);
    expect(check).toThrow(/builders\[0\]\.bisect.*extra/);
    expect(check).toThrow(/builders\[1\]\.bisect: needs a Git step with a plain string repourl/);
  });
});
