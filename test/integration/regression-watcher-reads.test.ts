/**
 * What the regression watcher reads at a build's end, on a real master with a real agent (SQLite): a
 * build of many steps writes two or three series per step (duration, CPU time, peak memory), and the watcher reads what is new in all of them
 * with a statement or two, not a count and a page per series (which made the watcher most of the
 * master's CPU at the end of a long build). The detection itself is tested in regression-watcher.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { internalsOf } from '../../master/testing.ts';
import { forceAndWait, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';

const STEPS = 20;

interface Statement {
  all?: (...params: unknown[]) => unknown;
  get?: (...params: unknown[]) => unknown;
  iterate?: (...params: unknown[]) => unknown;
}

/** Counts the SELECTs over metric_points run on the master's SQLite connection from now on. */
function countPointReads(master: RunningMaster): { count: () => number } {
  const driver = internalsOf(master).db.source.driver as unknown as {
    databaseConnection: { prepare: (sql: string) => Statement };
  };
  const connection = driver.databaseConnection;
  const prepare = connection.prepare.bind(connection);
  let n = 0;
  connection.prepare = (sql: string) => {
    const statement = prepare(sql);
    if (!/^\s*SELECT/i.test(sql) || !sql.includes('"metric_points"')) return statement;
    for (const method of ['all', 'get', 'iterate'] as const) {
      const run = statement[method]?.bind(statement);
      if (run)
        statement[method] = (...params: unknown[]) => {
          n++;
          return run(...params);
        };
    }
    return statement;
  };
  return { count: () => n };
}

describe('regression watcher: reads at a build end', () => {
  let dir: string;
  let master: RunningMaster | null = null;
  let agent: AgentProcess | null = null;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-watch-reads-'));
    const steps = Array.from({ length: STEPS }, (_, i) => new ShellCommand({ name: `t${i}`, command: ['true'] }));
    master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: 'a1-token' }],
        builders: [{ name: 'long', agents: ['a1'], factory: new BuildFactory(steps) }],
      },
      `sqlite:${path.join(dir, 'db.sqlite')}`,
    );
    agent = await startAgent(master, 'a1', 'a1-token');
  });
  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`reads the new points of a ${STEPS}-step build's series with a few statements, not two per series`, async () => {
    if (!master) throw new Error('no master');
    const reads = countPointReads(master);
    // The first build's series are new: each detector is seeded from its history, read alone.
    expect((await forceAndWait(master, 'long')).build.results).toBe(0);
    let seen = -1;
    await waitFor('the watcher to be done with the first build', async () => {
      const now = reads.count();
      if (now === seen) return true;
      seen = now;
      await new Promise((resolve) => setTimeout(resolve, 300));
      return false;
    });
    const seeding = reads.count();
    expect(seeding, 'SELECTs of metric_points for the first build').toBeLessThan(1 + STEPS * 2);
    const builds = 3;
    for (let i = 0; i < builds; i++) expect((await forceAndWait(master, 'long')).build.results).toBe(0);
    const stored = await internalsOf(master).db.source.query('SELECT DISTINCT "series", "step" FROM "metric_points"');
    expect((stored as unknown[]).length, `series the builds wrote: ${JSON.stringify(stored).slice(0, 300)}`).toBeGreaterThanOrEqual(
      2 * STEPS,
    );
    // Stopping waits for the watcher to finish the last build.
    await master.stop();
    const perBuild = (reads.count() - seeding) / builds;
    // Per build: the build's points (one), then its series' new points (one or two). It was 1 + 2
    // per series: over 80 here.
    expect(perBuild, `SELECTs of metric_points per build (${reads.count() - seeding} for ${builds} builds)`).toBeLessThanOrEqual(3);
    expect(perBuild).toBeGreaterThanOrEqual(2);
  });
});
