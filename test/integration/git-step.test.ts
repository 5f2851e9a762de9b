/**
 * The Git step as Buildbot's, on a real agent with real repositories: the remote's default branch
 * when no branch is given, submodules, `mode: 'full'` with each method, a rendered `repourl`,
 * `getDescription`; and `PWD` in every command's environment.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, Git, ShellCommand, interpolate, renderer, type GitOptions } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, stepLog, type AgentProcess } from '../helpers/harness.ts';
import { git } from '../helpers/git.ts';

const TOKEN = 'git-step-token-1';

/** Writes `files` in `repo` and commits them; returns the commit id. */
function commit(repo: string, files: Record<string, string>, message = 'change'): string {
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(repo, name), content);
  git(repo, 'add', '--', ...Object.keys(files));
  git(repo, 'commit', '--quiet', '-m', message);
  return git(repo, 'rev-parse', 'HEAD');
}

/** Steps that show what the Git step left (`ls -A`, and whether its repository is the last build's), then leave litter. */
function modeFactory(options: Omit<GitOptions, 'repourl'>, repourl: string): BuildFactory {
  return new BuildFactory()
    .addStep(new Git({ repourl, ...options }))
    .addStep(
      new ShellCommand({
        name: 'survivors',
        command:
          'ls -A | tr "\\n" " "; test -e .git/marker && echo "(same repository)" || echo "(new repository)"; test -d ../source/.git && echo "source kept" || true',
      }),
    )
    .addStep(new ShellCommand({ name: 'litter', command: 'mkdir -p out && touch untracked.txt ignored.log out/artefact.o .git/marker' }));
}

describe('the Git step on a real agent', () => {
  let dir: string;
  let master: RunningMaster;
  let agent: AgentProcess;
  let defaultRepo: string; // default branch `master`, no `main`
  let masterTip: string;
  let superRepo: string;
  let appRepo: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-git-step-'));
    defaultRepo = path.join(dir, 'default');
    git(dir, 'init', '--quiet', '-b', 'master', defaultRepo);
    commit(defaultRepo, { 'which.txt': 'first\n' }, 'first');
    git(defaultRepo, 'tag', '-a', 'v1.0', '-m', 'release 1.0');
    masterTip = commit(defaultRepo, { 'which.txt': 'master\n' }, 'second');
    // Another branch with a newer commit: the default branch is HEAD's, not the newest.
    git(defaultRepo, 'checkout', '--quiet', '-b', 'other');
    commit(defaultRepo, { 'which.txt': 'other\n' }, 'other');
    git(defaultRepo, 'checkout', '--quiet', 'master');

    const lib = path.join(dir, 'lib');
    git(dir, 'init', '--quiet', '-b', 'main', lib);
    commit(lib, { 'lib.txt': 'from the submodule\n' });
    superRepo = path.join(dir, 'super');
    git(dir, 'init', '--quiet', '-b', 'main', superRepo);
    commit(superRepo, { 'top.txt': 'top\n' });
    // git ≥ 2.38.1 refuses local (file) submodules unless allowed.
    git(superRepo, '-c', 'protocol.file.allow=always', 'submodule', 'add', '--quiet', lib, 'lib');
    git(superRepo, 'commit', '--quiet', '-m', 'add lib');

    appRepo = path.join(dir, 'app');
    git(dir, 'init', '--quiet', '-b', 'main', appRepo);
    commit(appRepo, { 'tracked.txt': 'tracked\n', '.gitignore': '*.log\nout/\n' });

    const dbUrl = await testDatabases()[0]!.create();
    master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: TOKEN }],
        builders: [
          {
            name: 'default-branch',
            agents: ['a1'],
            factory: new BuildFactory()
              .addStep(new Git({ repourl: defaultRepo, getDescription: true }))
              .addStep(new ShellCommand({ name: 'show', command: ['cat', 'which.txt'] })),
          },
          {
            name: 'described',
            agents: ['a1'],
            factory: new BuildFactory().addStep(
              new Git({ repourl: defaultRepo, branch: 'other', getDescription: { always: true, match: 'none-*' } }),
            ),
          },
          {
            name: 'submodules',
            agents: ['a1'],
            factory: new BuildFactory()
              .addStep(new Git({ repourl: superRepo, mode: 'full', submodules: true, config: { 'protocol.file.allow': 'always' } }))
              .addStep(new ShellCommand({ name: 'show', command: ['cat', 'lib/lib.txt'] })),
          },
          { name: 'incremental', agents: ['a1'], factory: modeFactory({}, appRepo) },
          { name: 'full', agents: ['a1'], factory: modeFactory({ mode: 'full' }, appRepo) },
          { name: 'clean', agents: ['a1'], factory: modeFactory({ mode: 'full', method: 'clean' }, appRepo) },
          { name: 'clobber', agents: ['a1'], factory: modeFactory({ mode: 'full', method: 'clobber' }, appRepo) },
          { name: 'copy', agents: ['a1'], factory: modeFactory({ mode: 'full', method: 'copy' }, appRepo) },
          {
            name: 'rendered',
            agents: ['a1'],
            factory: new BuildFactory().addStep(new Git({ repourl: interpolate('%(prop:base)s/app'), branch: 'main' })),
          },
          {
            name: 'renderer',
            agents: ['a1'],
            factory: new BuildFactory().addStep(
              new Git({ repourl: renderer((props) => path.join(String(props.get('base')), 'default')), alwaysUseLatest: true }),
            ),
          },
          {
            name: 'pwd',
            agents: ['a1'],
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'default', command: ['printenv', 'PWD'] }))
              .addStep(new ShellCommand({ name: 'nested', command: ['printenv', 'PWD'], workdir: 'sub/dir', env: { PWD: '/elsewhere' } })),
          },
        ],
      },
      dbUrl,
    );
    agent = await startAgent(master, 'a1', TOKEN);
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  const propertiesOf = async (buildid: number): Promise<Record<string, [unknown, string]>> =>
    (await api(master).get(`/builds/${buildid}`)).body.builds[0].properties;
  const logOf = async (stepid: number) => (await stepLog(master, stepid)).toString();

  it("builds the remote's default branch (HEAD, here master) when no branch is given, and describes it", async () => {
    const { build, steps } = await forceAndWait(master, 'default-branch');
    expect(build.result).toBe('success');
    expect(steps[0].state_string).toBe(`master at ${masterTip.slice(0, 12)}`);
    const props = await propertiesOf(build.buildid);
    expect(props.got_revision).toEqual([masterTip, 'git']);
    expect(props['commit-description']).toEqual([`v1.0-1-g${masterTip.slice(0, 7)}`, 'git']);
    expect(await logOf(steps[1].stepid)).toBe('master\n');
  });

  it("passes getDescription's options to git describe (--always when no tag matches)", async () => {
    const { build } = await forceAndWait(master, 'described');
    expect(build.result).toBe('success');
    const props = await propertiesOf(build.buildid);
    expect(props['commit-description']?.[0]).toBe(String(props.got_revision?.[0]).slice(0, 7));
  });

  it('checks the submodules out, recursively', async () => {
    const { build, steps } = await forceAndWait(master, 'submodules');
    expect(build.result).toBe('success');
    expect(await logOf(steps[1].stepid)).toBe('from the submodule\n');
  });

  it.each([
    ['incremental', '.git .gitignore ignored.log out tracked.txt untracked.txt (same repository)\n'],
    ['full', '.git .gitignore tracked.txt (same repository)\n'], // fresh: ignored files go too
    ['clean', '.git .gitignore ignored.log out tracked.txt (same repository)\n'], // ignored files stay
    ['clobber', '.git .gitignore tracked.txt (new repository)\n'],
    ['copy', '.git .gitignore tracked.txt (new repository)\nsource kept\n'],
  ])('mode %s leaves what Buildbot would of the last build', async (builder, survivors) => {
    const first = await forceAndWait(master, builder);
    expect(first.build.result).toBe('success');
    expect(await logOf(first.steps[1].stepid)).toMatch(/^\.git \.gitignore tracked\.txt \(new repository\)\n/);
    const second = await forceAndWait(master, builder);
    expect(second.build.result).toBe('success');
    expect(await logOf(second.steps[1].stepid)).toBe(survivors);
  });

  it('renders repourl when the step runs (interpolate, renderer); a rendered value git could read as an option fails the step', async () => {
    const rendered = await forceAndWait(master, 'rendered', { properties: { base: dir } });
    expect(rendered.build.result).toBe('success');
    const props = await propertiesOf(rendered.build.buildid);
    expect(props.got_repository).toEqual([appRepo, 'git']);
    expect(props.got_revision?.[0]).toBe(git(appRepo, 'rev-parse', 'HEAD'));

    const fn = await forceAndWait(master, 'renderer', { properties: { base: dir } });
    expect(fn.build.result).toBe('success');
    expect(fn.steps[0].state_string).toBe(`master at ${masterTip.slice(0, 12)}`);

    const bad = await forceAndWait(master, 'rendered', { properties: { base: '--upload-pack=touch /tmp/x' } });
    expect(bad.build.result).toBe('failure');
    expect(bad.steps[0].state_string).toBe('repourl "--upload-pack=touch /tmp/x/app": cannot start with "-"');
  });

  it("gives every command PWD, its absolute working directory (over the step's env)", async () => {
    const { build, steps } = await forceAndWait(master, 'pwd');
    expect(build.result).toBe('success');
    expect(await logOf(steps[0].stepid)).toBe(`${path.join(agent.workdir, 'pwd', 'build')}\n`);
    expect(await logOf(steps[1].stepid)).toBe(`${path.join(agent.workdir, 'pwd', 'sub', 'dir')}\n`);
  });
});
