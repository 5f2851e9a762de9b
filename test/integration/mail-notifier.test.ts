/**
 * mailNotifier against a real SMTP server in the test process (smtp-server, with authentication),
 * its messages parsed by mailparser: one notifier per mode over the same sequence of builds, what a
 * failing build's mail holds, and a relay that is down for a while (the outbox delivers afterwards).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MoreThan } from 'typeorm';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { BuildFactory, ShellCommand, interpolate, mailNotifier } from '../../index.ts';
import { MAIL_MODES, type MailMode } from '../../master/reporters/mail-modes.ts';
import type { RunningMaster } from '../../master/master.ts';
import { internalsOf } from '../../master/testing.ts';
import type { ReporterOutboxRow } from '../../master/db/entities.ts';
import { testDatabases } from '../helpers/databases.ts';
import { forceAndWait, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';

const SMTP_USER = 'caliper';
const SMTP_PASS = 'smtp-secret-pass-9';
const PUBLIC_URL = 'http://ci.example.test/';

interface Received {
  to: string[];
  mail: ParsedMail;
  source: string;
}

/** A relay on 127.0.0.1 that takes mail only from SMTP_USER/SMTP_PASS and keeps what it gets. */
function startRelay(received: Received[], port = 0): Promise<{ server: SMTPServer; port: number }> {
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASS) return callback(null, { user: auth.username });
      callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const source = Buffer.concat(chunks).toString('utf8');
        simpleParser(source)
          .then((mail) => {
            // Kept before the relay answers: once the outbox marks the delivery done, the mail is here.
            received.push({ to: session.envelope.rcptTo.map((r) => r.address), mail, source });
            callback();
          })
          .catch((e: unknown) => callback(e instanceof Error ? e : new Error(String(e))));
      });
    },
  });
  server.on('error', () => {}); // a client that went away mid-session
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : port });
    });
  });
}

const closeRelay = (server: SMTPServer) => new Promise<void>((resolve) => server.close(() => resolve()));

const BUILDER = 'app';
const NOTIFIED_MODES = ['all', 'failing', 'problem', 'warnings', 'passing', 'change'] as const satisfies readonly MailMode[];
const mailbox = (mode: MailMode) => `${mode}@mail.test`;

/** The build outcomes in order, by build number, and which builds each mode mails (Buildbot's semantics). */
const OUTCOMES = ['pass', 'fail', 'fail', 'warn', 'pass', 'fail'] as const;
const EXPECTED: Record<(typeof NOTIFIED_MODES)[number], number[]> = {
  all: [1, 2, 3, 4, 5, 6],
  failing: [2, 3, 6],
  problem: [2, 6], // a failure after a build that did not fail; #3 failed after #2 failed
  warnings: [2, 3, 4, 6],
  passing: [1, 5],
  change: [2, 4, 5, 6], // #1 has no previous build
};

describe.each(testDatabases())('mailNotifier on $kind', (db) => {
  const received: Received[] = [];
  let relay: { server: SMTPServer; port: number };
  let master: RunningMaster;
  let agent: AgentProcess;

  const buildNumberOf = (r: Received) => Number(r.mail.headers.get('x-caliper-build'));
  const mailedBuilds = (mode: MailMode) =>
    received
      .filter((r) => r.to.includes(mailbox(mode)))
      .map(buildNumberOf)
      .sort((a, b) => a - b);
  const outbox = () => internalsOf(master).db.source.getRepository<ReporterOutboxRow>('ReporterOutbox');
  /** Nothing left to deliver: every stored delivery was sent, skipped by its mode, or failed. */
  const outboxSettled = async () => (await outbox().count({ where: { state: 'pending' } })) === 0;

  beforeAll(async () => {
    relay = await startRelay(received);
    const smtp = { host: '127.0.0.1', port: relay.port, auth: { user: SMTP_USER, pass: SMTP_PASS } };
    master = await startTestMaster(
      {
        web: { publicUrl: PUBLIC_URL },
        agents: [{ name: 'mailer', token: 'mail-agent-token-1' }],
        builders: [
          {
            name: BUILDER,
            factory: new BuildFactory()
              .addStep(
                new ShellCommand({
                  name: 'compile',
                  haltOnFailure: true,
                  command: [
                    'sh',
                    '-c',
                    // 60 numbered lines, a leaked credential, then fail when asked to.
                    interpolate(
                      `for i in $(seq 1 60); do echo "line $i of compile"; done; echo "relay password ${SMTP_PASS}"; test "%(prop:outcome)s" != fail`,
                    ),
                  ],
                }),
              )
              .addStep(
                new ShellCommand({
                  name: 'lint',
                  flunkOnFailure: false,
                  warnOnFailure: true,
                  command: ['sh', '-c', interpolate('test "%(prop:outcome)s" != warn')],
                }),
              ),
          },
        ],
        services: NOTIFIED_MODES.map((mode) =>
          mailNotifier({ smtp, from: 'Caliper <caliper@mail.test>', to: mailbox(mode), mode, builders: [BUILDER] }),
        ),
      },
      await db.create(),
    );
    agent = await startAgent(master, 'mailer', 'mail-agent-token-1');
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
    if (relay) await closeRelay(relay.server);
  });

  it('mails exactly the builds each mode selects', async () => {
    const results = [];
    let lastBuildid = 0;
    for (const outcome of OUTCOMES) {
      const { build } = await forceAndWait(master, BUILDER, { properties: { outcome } });
      results.push(build.result);
      lastBuildid = build.buildid;
    }
    expect(results).toEqual(['success', 'failure', 'failure', 'warnings', 'success', 'failure']);
    // The `all` notifier wants every build: once its delivery of the last build is stored, every
    // notifier's are (one event's deliveries are stored together); then wait for the outbox to drain.
    await waitFor('the last build reported', () =>
      outbox().exists({ where: { reporter: `mail:${mailbox('all')}`, buildid: lastBuildid } }),
    );
    await waitFor('the outbox to drain', outboxSettled, 30_000);
    for (const mode of NOTIFIED_MODES) expect({ mode, builds: mailedBuilds(mode) }).toEqual({ mode, builds: EXPECTED[mode] });
    expect(MAIL_MODES).toEqual(expect.arrayContaining([...NOTIFIED_MODES]));
  });

  it("a failing build's mail has the failed step, its log's tail, the link and no password", async () => {
    const mail = received.find((r) => r.to.includes(mailbox('failing')) && buildNumberOf(r) === 2);
    expect(mail).toBeDefined();
    if (!mail) return;
    const text = mail.mail.text ?? '';
    expect(mail.mail.subject).toBe(`Caliper: failure in builder ${BUILDER} #2`);
    expect(text).toContain('New failure: build #2 of app failed; build #1 ended success.');
    expect(text).toMatch(/Failed steps\n\s+compile: failure/);
    expect(text).toContain('line 60 of compile');
    expect(text).toContain('line 30 of compile');
    expect(text).not.toContain('line 5 of compile');
    expect(text).toContain(PUBLIC_URL);
    expect(mail.mail.html || '').toContain(`href="${PUBLIC_URL}`);
    // The relay's password was printed by the build: neither the mail's text nor its raw source holds it.
    expect(text).toContain('relay password ********');
    expect(mail.source).not.toContain(SMTP_PASS);
    expect(received.every((r) => !r.source.includes(SMTP_PASS))).toBe(true);
    expect(mail.mail.from?.value[0]?.address).toBe('caliper@mail.test');
  });

  it('delivers after the relay was down for a while', async () => {
    await closeRelay(relay.server);
    const before = received.length;
    const { build } = await forceAndWait(master, BUILDER, { properties: { outcome: 'fail' } });
    expect(build.result).toBe('failure');
    // Delivery is tried (and refused: connection refused) while the relay is down.
    await waitFor('a failed try', () => outbox().exists({ where: { buildid: build.buildid, attempts: MoreThan(0), state: 'pending' } }));
    expect(received.length).toBe(before);
    relay = await startRelay(received, relay.port);
    const arrived = await waitFor(
      'the mail after the relay came back',
      () => received.find((r) => r.to.includes(mailbox('failing')) && buildNumberOf(r) === build.number),
      60_000,
    );
    expect(arrived.mail.subject).toBe(`Caliper: failure in builder ${BUILDER} #${build.number}`);
  });
});
