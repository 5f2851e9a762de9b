/**
 * githubStatus and its PR comment against a local GitHub that checks every request against GitHub's
 * OpenAPI description: statuses of real builds, a late status that must not overwrite a newer one,
 * a rate limit, 502s and a 401 ridden out, the comment created once and edited in place with the
 * metric deltas against the base branch, and the token kept out of the logs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, MeasureShellCommand, ShellCommand, githubStatus, interpolate } from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { startMaster, type RunningMaster } from '../../master/master.ts';
import type { Logger } from '../../core/logger.ts';
import { createGithubStatus, githubStatusSchema } from '../../master/reporters/github-status.ts';
import type { BuildReport } from '../../master/reporters/reporter.ts';
import { testDatabases } from '../helpers/databases.ts';
import { startFakeGithub, type FakeGithub } from '../helpers/fake-github.ts';
import { api, forceAndWait, startAgent, waitFor, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'ghp_caliperTestToken0123456789abcdef';
const REPO = 'https://github.com/acme/widget.git';
const PUBLIC = 'http://ci.example.test/';
const sha = (n: number): string => n.toString(16).padStart(40, 'a');
let printed = false;

function capturingLogger(lines: string[]): Logger {
  const add = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  return { info: add('info'), warn: add('warn'), error: add('error') };
}

describe.each(testDatabases())('githubStatus on $kind', (db) => {
  let github: FakeGithub;
  let master: RunningMaster;
  let agent: AgentProcess;
  const logs: string[] = [];
  const statusesOf = (n: number) => github.statuses.get(`acme/widget@${sha(n)}`) ?? [];
  const force = (builder: string, n: number, props: Record<string, unknown> = {}) =>
    forceAndWait(master, builder, { properties: { repository: REPO, revision: sha(n), ...props } });

  beforeAll(async () => {
    github = await startFakeGithub();
    const config = compileConfig({
      web: { publicUrl: PUBLIC },
      agents: [{ name: 'g1', token: 'github-agent-token', maxBuilds: 2 }],
      builders: [
        {
          name: 'size',
          factory: new BuildFactory().addStep(
            new MeasureShellCommand({
              name: 'bundle_size',
              command: ['echo', interpolate('%(prop:size:-100)s')],
              unit: 'bytes',
              kind: 'size',
            }),
          ),
        },
        { name: 'broken', factory: new BuildFactory().addStep(new ShellCommand({ name: 'test', command: ['sh', '-c', 'exit 1'] })) },
      ],
      services: [githubStatus({ token: TOKEN, baseUrl: github.url, host: 'github.com', githubComment: true })],
      // Only the measured series: build and queue times on a loaded CI machine are noise that could
      // be the "worst regression" the description names.
      metrics: { trackBuildTimes: false },
    });
    master = await startMaster(config, {
      port: 0,
      host: '127.0.0.1',
      dbUrl: await db.create(),
      log: capturingLogger(logs),
      name: `gh-${process.pid}`,
      shutdownTimeoutMs: 3000,
      // Retries as in production, at a tenth of the pace: the failures below cost seconds, not tens.
      reporterBackoff: { initialMs: 100, maxMs: 2000 },
    });
    agent = await startAgent(master, 'g1', 'github-agent-token');
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
    await github?.close();
  });

  it('posts pending, then success, for a build of a GitHub revision, as GitHub describes the call', async () => {
    const { build } = await force('size', 1, { branch: 'main' });
    const posted = await waitFor('two statuses', () => (statusesOf(1).length >= 2 ? statusesOf(1) : null));
    expect(posted.map((s) => s.state)).toEqual(['pending', 'success']);
    expect(posted[1]).toMatchObject({
      context: 'caliper/size',
      target_url: `${PUBLIC}#/builds/${build.buildid}`,
      description: `Build #${build.number} succeeded`,
    });
    const writes = github.requests.filter((r) => r.operationId === 'repos/create-commit-status');
    expect(writes.length).toBeGreaterThanOrEqual(2);
    for (const w of writes) expect(Object.keys(w.body ?? {}).sort()).toEqual(['context', 'description', 'state', 'target_url']);
    expect(writes.every((w) => w.authorization === `token ${TOKEN}`)).toBe(true);
    expect(github.violations()).toEqual([]);
  });

  it('posts failure for a failed build', async () => {
    const { build } = await force('broken', 2);
    expect(build.result).toBe('failure');
    const posted = await waitFor('two statuses', () => (statusesOf(2).length >= 2 ? statusesOf(2) : null));
    expect(posted.map((s) => [s.state, s.context])).toEqual([
      ['pending', 'caliper/broken'],
      ['failure', 'caliper/broken'],
    ]);
    expect(posted[1]?.description).toBe(`Build #${build.number} failed`);
  });

  it('does not let a late status of an old build overwrite a newer build’s, also after a restart', async () => {
    const reporterOf = () =>
      createGithubStatus(githubStatusSchema.parse({ type: 'githubStatus', token: TOKEN, baseUrl: github.url, host: 'github.com' }), {
        log: capturingLogger(logs),
      });
    const report = (buildid: number, results: 0 | null): BuildReport => ({
      event: results === null ? 'build.started' : 'build.finished',
      build: {
        buildid,
        number: buildid,
        builderid: 1,
        builder: 'late',
        results,
        result: results === null ? null : 'success',
        state_string: '',
        started_at: 1,
        complete_at: null,
        url: `${PUBLIC}#/builds/${buildid}`,
      },
      step: null,
      steps: [],
      properties: {},
      source: { repository: 'git@github.com:acme/widget.git', branch: 'main', revision: sha(3), pullRequest: null },
      changes: [],
      metrics: [],
    });
    const reporter = reporterOf();
    await reporter.deliver({ id: 'a', attempt: 1, report: report(9001, null) });
    await reporter.deliver({ id: 'b', attempt: 1, report: report(9002, null) });
    await reporter.deliver({ id: 'c', attempt: 3, report: report(9001, 0) }); // the old build's finish, retried late
    // A master that restarted knows nothing: GitHub's statuses say which build is newest.
    await reporterOf().deliver({ id: 'd', attempt: 4, report: report(9001, 0) });
    await reporterOf().deliver({ id: 'e', attempt: 1, report: report(9002, 0) });
    expect(statusesOf(3).map((s) => [s.state, s.target_url])).toEqual([
      ['pending', `${PUBLIC}#/builds/9001`],
      ['pending', `${PUBLIC}#/builds/9002`],
      ['success', `${PUBLIC}#/builds/9002`],
    ]);
  });

  // The next two wait on Octokit's own retry spacing (1 s, 4 s) and GitHub's 1 s between writes, ~12 s
  // each, for logic that does not touch the database: they run on SQLite only. The outbox that keeps
  // deliveries across failures is exercised on PostgreSQL by http-reporter and mail-notifier.
  it.runIf(db.kind === 'sqlite')(
    'rides out a rate limit, 502s and a refused token: nothing is lost, the token never logged',
    async () => {
      github.fail('rate-limit', 1, 'POST');
      github.fail('502', 2, 'POST');
      github.fail('401', 1, 'POST');
      const { build } = await force('size', 4, { branch: 'main' });
      const posted = await waitFor('both statuses', () => (statusesOf(4).length >= 2 ? statusesOf(4) : null), 60_000);
      expect(posted.map((s) => s.state)).toEqual(['pending', 'success']);
      expect(posted[1]?.target_url).toBe(`${PUBLIC}#/builds/${build.buildid}`);
      const answered = github.requests.filter((r) => r.operationId === 'repos/create-commit-status').map((r) => r.answered);
      expect(answered).toEqual(expect.arrayContaining([403, 502, 502, 401]));
      expect(logs.join('\n')).not.toContain(TOKEN);
      expect(github.violations()).toEqual([]);
    },
    90_000,
  );

  it.runIf(db.kind === 'sqlite')(
    'comments the metric deltas against the base branch on the PR once, and edits that comment on the next build',
    async () => {
      for (const [i, size] of [100, 101, 99].entries()) await force('size', 10 + i, { branch: 'main', size });
      const pr = {
        branch: 'feature',
        pr_number: 7,
        pr_title: 'Bigger bundle',
        pr_url: 'https://github.com/acme/widget/pull/7',
        base_branch: 'main',
        head_branch: 'feature',
        head_repository: REPO,
      };
      const first = await force('size', 20, { ...pr, size: 130 });
      const comment = await waitFor('the PR comment', () => github.comments.find((c) => c.issue === 7));
      expect(comment.body).toContain('<!-- caliper:builder=size -->');
      expect(comment.body).toMatch(/\| bundle_size \| 130 bytes \| 100 bytes \| \+30\.0 % \| 🔺 regression \|/);
      expect(comment.body).toContain('baseline (main)');
      const description = (await waitFor('the PR status', () => statusesOf(20).find((s) => s.state !== 'pending'))).description;
      expect(description).toBe(`Build #${first.build.number} succeeded: bundle_size +30.0 % vs main`);

      const metrics = (await api(master).get(`/builds/${first.build.buildid}/metrics`)).body.metrics;
      expect(metrics.find((m: { series: string }) => m.series === 'bundle_size')).toMatchObject({
        value: 130,
        baseline: { median: 100, n: 5 },
        delta_percent: 30,
        flag: 'regression',
        baseline_branch: 'main',
        kind: 'size',
        unit: 'bytes',
      });

      const second = await force('size', 21, { ...pr, size: 132 });
      await waitFor('the comment edited', () =>
        github.comments.find((c) => c.issue === 7 && c.body.includes(`caliper:buildid=${second.build.buildid}`)),
      );
      expect(github.comments.filter((c) => c.issue === 7)).toHaveLength(1);
      expect(github.requests.filter((r) => r.operationId === 'issues/create-comment')).toHaveLength(1);
      expect(github.requests.filter((r) => r.operationId === 'issues/update-comment').length).toBeGreaterThanOrEqual(1);
      const edited = github.comments.find((c) => c.issue === 7)?.body ?? '';
      expect(edited).toMatch(/\| bundle_size \| 132 bytes \| 100 bytes \| \+32\.0 % \| 🔺 regression \|/);
      expect(github.violations()).toEqual([]);
      if (!printed) {
        printed = true;
        console.log(`PR comment as posted:\n${edited}\nstatus description: ${description}`);
      }
    },
    120_000,
  );
});

describe('the fake GitHub', () => {
  it('refuses and records a request GitHub’s description does not allow', async () => {
    const github = await startFakeGithub();
    try {
      const post = (path: string, body: unknown) =>
        fetch(`${github.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await post(`/repos/acme/widget/statuses/${sha(1)}`, { state: 'done', context: 7 })).status).toBe(422);
      expect((await post('/repos/acme/widget/issues/x/comments', { body: 'hi' })).status).toBe(422);
      expect((await post('/repos/acme/widget/no-such-thing', {})).status).toBe(404);
      expect(github.violations()).toEqual([
        expect.stringContaining('body.state: "done" is not one of'),
        expect.stringContaining('body.context: expected string, got integer'),
        expect.stringContaining('path.issue_number: "x" is not an integer'),
        expect.stringContaining('no such operation'),
      ]);
    } finally {
      await github.close();
    }
  });
});
