/** The `caliper` command as a user runs it: check-config, start --with-agent, and a master killed mid-build. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { CLI, ROOT, api, startAgent, startTestMaster, waitFor, waitForRequest, processesMatching } from '../helpers/harness.ts';
import type { RunningMaster } from '../../master/master.ts';
import { BuildFactory, ShellCommand } from '../../index.ts';

const TMP = path.join(ROOT, 'tmp', 'cli-tests');

function writeConfig(name: string, body: string): string {
  fs.mkdirSync(TMP, { recursive: true });
  const file = path.join(TMP, `${name}-${process.pid}.config.ts`);
  fs.writeFileSync(file, body);
  return file;
}

const GOOD = `import { defineConfig, BuildFactory, ShellCommand } from 'caliper';
export default defineConfig({
  agents: [{ name: 'a1', token: process.env.A1_TOKEN ?? 'dev-token' }],
  builders: [
    {
      name: 'hello',
      agents: ['a1'],
      factory: new BuildFactory()
        .addStep(new ShellCommand({ name: 'greet', command: 'echo hello' }))
        .addStep(new ShellCommand({ name: 'nap', command: 'echo napping; sleep 303.5; echo woke' })),
    },
  ],
});
`;

const BAD = `import { defineConfig, BuildFactory, ShellCommand } from 'caliper';
export default defineConfig({
  colour: 'blue',
  agents: [{ name: 'a1', token: 'short' }],
  builders: [
    { name: 'b', agents: ['ghost'], factory: new BuildFactory()
        .addStep(new ShellCommand({ name: 'x', command: 'true' }))
        .addStep(new ShellCommand({ name: 'y', command: '', timeout: -1 })) },
  ],
});
`;

interface StartedCli {
  child: ChildProcess;
  url: string;
  output(): string;
}

async function startCli(args: string[]): Promise<StartedCli> {
  const child = spawn(process.execPath, [CLI, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await waitFor(`master to start (output: ${out})`, () => /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1]);
  return { child, url, output: () => out };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      resolve();
    }
  });
}

describe('caliper start on a port that is taken', () => {
  it('says which port is taken and how to choose another, without a stack trace, and exits 1', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = address !== null && typeof address === 'object' ? address.port : 0;
    try {
      const db = `sqlite:${path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-port-')), 'c.sqlite')}`;
      const r = spawnSync(process.execPath, [CLI, 'start', '--config', writeConfig('port', GOOD), '--port', String(port), '--db', db], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`caliper: port ${port} on 127.0.0.1 is taken (another Caliper master, or another program?)`);
      expect(r.stderr).toContain('--port N or web.port in master.config.ts');
      expect(r.stderr).not.toMatch(/^\s+at /m);
    } finally {
      taken.close();
    }
  });
});

describe('caliper check-config', () => {
  it('accepts the minimal config and the shipped master.config.ts', () => {
    const ok = spawnSync(process.execPath, [CLI, 'check-config', '--config', writeConfig('good', GOOD)], { encoding: 'utf8' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/OK \(1 builders, 1 agents/);
    const shipped = spawnSync(process.execPath, [CLI, 'check-config'], { encoding: 'utf8', cwd: ROOT });
    expect(shipped.status).toBe(0);
  });

  it('prints every error with its path and exits 1', () => {
    const r = spawnSync(process.execPath, [CLI, 'check-config', '--config', writeConfig('bad', BAD)], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('(root): unknown key "colour"');
    expect(r.stderr).toContain('agents[0].token: must be at least 8 characters');
    expect(r.stderr).toContain('builders[0].factory.steps[1].command: must not be empty');
    expect(r.stderr).toContain('builders[0].factory.steps[1].timeout:');
    expect(r.stderr).toContain('builders[0].agents[0]: no agent named "ghost" in agents');
    expect(r.stderr).toContain(': 6 errors');
  });

  it('answers --help for each command and refuses unknown options', () => {
    for (const cmd of ['start', 'check-config', 'agent']) {
      const r = spawnSync(process.execPath, [CLI, cmd, '--help'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`Usage: caliper ${cmd}`);
    }
    const bad = spawnSync(process.execPath, [CLI, 'start', '--frobnicate'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("Unknown option '--frobnicate'");
  });
});

describe.each(testDatabases())('caliper start on $kind', (db) => {
  let started: StartedCli | null = null;
  let master: RunningMaster | null = null;

  beforeAll(() => fs.mkdirSync(TMP, { recursive: true }));
  afterEach(async () => {
    if (started) await killGroup(started.child, 'SIGKILL');
    started = null;
    await master?.stop();
    master = null;
  });

  it('runs the minimal config with --with-agent; SIGKILLed mid-build, a restarted master marks the build EXCEPTION and keeps its log', async () => {
    const dbUrl = await db.create();
    started = await startCli(['--config', writeConfig('good', GOOD), '--port', '0', '--db', dbUrl, '--with-agent']);
    const client = { get: (p: string) => fetch(`${started!.url}/api/v2${p}`).then((r) => r.json()) };
    await waitFor('local agent', async () => (await client.get('/agents')).agents[0].connected);
    const forced = await fetch(`${started.url}/api/v2/builders/hello/force`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"reason":"cli"}',
    });
    expect(forced.status).toBe(202);
    const { buildrequestid } = (await forced.json()) as { buildrequestid: number };
    const build = await waitFor('nap step', async () => {
      const b = (await client.get(`/builds?buildrequestid=${buildrequestid}`)).builds[0];
      if (!b) return null;
      const steps = (await client.get(`/builds/${b.buildid}/steps`)).steps;
      return steps.length === 2 && processesMatching('sleep 303.5').length > 0 ? b : null;
    });
    // Wait until the first line of the nap step is stored, then kill master and agent without warning.
    await waitFor('nap output', async () => {
      const steps = (await client.get(`/builds/${build.buildid}/steps`)).steps;
      const logs = (await client.get(`/steps/${steps[1].stepid}/logs`)).logs;
      return logs[0]?.num_lines === 1;
    });
    await killGroup(started.child, 'SIGKILL');
    started = null;
    // The command ran in its own process group, so it outlives an agent killed with SIGKILL.
    for (const pid of processesMatching('sleep 303.5')) process.kill(pid, 'SIGKILL');

    master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: 'dev-token' }],
        builders: [
          {
            name: 'hello',
            agents: ['a1'],
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'greet', command: 'echo hello' })),
          },
        ],
      },
      dbUrl,
      // The name `caliper start` registers under: host and config folder, so a restart finds its builds.
      `${os.hostname()}:${TMP}`,
    );
    const c = api(master);
    const after = (await c.get(`/builds/${build.buildid}`)).body.builds[0];
    expect(after).toMatchObject({ complete: true, result: 'exception', number: 1 });
    const steps = (await c.get(`/builds/${build.buildid}/steps`)).body.steps;
    expect(steps.map((s: { result: string }) => s.result)).toEqual(['success', 'exception']);
    const logs = (await c.get(`/steps/${steps[1].stepid}/logs`)).body.logs;
    expect((await c.raw(`/logs/${logs[0].logid}/raw`)).toString()).toBe('napping\n');
    expect((await c.get(`/buildrequests/${buildrequestid}`)).body.buildrequests[0]).toMatchObject({ complete: true, result: 'exception' });

    const agent = await startAgent(master, 'a1', 'dev-token');
    const next = await c.post('/builders/hello/force', {});
    const done = await waitForRequest(master, next.body.buildrequestid);
    expect(done.build).toMatchObject({ number: 2, result: 'success' });
    await agent.kill();
  });
});
