/**
 * Pull-request builds end to end: GitHub's own `pull_request` example payloads (@octokit/webhooks-examples),
 * signed as GitHub signs them, pointed at a real bare repository with `refs/pull/N/head` refs; the
 * Git step on a real agent checks the head out (also a fork's head that exists only under
 * refs/pull/N/head); builds of a fork's pull request get no secrets unless the builder opts in;
 * change filters select pull requests by base branch. On SQLite and PostgreSQL.
 */
import { createHmac, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { WebhookDefinition } from '@octokit/webhooks-examples';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, Git, ShellCommand, anyBranchScheduler, interpolate } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, stepLog, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { git } from '../helpers/git.ts';

const SECRET = 'a-github-webhook-secret-for-prs';
const AGENT_TOKEN = 'github-pr-agent-token';
const TOKEN_VALUE = 'ghp-not-for-forks-1234';
/** GitHub's example payloads, as the package publishes them (its main file is JSON). */
const webhooks: WebhookDefinition[] = JSON.parse(
  fs.readFileSync(createRequire(import.meta.url).resolve('@octokit/webhooks-examples'), 'utf8'),
);

/** GitHub's example of an action, deep-copied (each test adapts its own). */
function example(action: string): any {
  const pr = webhooks.find((e) => e.name === 'pull_request');
  const found = pr?.examples.find((e) => 'action' in e && e.action === action);
  if (!found) throw new Error(`no pull_request example for ${action}`);
  return structuredClone(found);
}

/** Writes `file` and commits it in `repo`; returns the commit id. */
function commitFile(repo: string, file: string, content: string): string {
  fs.writeFileSync(path.join(repo, file), content);
  git(repo, 'add', file);
  git(repo, 'commit', '--quiet', '-m', `add ${file}`);
  return git(repo, 'rev-parse', 'HEAD');
}

describe.each(testDatabases())('pull-request builds on $kind', (db) => {
  let dir: string;
  let base: string; // the base repository, as GitHub would serve it (bare)
  let fork: string; // a fork's URL: never fetched, only named by head.repo
  let master: RunningMaster;
  let agent: AgentProcess;
  let prSha: string;
  let forkSha: string;
  let releaseSha: string;

  /** A payload of `action` for pull request `number`, its URLs pointed at the local repositories. */
  function payload(action: string, number: number, head: { sha: string; ref: string; repo?: string | null }, baseRef = 'main') {
    const p = example(action);
    p.number = number;
    p.repository.clone_url = base;
    p.pull_request.number = number;
    p.pull_request.html_url = `https://github.com/Codertocat/Hello-World/pull/${number}`;
    p.pull_request.base.ref = baseRef;
    p.pull_request.base.repo.clone_url = base;
    p.pull_request.head.ref = head.ref;
    p.pull_request.head.sha = head.sha;
    if (head.repo === null) p.pull_request.head.repo = null;
    else {
      p.pull_request.head.repo.clone_url = head.repo ?? base;
      if (head.repo) p.pull_request.head.repo.full_name = 'Octocat/Hello-World';
    }
    return p;
  }

  const deliver = async (event: string, body: unknown) => {
    const raw = JSON.stringify(body);
    const res = await fetch(`${master.url}/hooks/github`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'GitHub-Hookshot/044aadd',
        'X-GitHub-Event': event,
        'X-GitHub-Delivery': randomUUID(),
        'X-GitHub-Hook-ID': '292430182',
        'X-Hub-Signature-256': `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`,
      },
      body: raw,
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  /** The finished builds made for a change, by builder name. */
  const buildsOf = (changeid: number, builders: string[]) =>
    waitFor(
      `builds of change ${changeid} on ${builders.join(', ')}`,
      async () => {
        const client = api(master);
        const found: Record<string, any> = {};
        for (const name of builders) {
          for (const b of (await client.get(`/builders/${name}/builds`)).body.builds as any[]) {
            const changes = (await client.get(`/builds/${b.buildid}/changes`)).body.changes as { changeid: number }[];
            if (b.complete && changes.some((c) => c.changeid === changeid)) found[name] = b;
          }
        }
        return Object.keys(found).length === builders.length && found;
      },
      60_000,
    );
  const propertiesOf = async (buildid: number) =>
    (await api(master).get(`/builds/${buildid}`)).body.builds[0].properties as Record<string, [unknown, string]>;
  const stepsOf = async (buildid: number) => (await api(master).get(`/builds/${buildid}/steps`)).body.steps as any[];
  const requestsOf = async (changeid: number) => {
    const client = api(master);
    const ids: number[] = [];
    for (const r of (await client.get('/buildrequests')).body.buildrequests as { buildrequestid: number }[]) {
      const changes = (await client.get(`/buildrequests/${r.buildrequestid}/changes`)).body.changes as { changeid: number }[];
      if (changes.some((c) => c.changeid === changeid)) ids.push(r.buildrequestid);
    }
    return ids;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-github-pr-'));
    base = path.join(dir, 'base.git');
    fork = path.join(dir, 'fork.git');
    const work = path.join(dir, 'work');
    git(dir, 'init', '--quiet', '--bare', base);
    git(dir, 'init', '--quiet', '-b', 'main', work);
    commitFile(work, 'README.md', 'hello\n');
    git(work, 'push', '--quiet', base, 'main');
    // A pull request from a branch of the base repository: GitHub keeps its head at refs/pull/7/head too.
    git(work, 'checkout', '--quiet', '-b', 'feature');
    prSha = commitFile(work, 'pr.txt', 'from the pull request\n');
    git(work, 'push', '--quiet', base, 'feature', `${prSha}:refs/pull/7/head`);
    // A fork's commit: in the base repository only under refs/pull/8/head, as GitHub serves it.
    git(work, 'checkout', '--quiet', '-b', 'fork-branch', 'main');
    forkSha = commitFile(work, 'pr.txt', 'from a fork\n');
    git(work, 'push', '--quiet', base, `${forkSha}:refs/pull/8/head`);
    git(work, 'checkout', '--quiet', '-b', 'for-release', 'main');
    releaseSha = commitFile(work, 'pr.txt', 'for the release\n');
    git(work, 'push', '--quiet', base, `${releaseSha}:refs/pull/9/head`);

    const steps = () =>
      new BuildFactory()
        .addStep(new Git({ repourl: base }))
        .addStep(new ShellCommand({ name: 'show', command: ['cat', 'pr.txt'] }))
        .addStep(
          new ShellCommand({
            name: 'publish',
            command: ['sh', '-c', 'test "$TOKEN" = "$EXPECTED" && echo token given'],
            env: { TOKEN: interpolate('%(secret:TOKEN)s'), EXPECTED: TOKEN_VALUE },
          }),
        );
    master = await startTestMaster(
      {
        web: { changeHooks: { github: { secret: SECRET } } },
        secrets: { TOKEN: TOKEN_VALUE },
        agents: [{ name: 'a1', token: AGENT_TOKEN }],
        builders: [
          { name: 'pr', agents: ['a1'], factory: steps() },
          { name: 'trusted', agents: ['a1'], factory: steps(), secretsForForks: true },
          { name: 'release', agents: ['a1'], factory: steps() },
        ],
        schedulers: [
          anyBranchScheduler({ name: 'prs', builderNames: ['pr', 'trusted'], category: 'pull', baseBranch: 'main' }),
          anyBranchScheduler({ name: 'release-prs', builderNames: ['release'], category: 'pull', baseBranchRegex: 'release/.*' }),
        ],
      },
      await db.create(),
    );
    agent = await startAgent(master, 'a1', AGENT_TOKEN);
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('turns an opened pull request into a change of its head and builds the head from refs/pull/7/head, with secrets', async () => {
    const res = await deliver('pull_request', payload('opened', 7, { sha: prSha, ref: 'feature' }));
    expect(res.status).toBe(201);
    const [changeid] = res.body.changeids as number[];
    const change = (await api(master).get(`/changes/${changeid}`)).body.changes[0];
    expect(change).toMatchObject({
      repository: base,
      branch: 'refs/pull/7/head',
      revision: prSha,
      category: 'pull',
      project: 'Codertocat/Hello-World',
      author: 'Codertocat',
    });
    expect(change.comments).toContain('GitHub Pull Request #7');
    // The change keeps what it came with (stored, so the API shows it and a restart keeps it).
    expect(change.properties).toMatchObject({ pr_number: 7, base_branch: 'main', head_branch: 'feature' });
    const { pr, trusted } = await buildsOf(changeid as number, ['pr', 'trusted']);
    for (const build of [pr, trusted]) {
      expect(build.result).toBe('success');
      const props = await propertiesOf(build.buildid);
      expect(props).toMatchObject({
        pr_number: [7, 'Scheduler'],
        pr_title: ['Update the README with new information.', 'Scheduler'],
        pr_url: ['https://github.com/Codertocat/Hello-World/pull/7', 'Scheduler'],
        base_branch: ['main', 'Scheduler'],
        head_branch: ['feature', 'Scheduler'],
        head_repository: [base, 'Scheduler'],
        head_sha: [prSha, 'Scheduler'],
        got_revision: [prSha, 'git'],
      });
      const steps = await stepsOf(build.buildid);
      expect(steps[0].state_string).toBe(`pull request #7 at ${prSha.slice(0, 12)}`);
      expect((await stepLog(master, steps[1].stepid)).toString()).toBe('from the pull request\n');
      expect((await stepLog(master, steps[2].stepid)).toString()).toBe('token given\n');
    }
  });

  it('answers closed, other actions and drafts with 200 ignored, and stores nothing', async () => {
    const before = (await api(master).get('/changes')).body.meta.total;
    const closed = await deliver('pull_request', payload('closed', 7, { sha: prSha, ref: 'feature' }));
    expect(closed).toEqual({ status: 200, body: { ignored: 'pull request #7 is closed' } });
    const labeled = await deliver('pull_request', payload('labeled', 7, { sha: prSha, ref: 'feature' }));
    expect(labeled).toEqual({
      status: 200,
      body: { ignored: 'pull_request action "labeled" is not built (web.changeHooks.github.pullRequestActions)' },
    });
    const draft = payload('opened', 7, { sha: prSha, ref: 'feature' });
    draft.pull_request.draft = true;
    expect((await deliver('pull_request', draft)).body.ignored).toContain('is a draft');
    expect((await api(master).get('/changes')).body.meta.total).toBe(before);
  });

  it("builds a fork's pull request from refs/pull/8/head; its secret step fails unless the builder allows secrets for forks", async () => {
    const res = await deliver('pull_request', payload('synchronize', 8, { sha: forkSha, ref: 'main', repo: fork }));
    expect(res.status).toBe(201);
    const changeid = res.body.changeids[0] as number;
    const { pr, trusted } = await buildsOf(changeid, ['pr', 'trusted']);
    expect((await propertiesOf(pr.buildid)).head_repository).toEqual([fork, 'Scheduler']);

    expect(pr.result).toBe('failure');
    const refused = await stepsOf(pr.buildid);
    expect((await propertiesOf(pr.buildid)).got_revision).toEqual([forkSha, 'git']);
    expect((await stepLog(master, refused[1].stepid)).toString()).toBe('from a fork\n');
    expect(refused[2]).toMatchObject({ name: 'publish', result: 'failure' });
    expect(refused[2].state_string).toBe(
      'secrets are not given to builds of pull requests from forks; set secretsForForks: true on builder pr to allow',
    );

    expect(trusted.result).toBe('success');
    const allowed = await stepsOf(trusted.buildid);
    expect((await stepLog(master, allowed[2].stepid)).toString()).toBe('token given\n');
  });

  it('treats a pull request whose fork was deleted (head.repo null) as a fork', async () => {
    const res = await deliver('pull_request', payload('reopened', 8, { sha: forkSha, ref: 'main', repo: null }));
    expect(res.status).toBe(201);
    const { pr } = await buildsOf(res.body.changeids[0], ['pr']);
    expect((await propertiesOf(pr.buildid)).head_repository).toEqual([null, 'Scheduler']);
    expect(pr.result).toBe('failure');
    expect((await stepsOf(pr.buildid))[2].state_string).toContain('secretsForForks: true on builder pr');
  });

  it('selects pull requests by base branch: one into release/1 builds only on the release scheduler', async () => {
    const res = await deliver('pull_request', payload('ready_for_review', 9, { sha: releaseSha, ref: 'for-release' }, 'release/1'));
    expect(res.status).toBe(201);
    const changeid = res.body.changeids[0] as number;
    const { release } = await buildsOf(changeid, ['release']);
    expect(release.result).toBe('success');
    expect((await stepLog(master, (await stepsOf(release.buildid))[1].stepid)).toString()).toBe('for the release\n');
    // Both schedulers saw the change at once; by the time its build ended, a match of 'prs' would be stored.
    expect(await requestsOf(changeid)).toHaveLength(1);
  });
});
