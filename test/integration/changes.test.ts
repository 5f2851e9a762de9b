/**
 * Building on commits: a real git repository, the master's git poller, change schedulers, the Git
 * step on a real agent process, and changes posted to the API. On SQLite and PostgreSQL.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, Git, ShellCommand, anyBranchScheduler, gitPoller, singleBranchScheduler } from '../../index.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, stepLog, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { git } from '../helpers/git.ts';

const TOKEN = 'changes-token-1';
/** Writes `content` to version.txt on `branch` and commits it; returns the commit id. */
function commit(repo: string, branch: string, content: string): string {
  git(repo, 'checkout', '--quiet', ...(git(repo, 'branch', '--list', branch) ? [branch] : ['-b', branch]));
  fs.writeFileSync(path.join(repo, 'version.txt'), `${content}\n`);
  git(repo, 'add', 'version.txt');
  git(repo, 'commit', '--quiet', '-m', `version ${content}`);
  return git(repo, 'rev-parse', 'HEAD');
}

describe.each(testDatabases())('changes on $kind', (db) => {
  let dir: string;
  let repo: string;
  let pollerDir: string;
  let dbUrl: string;
  let master: RunningMaster;
  let agent: AgentProcess;
  let config: ConfigInput;
  let first: string;

  const builds = async () =>
    (await api(master).get('/builds?order=buildid')).body.builds as {
      buildid: number;
      number: number;
      complete: boolean;
      result: string;
      buildrequestid: number;
    }[];
  const changesOf = async (buildid: number) =>
    (await api(master).get(`/builds/${buildid}/changes`)).body.changes as { changeid: number; revision: string; branch: string }[];
  const propertiesOf = async (buildid: number) =>
    (await api(master).get(`/builds/${buildid}`)).body.builds[0].properties as Record<string, [unknown, string]>;
  /** Waits for build number `n` to finish and returns it. */
  const finished = (n: number) =>
    waitFor(`build ${n} to finish`, async () => (await builds()).find((b) => b.number === n && b.complete), 30_000);
  const pollerSaw = (branch: string, sha: string) =>
    waitFor(`the poller to record ${branch}`, () => {
      try {
        return (
          execFileSync('git', [`--git-dir=${pollerDir}`, 'rev-parse', `refs/caliper/seen/${branch}`], { encoding: 'utf8' }).trim() === sha
        );
      } catch {
        return false;
      }
    });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-changes-'));
    repo = path.join(dir, 'src');
    pollerDir = path.join(dir, 'poller.git');
    fs.mkdirSync(repo);
    git(repo, 'init', '--quiet', '-b', 'main');
    first = commit(repo, 'main', '1');
    dbUrl = await db.create();
    config = {
      agents: [{ name: 'a1', token: TOKEN }],
      builders: [
        {
          name: 'app',
          agents: ['a1'],
          factory: new BuildFactory()
            .addStep(new Git({ repourl: repo, mode: 'full' }))
            .addStep(new ShellCommand({ name: 'show', command: ['cat', 'version.txt'] })),
        },
        {
          name: 'shallow',
          agents: ['a1'],
          factory: new BuildFactory()
            .addStep(new Git({ repourl: repo, shallow: true }))
            .addStep(new ShellCommand({ name: 'show', command: ['cat', 'version.txt'] })),
        },
      ],
      changeSources: [gitPoller({ repourl: repo, branches: true, pollInterval: 1, workdir: pollerDir })],
      schedulers: [
        singleBranchScheduler({ name: 'on-main', builderNames: ['app'], branch: 'main' }),
        anyBranchScheduler({ name: 'features', builderNames: ['app'], branchRegex: 'feature/.*', treeStableTimer: 1.5 }),
      ],
    };
    master = await startTestMaster(config, dbUrl);
    agent = await startAgent(master, 'a1', TOKEN);
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('records where branches are on its first poll, without a change for the existing history', async () => {
    await pollerSaw('main', first);
    expect((await api(master).get('/changes')).body.meta.total).toBe(0);
  });

  it('turns a commit on main into a change and a build of that revision, and links them', async () => {
    const sha = commit(repo, 'main', '2');
    const build = await finished(1);
    expect(build.result).toBe('success');
    const changes = await changesOf(build.buildid);
    expect(changes.map((c) => [c.revision, c.branch])).toEqual([[sha, 'main']]);
    const change = (await api(master).get(`/changes/${changes[0]?.changeid}`)).body.changes[0];
    expect(change).toMatchObject({ repository: repo, author: 'Ada <ada@example.org>', comments: 'version 2', files: ['version.txt'] });
    expect(change.when_timestamp).toBe(Number(git(repo, 'show', '--no-patch', '--format=%ct', sha)));
    const props = await propertiesOf(build.buildid);
    expect(props.got_revision).toEqual([sha, 'git']);
    expect(props.revision?.[0]).toBe(sha);
    const steps = (await api(master).get(`/builds/${build.buildid}/steps`)).body.steps;
    expect(steps[0].state_string).toBe(`main at ${sha.slice(0, 12)}`);
    expect((await stepLog(master, steps[1].stepid)).toString()).toBe('2\n');
  });

  it('makes one build of the newest commit for a push of three to a feature branch (treeStableTimer)', async () => {
    const shas = ['3a', '3b', '3c'].map((v) => commit(repo, 'feature/x', v));
    const build = await finished(2);
    expect(build.result).toBe('success');
    expect((await changesOf(build.buildid)).map((c) => c.revision)).toEqual(shas);
    expect((await propertiesOf(build.buildid)).got_revision?.[0]).toBe(shas[2]);
    // main's scheduler ignored them, and nothing else was requested.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await builds()).length).toBe(2);
  });

  it('builds a change posted to the API at its own (older) revision; bad changes are refused, naming the field', async () => {
    const client = api(master);
    const bad = await client.post('/changes', { repository: repo, branch: 'main', revision: '--upload-pack=touch /tmp/x', extra: 1 });
    expect(bad.status).toBe(422);
    expect(bad.body.error.message).toContain('revision');
    expect(bad.body.error.message).toContain('unknown field');
    const badBranch = await client.post('/changes', { repository: repo, branch: 'a..b', revision: first });
    expect(badBranch.status).toBe(422);
    expect(badBranch.body.error.message).toContain('branch');
    const before = (await client.get('/changes')).body.meta.total;
    const ok = await client.post('/changes', {
      repository: repo,
      branch: 'main',
      revision: first,
      author: 'ci',
      comments: 'rebuild the first',
      when_timestamp: 1700000000.5,
    });
    expect(ok.status).toBe(201);
    expect((await client.get(`/changes/${ok.body.changeid}`)).body.changes[0]).toMatchObject({
      author: 'ci',
      when_timestamp: 1700000000.5,
      files: [],
    });
    expect((await client.get('/changes')).body.meta.total).toBe(before + 1);
    const build = await finished(3);
    expect(build.result).toBe('success');
    expect((await changesOf(build.buildid)).map((c) => c.changeid)).toEqual([ok.body.changeid]);
    const steps = (await client.get(`/builds/${build.buildid}/steps`)).body.steps;
    expect((await stepLog(master, steps[1].stepid)).toString()).toBe('1\n');
  });

  it('fails the Git step, naming the property, when a forced build asks for a revision that is not one', async () => {
    const forced = await api(master).post('/builders/app/force', { properties: { revision: '-x' } });
    expect(forced.status).toBe(202);
    const build = await finished(4);
    expect(build.result).toBe('failure');
    const steps = (await api(master).get(`/builds/${build.buildid}/steps`)).body.steps;
    expect(steps[0].state_string).toBe('property revision: "-x" is not a valid revision');
    expect(steps).toHaveLength(1); // halted: the next step never ran
  });

  it('after a restart, turns commits pushed while the master was down into changes', async () => {
    await agent.kill();
    await master.stop();
    const sha = commit(repo, 'main', '5');
    master = await startTestMaster(config, dbUrl);
    agent = await startAgent(master, 'a1', TOKEN); // the new master listens on another port
    const build = await finished(5);
    expect(build.result).toBe('success');
    expect((await changesOf(build.buildid)).map((c) => c.revision)).toEqual([sha]);
  });

  it('rebuilds a build with its changes linked and the same revision', async () => {
    const client = api(master);
    const original = (await builds()).find((b) => b.number === 3) as { buildid: number };
    const r = await client.post(`/builds/${original.buildid}/rebuild`, {});
    expect(r.status).toBe(202);
    const again = await finished(6);
    expect(again.result).toBe('success');
    expect(await changesOf(again.buildid)).toEqual(await changesOf(original.buildid));
    expect((await propertiesOf(again.buildid)).got_revision?.[0]).toBe(first);
  });

  it('builds an older revision in a clone that an earlier build fetched shallow', async () => {
    const client = api(master);
    const shallowBuild = async (properties: Record<string, string>) => {
      const r = await client.post('/builders/shallow/force', { properties });
      const build = await waitFor(
        'the shallow build',
        async () =>
          (await client.get(`/builds?buildrequestid=${r.body.buildrequestid}`)).body.builds[0]?.complete &&
          (await client.get(`/builds?buildrequestid=${r.body.buildrequestid}`)).body.builds[0],
        30_000,
      );
      const steps = (await client.get(`/builds/${build.buildid}/steps`)).body.steps;
      return { build, log: (await stepLog(master, steps[1].stepid)).toString() };
    };
    const head = await shallowBuild({});
    expect(head.build.result).toBe('success');
    expect(head.log).toBe('5\n');
    const old = await shallowBuild({ revision: first, branch: 'main' });
    expect(old.build.result).toBe('success');
    expect(old.log).toBe('1\n');
  });

  it("lists a merge's files against the branch it was merged into", async () => {
    git(repo, 'checkout', '--quiet', '-b', 'topic', 'main');
    fs.writeFileSync(path.join(repo, 'other.txt'), 'other\n');
    git(repo, 'add', 'other.txt');
    git(repo, 'commit', '--quiet', '-m', 'other');
    git(repo, 'checkout', '--quiet', 'main');
    git(repo, 'merge', '--quiet', '--no-ff', '-m', 'merge topic', 'topic');
    const merge = git(repo, 'rev-parse', 'HEAD');
    const change = await waitFor('the merge to become a change', async () =>
      (
        (await api(master).get('/changes?branch=main&order=-changeid&limit=5')).body.changes as { revision: string; files: string[] }[]
      ).find((c) => c.revision === merge),
    );
    expect(change.files).toEqual(['other.txt']);
  });
});
