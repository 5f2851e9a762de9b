/**
 * httpReporter against a real HTTP receiver (node:http) that checks every signature and records
 * what it gets: the order per build, the filters, a receiver that is down or answers 502 for a while,
 * one that hangs, and a master SIGKILLed with deliveries still owed (run as `caliper start`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testDatabases } from '../helpers/databases.ts';
import { CLI, ROOT, forceAndWait, startAgent, startTestMaster, stepLog, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { internalsOf } from '../../master/testing.ts';
import { OutboxRepo } from '../../master/db/outbox.ts';
import { openDatabase } from '../../master/db/data-source.ts';
import type { RunningMaster } from '../../master/master.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import { BuildFactory, ShellCommand, httpReporter } from '../../index.ts';

const SECRET = 'hook-secret-0123456789abcdef';
const TOKEN = 'agent-token-1234';

interface Received {
  id: string;
  event: string;
  buildid: number;
  builder: string;
  result: string | null;
}

type Mode = 'ok' | 'bad-gateway' | 'hang';
const reportShape = z.object({
  event: z.string(),
  build: z.object({ buildid: z.number(), builder: z.string(), result: z.string().nullable(), url: z.string() }),
});
const buildsShape = z.object({ builds: z.array(z.object({ buildid: z.number(), complete: z.boolean() })) });
const agentsShape = z.object({ agents: z.array(z.object({ connected: z.boolean() })) });
const forcedShape = z.object({ buildrequestid: z.number() });
const getJson = async <T>(url: string, shape: z.ZodType<T>): Promise<T> => shape.parse(await (await fetch(url)).json());

/** A webhook receiver: verifies X-Caliper-Signature-256 as a user would, records each delivery. */
class Receiver {
  readonly received: Received[] = [];
  readonly badSignatures: string[] = [];
  mode: Mode = 'ok';
  private server: http.Server | null = null;
  private readonly hanging = new Set<http.ServerResponse>();
  port = 0;

  async listen(port = 0): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.answer(req, Buffer.concat(chunks), res));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const address = server.address();
    this.port = address !== null && typeof address === 'object' ? address.port : 0;
    this.server = server;
  }

  /** Down: the port is closed (connections refused). */
  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const server = this.server;
    this.server = null;
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Distinct deliveries, first arrival each. */
  distinct(): Received[] {
    const seen = new Set<string>();
    return this.received.filter((r) => !seen.has(r.id) && seen.add(r.id));
  }

  eventsOf(buildid: number): string[] {
    return this.distinct()
      .filter((r) => r.buildid === buildid)
      .map((r) => r.event);
  }

  private answer(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    if (this.mode === 'hang') {
      this.hanging.add(res);
      return;
    }
    if (this.mode === 'bad-gateway') {
      res.writeHead(502).end('bad gateway');
      return;
    }
    const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`);
    const given = Buffer.from(String(req.headers['x-caliper-signature-256'] ?? ''));
    const id = String(req.headers['x-caliper-delivery'] ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.badSignatures.push(id);
      res.writeHead(401).end();
      return;
    }
    const report = reportShape.parse(JSON.parse(body.toString()));
    expect(req.headers['x-caliper-event']).toBe(report.event);
    this.received.push({
      id,
      event: report.event,
      buildid: report.build.buildid,
      builder: report.build.builder,
      result: report.build.result,
    });
    res.writeHead(204).end();
  }
}

const shell = (name: string, command: string) => new ShellCommand({ name, command });
const builder = (name: string, command: string) => ({ name, agents: ['a1'], factory: new BuildFactory().addStep(shell('run', command)) });

describe.each(testDatabases())('httpReporter on $kind', (db) => {
  let master: RunningMaster | null = null;
  let agent: AgentProcess | null = null;
  let cli: ChildProcess | null = null;
  const receivers: Receiver[] = [];

  const receiver = async () => {
    const r = new Receiver();
    await r.listen();
    receivers.push(r);
    return r;
  };

  afterEach(async () => {
    await agent?.kill();
    agent = null;
    await master?.stop();
    master = null;
    if (cli) await killGroup(cli, 'SIGKILL');
    cli = null;
    for (const r of receivers.splice(0)) await r.close();
  });

  async function start(config: Omit<ConfigInput, 'agents'>, dbUrl?: string): Promise<RunningMaster> {
    // The outbox retries as in production, at a tenth of the pace (the catch-up test waits on it).
    master = await startTestMaster({ agents: [{ name: 'a1', token: TOKEN }], ...config }, dbUrl ?? (await db.create()), undefined, {
      reporterBackoff: { initialMs: 100, maxMs: 2000 },
    });
    agent = await startAgent(master, 'a1', TOKEN);
    return master;
  }

  it('posts started and finished in order, signed, filtered by builder and result; the secret is masked in logs', async () => {
    const hook = await receiver();
    const m = await start({
      web: { publicUrl: 'https://ci.example.com' },
      builders: [builder('ok', `echo the secret is ${SECRET}`), builder('bad', 'exit 1'), builder('other', 'true')],
      services: [httpReporter({ url: hook.url, secret: SECRET, builders: ['ok', 'bad'], results: ['success'] })],
    });
    const ok = await forceAndWait(m, 'ok');
    const bad = await forceAndWait(m, 'bad');
    const other = await forceAndWait(m, 'other');
    expect([ok.build.result, bad.build.result, other.build.result]).toEqual(['success', 'failure', 'success']);

    await waitFor('the deliveries', () => hook.eventsOf(ok.build.buildid).length === 2 && hook.eventsOf(bad.build.buildid).length === 1);
    expect(hook.eventsOf(ok.build.buildid)).toEqual(['build.started', 'build.finished']);
    // `results: ['success']` filters finished builds only; `other` is not among `builders`.
    expect(hook.eventsOf(bad.build.buildid)).toEqual(['build.started']);
    expect(hook.eventsOf(other.build.buildid)).toEqual([]);
    expect(hook.badSignatures).toEqual([]);
    expect(hook.distinct().find((r) => r.event === 'build.finished')).toMatchObject({ builder: 'ok', result: 'success' });

    const log = (await stepLog(m, ok.steps[0].stepid)).toString();
    expect(log).toContain('the secret is ********');
    expect(log).not.toContain(SECRET);

    const rows = await new OutboxRepo(internalsOf(m).db.source).ofReporter(`http:http://127.0.0.1:${hook.port}/hook`);
    expect(rows.map((r) => [r.buildid, r.seq, r.state])).toEqual([
      [ok.build.buildid, 1, 'delivered'],
      [ok.build.buildid, 2, 'delivered'],
      [bad.build.buildid, 1, 'delivered'],
    ]);
    expect(JSON.parse(rows[1]?.payload ?? '{}')).toMatchObject({ build: { url: `https://ci.example.com/#/builds/${ok.build.buildid}` } });
  });

  it('catches up after the receiver was down and then answered 502, in order per build; a hanging receiver delays no build', async () => {
    const hook = await receiver();
    const port = hook.port;
    await hook.close();
    const m = await start({
      builders: [builder('quick', 'echo quick')],
      services: [httpReporter({ url: `http://127.0.0.1:${port}/hook`, secret: SECRET, steps: true, timeoutMs: 1000 })],
    });
    const builds: { buildid: number; result: string }[] = [];
    for (let i = 0; i < 3; i++) builds.push((await forceAndWait(m, 'quick')).build);
    expect(builds.map((b) => b.result)).toEqual(['success', 'success', 'success']);
    // Refused connections, then a proxy answering 502, then the receiver is back.
    await hook.listen(port);
    hook.mode = 'bad-gateway';
    const repo = new OutboxRepo(internalsOf(m).db.source);
    await waitFor('a retry answered 502', async () =>
      (await repo.ofReporter(`http:http://127.0.0.1:${port}/hook`)).some((r) => r.last_error?.includes('502')),
    );
    hook.mode = 'ok';
    await waitFor('every delivery', () => builds.every((b) => hook.eventsOf(b.buildid).length === 3), 60_000);
    for (const b of builds) expect(hook.eventsOf(b.buildid)).toEqual(['build.started', 'step.finished', 'build.finished']);

    // A receiver that never answers: the build's result and end do not wait for it.
    hook.mode = 'hang';
    const hung = await forceAndWait(m, 'quick');
    expect(hung.build).toMatchObject({ result: 'success', complete: true });
  });

  it('delivers everything owed by a master SIGKILLed while the receiver was down, once restarted', async () => {
    const hook = await receiver();
    const port = hook.port;
    await hook.close();
    const dir = path.join(ROOT, 'tmp', 'http-reporter-tests');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `kill-${db.kind}-${process.pid}.config.ts`);
    fs.writeFileSync(
      file,
      `import { defineConfig, BuildFactory, ShellCommand, httpReporter } from 'caliper';
export default defineConfig({
  agents: [{ name: 'a1', token: '${TOKEN}' }],
  builders: [{ name: 'hello', agents: ['a1'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'greet', command: 'echo hello' })) }],
  services: [httpReporter({ url: 'http://127.0.0.1:${port}/hook', secret: '${SECRET}' })],
});
`,
    );
    const dbUrl = await db.create();
    const first = await startCli(file, dbUrl);
    cli = first.child;
    const buildids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const forced = await fetch(`${first.url}/api/v2/builders/hello/force`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      const { buildrequestid } = forcedShape.parse(await forced.json());
      const build = await waitFor(`build of request ${buildrequestid}`, async () => {
        const body = await getJson(`${first.url}/api/v2/builds?buildrequestid=${buildrequestid}`, buildsShape);
        return body.builds[0]?.complete ? body.builds[0] : null;
      });
      buildids.push(build.buildid);
    }
    // Every delivery stored, each build's first tried (the receiver is down).
    const peek = await openDatabase(dbUrl);
    try {
      const repo = new OutboxRepo(peek.source);
      await waitFor('deliveries tried', async () => {
        const rows = await repo.ofReporter(`http:http://127.0.0.1:${port}/hook`);
        // In order per build: a build's `finished` waits until its `started` is through.
        return rows.length === 6 && rows.every((r) => (r.seq === 1 ? r.attempts >= 1 : r.attempts === 0));
      });
    } finally {
      await peek.close();
    }
    await killGroup(first.child, 'SIGKILL');
    cli = null;

    const second = await startCli(file, dbUrl);
    cli = second.child;
    await hook.listen(port);
    await waitFor('every delivery after the restart', () => buildids.every((b) => hook.eventsOf(b).length === 2), 60_000);
    for (const b of buildids) expect(hook.eventsOf(b)).toEqual(['build.started', 'build.finished']);
    expect(hook.distinct()).toHaveLength(6);
    // At least once: a try under way when the master died may arrive twice, nothing more.
    expect(hook.received.length - hook.distinct().length).toBeLessThanOrEqual(1);
    expect(hook.badSignatures).toEqual([]);
  });
});

async function startCli(config: string, dbUrl: string): Promise<{ child: ChildProcess; url: string; output(): string }> {
  const child = spawn(process.execPath, [CLI, 'start', '--config', config, '--port', '0', '--db', dbUrl, '--with-agent'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await waitFor(`master to start (output: ${out})`, () => /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], 30_000);
  await waitFor('its agent', async () => {
    const body = await getJson(`${url}/api/v2/agents`, agentsShape);
    return body.agents[0]?.connected;
  });
  return { child, url, output: () => out };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    try {
      process.kill(-(child.pid ?? 0), signal);
    } catch {
      resolve();
    }
  });
}
