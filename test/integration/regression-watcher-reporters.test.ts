/**
 * The regression watcher's grouped alert through the GitHub and HTTP reporters, on a real master
 * with a real agent: a pull-request build that regresses two series gets ONE `failure` status in
 * the `…/regressions` context naming both (checked against GitHub's OpenAPI description by the fake
 * GitHub), ONE PR comment listing both, and ONE `build.regressed` JSON delivery with both; reporters
 * that did not opt in (`regressions: true`) get nothing of it.
 */
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, MeasureShellCommand, githubStatus, httpReporter, interpolate } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import type { BuildReport } from '../../master/reporters/reporter.ts';
import { testDatabases } from '../helpers/databases.ts';
import { startFakeGithub, type FakeGithub } from '../helpers/fake-github.ts';
import { forceAndWait, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'ghp_caliperRegressionToken0123456789';
const REPO = 'https://github.com/acme/widget.git';
const PUBLIC = 'http://ci.example.test/';
const sha = (n: number): string => n.toString(16).padStart(40, 'b');

/** Records every JSON body posted to it, by the X-Caliper-Event header and path. */
async function receiver(): Promise<{
  url: (p: string) => string;
  got: { path: string; event: string; body: BuildReport }[];
  close(): Promise<void>;
}> {
  const got: { path: string; event: string; body: BuildReport }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({
        path: req.url ?? '',
        event: String(req.headers['x-caliper-event']),
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    got,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.each(testDatabases())('grouped regression alert through GitHub and HTTP on $kind', (db) => {
  let github: FakeGithub;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let master: RunningMaster;
  let agent: AgentProcess;
  let dir: string;

  beforeAll(async () => {
    github = await startFakeGithub();
    hook = await receiver();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-watch-gh-'));
    master = await startTestMaster(
      {
        web: { publicUrl: PUBLIC },
        agents: [{ name: 'g1', token: 'g1-token' }],
        metrics: { trackBuildTimes: false },
        builders: [
          {
            name: 'pr',
            agents: ['g1'],
            factory: new BuildFactory().addStep(
              new MeasureShellCommand({
                name: 'measure',
                keys: ['parse_ms', 'bundle_kb'],
                kind: 'duration',
                command: ['cat', interpolate(`${dir}/%(prop:buildnumber)s`)],
              }),
            ),
          },
        ],
        services: [
          githubStatus({ token: TOKEN, baseUrl: github.url, host: 'github.com', githubComment: true, regressions: true }),
          httpReporter({ name: 'alerts', url: hook.url('/alerts'), regressions: true }),
          httpReporter({ name: 'plain', url: hook.url('/plain') }),
        ],
      },
      await db.create(),
    );
    agent = await startAgent(master, 'g1', 'g1-token');
  });
  afterAll(async () => {
    await master?.stop();
    await agent?.kill();
    await github?.close();
    await hook?.close();
  });

  it('sends one status, one PR comment and one JSON alert naming both series', { timeout: 90_000 }, async () => {
    for (let n = 1; n <= 12; n++) {
      const l = n <= 8 ? 1 : 1.1;
      const noise = 1 + (n % 3) * 0.004;
      fs.writeFileSync(path.join(dir, String(n)), `parse_ms=${(50 * l * noise).toFixed(3)}\nbundle_kb=${(800 * l * noise).toFixed(2)}\n`);
    }
    // Only the last builds name the GitHub repository: GitHub's client spaces writes a second apart,
    // and the statuses of every build before would only make the test slower.
    const pr = { repository: REPO, pr_number: 7, pr_url: 'https://github.com/acme/widget/pull/7', base_branch: 'main', pr_title: 'faster' };
    const builds: number[] = [];
    for (let n = 1; n <= 12; n++) {
      const properties = { branch: 'feature', revision: sha(n), ...(n >= 11 ? pr : {}) };
      builds.push((await forceAndWait(master, 'pr', { properties })).build.buildid as number);
    }

    const alerts = await waitFor('the JSON alert', () => {
      const got = hook.got.filter((g) => g.path === '/alerts' && g.event === 'build.regressed');
      return got.length > 0 ? got : null;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.got.filter((g) => g.path === '/alerts' && g.event === 'build.regressed')).toHaveLength(1);
    const report = alerts[0]?.body;
    expect(report?.build.buildid).toBe(builds[10]);
    expect(report?.regressions?.map((r) => r.series).sort()).toEqual(['bundle_kb', 'parse_ms']);
    expect(report?.regressions?.[0]).toMatchObject({
      tags: { builder: 'pr', step: 'measure', branch: 'feature' },
      before: { buildid: builds[7], revision: sha(8), url: `${PUBLIC}#/builds/${builds[7]}` },
      after: { buildid: builds[8], revision: sha(9) },
    });
    expect(hook.got.filter((g) => g.path === '/plain' && g.event === 'build.regressed')).toHaveLength(0);

    const status = await waitFor(
      'the regressions status',
      () => (github.statuses.get(`acme/widget@${sha(11)}`) ?? []).find((s) => s.context === 'caliper/pr/regressions'),
      30_000,
    );
    expect(status).toMatchObject({ state: 'failure', target_url: `${PUBLIC}#/builds/${builds[10]}` });
    expect(status.description).toMatch(/^2 series regressed: (parse_ms|bundle_kb) \+(9|10)\.\d %, (parse_ms|bundle_kb) \+(9|10)\.\d %$/);
    const comment = await waitFor(
      'the regressions comment',
      () => github.comments.find((c) => c.body.includes('caliper:regressions')),
      30_000,
    );
    expect(comment.issue).toBe(7);
    expect(comment.body).toMatch(/2 series regressed/);
    expect(comment.body).toContain(`[parse_ms](${PUBLIC}#/metrics?series=parse_ms&builder=pr&step=measure)`);
    expect(comment.body).toContain('[bundle_kb]');
    expect(github.comments.filter((c) => c.body.includes('caliper:regressions'))).toHaveLength(1);
    expect(github.violations()).toEqual([]);
  });
});
