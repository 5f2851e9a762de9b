/**
 * The retention janitor (master/retention/) on builds run by a real agent: old logs lose their
 * chunks but stay listed as expired, old builds go with their steps and artifact files, old changes
 * go unless a kept build uses them, and the metric points stay. SQLite and PostgreSQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import type { DataSource } from 'typeorm';
import { api, forceAndWait, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { insertedId } from '../../master/db/inserted-id.ts';
import { internalsOf } from '../../master/testing.ts';
import type { RunningMaster } from '../../master/master.ts';
import { RetentionRepo } from '../../master/retention/retention-repo.ts';
import { runJanitor } from '../../master/retention/janitor.ts';
import { janitorPass } from '../../master/retention/janitor-schedule.ts';
import { parseDuration } from '../../master/retention/duration.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { silentLogger } from '../../core/logger.ts';
import { BuildFactory, ShellCommand } from '../../index.ts';

const TOKEN = 'janitor-test-token-0123';
const DAY = 86_400_000;
const config = {
  agents: [{ name: 'a1', token: TOKEN }],
  builders: [{ name: 'b', agents: ['a1'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'say', command: 'seq 1 20000' })) }],
};

describe('retention config', () => {
  it('reads durations and refuses unclear ones with the path', () => {
    expect(parseDuration('30d')).toBe(30 * DAY);
    expect(parseDuration('1w3d')).toBe(10 * DAY);
    expect(parseDuration('1 month')).toBeNull();
    expect(() => compileConfig({ ...config, retention: { logs: '30 days', builds: '1y' } })).toThrow(/retention\.logs.*duration such as/s);
    expect(() => compileConfig({ ...config, retention: { logs: '2y', builds: '1y' } })).toThrow(/retention\.logs.*longer than builds/s);
    expect(compileConfig({ ...config, retention: { logs: '30d' } }).retention).toEqual({ logs: 30 * DAY, schedule: '0 0 * * *' });
  });
});

async function addChange(source: DataSource, values: { revision: string; when_timestamp: number; created_at: number }): Promise<number> {
  const base = {
    repository: 'r',
    branch: 'main',
    author: 'a',
    comments: '',
    files: '[]',
    properties: '{}',
    project: '',
    category: null,
    masterid: null,
    waiting: false,
  };
  return insertedId(await source.getRepository('Change').insert({ ...base, ...values }));
}

describe.each(testDatabases())('janitor on $kind', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;
  let basedir: string;

  beforeAll(async () => {
    master = await startTestMaster(config, await db.create());
    agent = await startAgent(master, 'a1', TOKEN);
    basedir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-janitor-'));
  });
  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  /** A build, made `ageDays` old by moving its times back; with one artifact file and one change. */
  async function oldBuild(ageDays: number) {
    const { build, steps } = await forceAndWait(master, 'b');
    const { source } = internalsOf(master).db;
    const back = Date.now() - ageDays * DAY;
    await source
      .createQueryBuilder()
      .update('builds')
      .set({ started_at: back - 1000, complete_at: back })
      .where('id = :id', { id: build.buildid })
      .execute();
    const file = path.join(basedir, 'artifacts', String(build.buildid), 'out.bin');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'artifact');
    await internalsOf(master).repos.artifacts.create({
      buildid: build.buildid,
      stepid: steps[0].stepid,
      name: 'out.bin',
      path: file,
      size: 8,
      sha256: 'x'.repeat(64),
      created_at: back,
    });
    const changeid = await addChange(source, { revision: `rev${build.buildid}`, when_timestamp: back, created_at: back });
    await source
      .createQueryBuilder()
      .insert()
      .into('buildrequest_changes')
      .values({ buildrequestid: build.buildrequestid, changeid })
      .execute();
    return { build, stepid: steps[0].stepid as number, file, changeid };
  }

  it('removes old logs, builds with their artifacts, and unused changes; keeps metrics and what kept builds use', async () => {
    const ancient = await oldBuild(400); // past the builds horizon
    const old = await oldBuild(40); // past the logs horizon only
    const fresh = await oldBuild(1);
    const { source } = internalsOf(master).db;
    await addChange(source, { revision: 'orphan', when_timestamp: 0, created_at: Date.now() - 200 * DAY });
    const points = async () => Number(((await source.query('SELECT COUNT(*) AS n FROM metric_points')) as { n: unknown }[])[0]?.n);
    // The last build's points are written after it finishes, in a batch: wait until they have landed.
    let seen = -1;
    const pointsBefore = await waitFor('metric points to settle', async () => {
      await master.metrics.flush();
      await new Promise((r) => setTimeout(r, 300));
      const n = await points();
      const settled = n === seen && n > 0;
      seen = n;
      return settled ? n : null;
    });
    expect(pointsBefore).toBeGreaterThan(0);

    const deps = {
      retention: new RetentionRepo(source),
      artifacts: internalsOf(master).repos.artifacts,
      masterBasedir: basedir,
      now: Date.now,
    };
    const horizons = { logs: 30 * DAY, builds: 365 * DAY, changes: 90 * DAY };
    const dry = await runJanitor(deps, horizons, { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, logs: { expired: 2 }, builds: { removed: 1 }, changes: { removed: 1 } });
    expect(fs.existsSync(ancient.file)).toBe(true); // a dry run removes nothing

    const report = await janitorPass(internalsOf(master).db, deps, { ...horizons, schedule: '0 0 * * *' }, silentLogger);
    expect(report).toMatchObject({ dryRun: false, logs: { expired: 2 }, builds: { removed: 1, artifacts: 1 } });
    // The orphan change and the ancient build's change (its build is gone); the old build's is kept.
    expect(report?.changes.removed).toBe(2);

    const client = api(master);
    expect((await client.get(`/builds/${ancient.build.buildid}`)).status).toBe(404);
    expect(fs.existsSync(ancient.file)).toBe(false);
    const remaining = Number(((await source.query('SELECT COUNT(*) AS n FROM changes')) as { n: unknown }[])[0]?.n);
    expect(remaining).toBe(2);

    // The old build is kept, its log listed as expired and saying so; its bytes are gone.
    const [oldLog] = (await client.get(`/steps/${old.stepid}/logs`)).body.logs;
    expect(oldLog.expired_at).toBeGreaterThan(0);
    const contents = (await client.get(`/logs/${oldLog.logid}/contents`)).body;
    expect(contents.logchunks[0].content).toMatch(/log removed by retention/);
    const raw = await fetch(`${master.url}/api/v2/logs/${oldLog.logid}/raw`);
    expect(raw.status).toBe(404);
    expect(((await raw.json()) as any).error.message).toMatch(/removed by retention/);
    expect(
      Number(((await source.query(`SELECT COUNT(*) AS n FROM logchunks WHERE logid = ${Number(oldLog.logid)}`)) as { n: unknown }[])[0]?.n),
    ).toBe(0);
    expect(fs.existsSync(old.file)).toBe(true);

    // The fresh build is untouched.
    const [freshLog] = (await client.get(`/steps/${fresh.stepid}/logs`)).body.logs;
    expect(freshLog.expired_at).toBeNull();
    expect((await client.raw(`/logs/${freshLog.logid}/raw`)).toString().split('\n').length).toBe(20001);

    // Metric points outlive their builds.
    expect(await points()).toBe(pointsBefore);
    // A second pass finds nothing more.
    expect(await runJanitor(deps, horizons)).toMatchObject({ logs: { expired: 0 }, builds: { removed: 0 }, changes: { removed: 0 } });
  }, 120_000);
});
