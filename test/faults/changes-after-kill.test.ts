/**
 * A master killed (SIGKILL) while a change scheduler holds a change for its tree-stable timer: the
 * change is stored, and the restarted master offers it to its timed schedulers again, so it is built,
 * once; a scheduler that had requested it at once does not request it twice.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, anyBranchScheduler, singleBranchScheduler } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { CLI, ROOT, api, startTestMaster, waitFor } from '../helpers/harness.ts';
import { internalsOf } from '../../master/testing.ts';

const DIR = path.join(ROOT, 'tmp', `changes-kill-${process.pid}`);
const REPO = 'https://git.example.org/app.git';

const configFile = (
  timer: number,
) => `import { defineConfig, BuildFactory, ShellCommand, singleBranchScheduler, anyBranchScheduler } from 'caliper';
export default defineConfig({
  builders: [{ name: 'app', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: ['true'] })) }],
  schedulers: [
    singleBranchScheduler({ name: 'stable', builderNames: ['app'], branch: 'main', treeStableTimer: ${timer} }),
    anyBranchScheduler({ name: 'at-once', builderNames: ['app'] }),
  ],
});
`;

describe.each(testDatabases())('changes held by a killed master, on $kind', (db) => {
  let master: RunningMaster | null = null;

  afterAll(async () => {
    await master?.stop();
  });

  it('are offered again to the timed schedulers when it starts, and built once', async () => {
    fs.mkdirSync(DIR, { recursive: true });
    const file = path.join(DIR, `master-${db.kind}.config.ts`);
    fs.writeFileSync(file, configFile(300));
    const dbUrl = await db.create();
    const child = spawn(process.execPath, [CLI, 'start', '--config', file, '--port', '0', '--db', dbUrl], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const url = await waitFor(`the master to start (output: ${out})`, () => /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1]);
    const posted = await fetch(`${url}/api/v2/changes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ repository: REPO, branch: 'main', revision: 'c0ffee1234' }),
    });
    expect(posted.status).toBe(201);
    const { changeid } = (await posted.json()) as { changeid: number };
    const requestsOf = async (base: string) =>
      (
        (await (await fetch(`${base}/api/v2/buildrequests?order=buildrequestid`)).json()) as {
          buildrequests: { buildrequestid: number; reason: string }[];
        }
      ).buildrequests;
    // 'at-once' requested its build; 'stable' holds the change for 300 s.
    await waitFor('the immediate request', async () => (await requestsOf(url)).length === 1);
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      process.kill(-(child.pid as number), 'SIGKILL');
    });

    // The same master (name: host and config folder) starts again, with a short timer this time.
    const builders = [{ name: 'app', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: ['true'] })) }];
    master = await startTestMaster(
      {
        builders,
        schedulers: [
          singleBranchScheduler({ name: 'stable', builderNames: ['app'], branch: 'main', treeStableTimer: 0.5 }),
          anyBranchScheduler({ name: 'at-once', builderNames: ['app'] }),
        ],
      },
      dbUrl,
      `${os.hostname()}:${DIR}`,
    );
    const requests = await waitFor('the held change to be requested', async () => {
      const rows = await requestsOf(master!.url);
      return rows.length >= 2 && rows;
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await requestsOf(master.url)).map((r) => r.reason)).toEqual([
      "The AnyBranchScheduler 'at-once' triggered this build",
      "The SingleBranchScheduler 'stable' triggered this build",
    ]);
    const linked = await api(master).get(`/buildrequests/${requests[1]?.buildrequestid}/changes`);
    expect(linked.body.changes.map((c: { changeid: number }) => c.changeid)).toEqual([changeid]);
    const waiting = (await internalsOf(master).db.source.query('SELECT waiting FROM changes WHERE id = ' + String(changeid))) as {
      waiting: unknown;
    }[];
    expect(Boolean(waiting[0]?.waiting)).toBe(false);
    await master.stop();
    master = null;
  });
});
