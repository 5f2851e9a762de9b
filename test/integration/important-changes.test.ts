/**
 * `fileIsImportant` on a master with a real agent (issue 12, item 5): changes posted to the API,
 * only the important ones build, an unimportant one rides along with the next important one under
 * a tree-stable timer; and the builder's `env` reaches the command on the agent. SQLite only: the
 * scheduling is the same on PostgreSQL (changes.test.ts runs both).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, anyBranchScheduler, singleBranchScheduler } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, stepLog, waitFor, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'important-token-1';
const REPO = 'https://example.com/app.git';
const sqlite = testDatabases().find((d) => d.kind === 'sqlite');
const touchesCode = ({ files }: { files: string[] }) => files.some((f) => !f.startsWith('docs/'));

describe('fileIsImportant on a master with a real agent', () => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    if (!sqlite) throw new Error('no sqlite test database');
    master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: TOKEN }],
        builders: [
          {
            name: 'app',
            agents: ['a1'],
            env: { GREETING: 'from-builder' },
            factory: new BuildFactory([new ShellCommand({ name: 'show', command: 'echo "$GREETING"' })]),
          },
        ],
        schedulers: [
          singleBranchScheduler({ name: 'main', builderNames: ['app'], branch: 'main', fileIsImportant: touchesCode }),
          anyBranchScheduler({
            name: 'rel',
            builderNames: ['app'],
            branchRegex: 'release/',
            fileIsImportant: touchesCode,
            treeStableTimer: 1,
          }),
        ],
      },
      await sqlite.create(),
    );
    agent = await startAgent(master, 'a1', TOKEN);
  });
  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  const post = async (branch: string, revision: string, files: string[]) => {
    const r = await api(master).post<{ changeid: number }>('/changes', { repository: REPO, branch, revision, files });
    expect(r.status).toBe(201);
    return r.body.changeid;
  };
  type BuildSummary = { buildid: number; number: number; complete: boolean; result: string };
  const builds = async () => (await api(master).get<{ builds: BuildSummary[] }>('/builds?order=buildid')).body.builds;
  const changesOf = async (buildid: number) =>
    (await api(master).get<{ changes: { changeid: number }[] }>(`/builds/${buildid}/changes`)).body.changes.map((c) => c.changeid);

  it('builds the important change only, and the command sees the builder env', async () => {
    await post('main', 'a'.repeat(40), ['docs/readme.md']);
    const important = await post('main', 'b'.repeat(40), ['src/app.ts', 'docs/readme.md']);
    const build = await waitFor('the build', async () => (await builds()).find((b) => b.complete), 30_000);
    expect(build.result).toBe('success');
    expect(await changesOf(build.buildid)).toEqual([important]);
    const steps = (await api(master).get(`/builds/${build.buildid}/steps`)).body.steps;
    expect((await stepLog(master, steps[0].stepid)).toString()).toBe('from-builder\n');
    // The docs-only change made no build: still one after the important one was built.
    expect(await builds()).toHaveLength(1);
  });

  it('under a tree-stable timer, builds an unimportant change with the next important one', async () => {
    const docs = await post('release/1', 'c'.repeat(40), ['docs/notes.md']);
    await new Promise((r) => setTimeout(r, 1500)); // past the timer: alone, it requested nothing
    expect(await builds()).toHaveLength(1);
    const code = await post('release/1', 'd'.repeat(40), ['src/app.ts']);
    const build = await waitFor('the release build', async () => (await builds()).find((b) => b.number === 2 && b.complete), 30_000);
    expect(build.result).toBe('success');
    expect(await changesOf(build.buildid)).toEqual([docs, code]);
  });
});
