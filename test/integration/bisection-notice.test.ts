/**
 * The culprit's author is told: a mail to the commit's author through the mailNotifier's relay (a
 * real SMTP server), and a comment on the pull request the commit came from (its subject ends in
 * "(#5)") through githubStatus, against a local GitHub that checks every request against GitHub's
 * OpenAPI description. The builder's repository is a GitHub URL that git rewrites to a local
 * repository (url.<path>.insteadOf), for the agent and the master's mirror alike.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { BuildFactory, Git, MeasureShellCommand, githubStatus, interpolate, mailNotifier } from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { startMaster, type RunningMaster } from '../../master/master.ts';
import { silentLogger } from '../../core/logger.ts';
import type { BisectionDetail } from '../../protocol/api-types.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { bisectRepo, measureCommand } from '../helpers/bisect-repo.ts';
import { startFakeGithub, type FakeGithub } from '../helpers/fake-github.ts';

const TOKEN = 'bisect-notice-token-1';
const GITHUB_URL = 'https://github.com/acme/app.git';
const SLOW_AT = 5;

describe('telling the culprit', () => {
  let dir: string;
  let shas: string[];
  let master: RunningMaster;
  let agent: AgentProcess;
  let github: FakeGithub;
  let relay: SMTPServer;
  const mails: { to: string[]; mail: ParsedMail }[] = [];
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-bisect-notice-'));
    const repo = path.join(dir, 'repo');
    shas = bisectRepo(repo, 8, SLOW_AT);
    Object.assign(process.env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: `url.${repo}.insteadOf`, GIT_CONFIG_VALUE_0: GITHUB_URL });
    relay = new SMTPServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      authOptional: true,
      onData(stream, session, callback) {
        simpleParser(stream)
          .then((mail) => {
            mails.push({ to: session.envelope.rcptTo.map((r) => r.address), mail });
            callback();
          })
          .catch((e: unknown) => callback(e instanceof Error ? e : new Error(String(e))));
      },
    });
    const smtpPort = await new Promise<number>((resolve) =>
      relay.listen(0, '127.0.0.1', () => {
        const a = relay.server.address();
        resolve(typeof a === 'object' && a ? a.port : 0);
      }),
    );
    github = await startFakeGithub();
    const config = compileConfig({
      agents: [{ name: 'a1', token: TOKEN }],
      builders: [
        {
          name: 'app',
          agents: ['a1'],
          bisect: { maxBuilds: 10, maxPerDay: 10 },
          factory: new BuildFactory()
            .addStep(new Git({ repourl: GITHUB_URL, branch: 'main' }))
            .addStep(new MeasureShellCommand({ name: 'measure', metric: 'runtime', command: interpolate(measureCommand(0)) })),
        },
      ],
      services: [
        mailNotifier({
          smtp: { host: '127.0.0.1', port: smtpPort },
          from: 'Caliper <caliper@mail.test>',
          to: 'team@mail.test',
          mode: 'failing',
        }),
        githubStatus({ token: 'ghp_bisect_notice_1', baseUrl: github.url, host: 'github.com' }),
      ],
    });
    const dbUrl = await testDatabases()[0]!.create();
    master = await startMaster(config, { port: 0, host: '127.0.0.1', dbUrl, log: silentLogger, basedir: dir, name: 'bisect-notice' });
    agent = await startAgent(master, 'a1', TOKEN);
  }, 60_000);

  afterAll(async () => {
    await master?.stop();
    await agent?.kill();
    await github?.close();
    await new Promise<void>((resolve) => relay.close(() => resolve()));
    process.env = savedEnv;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('mails the author and comments on the pull request the culprit came from', async () => {
    for (const revision of [shas[0], shas[7]])
      expect((await forceAndWait(master, 'app', { properties: { revision } })).build.results).toBe(0);
    const started = await api(master).post('/bisections', { builder: 'app', series: 'runtime', good: shas[0], bad: shas[7] });
    expect(started.status).toBe(201);
    const id = started.body.bisectionid as number;
    const { bisection } = await waitFor(
      'the culprit',
      async () => {
        const d = (await api(master).get<BisectionDetail>(`/bisections/${id}`)).body;
        return d.bisection.state === 'running' ? null : d;
      },
      60_000,
    );
    expect(bisection.culprit?.revision).toBe(shas[SLOW_AT]);

    const mail = await waitFor('the mail to the author', () => mails.find((m) => m.to.includes('ada@example.org')));
    expect(mail.mail.subject).toBe(`[Caliper] runtime regressed at ${shas[SLOW_AT]!.slice(0, 12)} (app)`);
    expect(mail.mail.text).toContain(`names commit ${shas[SLOW_AT]}`);
    expect(mail.mail.text).toContain(`/#/bisections/${id}`);
    expect(mails.filter((m) => m.to.includes('team@mail.test'))).toEqual([]);

    const comment = await waitFor('the PR comment', () => github.comments.find((c) => c.issue === SLOW_AT));
    expect(comment.body).toContain(`names commit ${shas[SLOW_AT]}`);
    expect(github.violations()).toEqual([]);
  }, 120_000);
});
