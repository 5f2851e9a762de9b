/**
 * Reconfig without downtime, on real agent processes: a reconfig through the API that adds a builder
 * and removes another while a build of the removed one runs (it finishes under the old config), drops
 * an agent (disconnected, its token refused) and adds a periodic scheduler (it fires); an invalid
 * config and a change that needs a restart are refused with the old config kept. Then SIGHUP and
 * `caliper reconfig` on a master started by `caliper start`. The reconfig lives in the master's
 * memory, so one database kind is enough.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand } from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import { startMaster, type RunningMaster } from '../../master/master.ts';
import { silentLogger } from '../../core/logger.ts';
import { internalsOf } from '../../master/testing.ts';
import type { ReconfiguredEvent } from '../../master/events/event-bus.ts';
import { ROOT, api, startAgent, waitFor, waitForRequest, type AgentProcess } from '../helpers/harness.ts';

const T1 = 'reconfig-token-1';
const T2 = 'reconfig-token-2';
const echo = (what: string) => new BuildFactory().addStep(new ShellCommand({ name: 'say', command: ['echo', what] }));

const before: ConfigInput = {
  agents: [
    { name: 'a1', token: T1, maxBuilds: 3 },
    { name: 'a2', token: T2 },
  ],
  builders: [
    {
      name: 'doomed',
      agents: ['a1'],
      factory: new BuildFactory().addStep(new ShellCommand({ name: 'slow', command: 'sleep 2; echo finished under the old config' })),
    },
    { name: 'kept', agents: ['a1'], factory: echo('kept') },
  ],
};

const after: ConfigInput = {
  agents: [{ name: 'a1', token: T1, maxBuilds: 3 }],
  builders: [
    { name: 'kept', agents: ['a1'], factory: echo('kept') },
    { name: 'fresh', agents: ['a1'], factory: echo('fresh') },
  ],
  schedulers: [{ type: 'periodic', name: 'tick', builderNames: ['fresh'], periodicBuildTimer: 1 }],
};

describe('reconfig through the API, on real agents', () => {
  let master: RunningMaster;
  let input: ConfigInput = before;
  const agents: AgentProcess[] = [];
  const events: ReconfiguredEvent[] = [];

  afterAll(async () => {
    await master?.stop();
    await Promise.all(agents.map((a) => a.kill()));
  });

  it('adds a builder and removes another while a build of the removed one runs; drops an agent; starts a scheduler', async () => {
    const db = `sqlite:${path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-reconfig-')), 'caliper.sqlite')}`;
    master = await startMaster(compileConfig(before), {
      port: 0,
      host: '127.0.0.1',
      dbUrl: db,
      log: silentLogger,
      shutdownTimeoutMs: 3000,
      reloadConfig: () => Promise.resolve(compileConfig(input)),
    });
    master.events.subscribe('master.reconfigured', (e) => events.push(e));
    agents.push(await startAgent(master, 'a1', T1), await startAgent(master, 'a2', T2));
    const client = api(master);

    const forced = await client.post('/builders/doomed/force', {});
    expect(forced.status).toBe(202);
    const doomedRequest = forced.body.buildrequestid as number;
    await waitFor('the doomed build to start', () => internalsOf(master).running.size > 0);

    input = after;
    const answer = await client.post('/control/reconfig');
    expect(answer.status).toBe(200);
    expect(answer.body.reconfig).toMatchObject({
      result: 'applied',
      builders: { added: ['fresh'], removed: ['doomed'], changed: [] },
      agents: { added: [], removed: ['a2'], changed: [] },
      schedulers: { added: ['tick'], removed: [], changed: [] },
    });
    expect(events).toHaveLength(1);

    // The running build of the removed builder finishes, under the old config.
    const { build, steps } = await waitForRequest(master, doomedRequest);
    expect(build.results).toBe(0);
    expect(build.builder_name).toBe('doomed');
    expect(steps.map((s: { name: string }) => s.name)).toEqual(['slow']);

    // The builders in force: the removed one is gone, the new one builds.
    const names = (await client.get('/builders')).body.builders.map((b: { name: string }) => b.name);
    expect(names).toEqual(['kept', 'fresh']);
    expect((await client.post('/builders/doomed/force', {})).status).toBe(404);
    const fresh = await client.post('/builders/fresh/force', {});
    expect(fresh.status).toBe(202);
    expect((await waitForRequest(master, fresh.body.buildrequestid as number)).build).toMatchObject({ results: 0, builder_name: 'fresh' });

    // The new periodic scheduler fires.
    await waitFor('the periodic scheduler "tick" to request a build', async () => {
      const requests = (await client.get('/buildrequests?limit=50')).body.buildrequests as { buildrequestid: number }[];
      return requests.length >= 3; // doomed, the forced fresh, and at least one of tick's
    });

    // The removed agent was idle: disconnected at once; its token is refused when it comes back.
    const a2 = agents[1];
    expect(a2).toBeDefined();
    await waitFor('a2 to be disconnected', () => !internalsOf(master).registry.isConnected('a2'));
    await waitFor(`a2 to be refused (output: ${a2?.output()})`, () => /unknown agent or wrong token/.test(a2?.output() ?? ''));
    expect(internalsOf(master).registry.isConnected('a1')).toBe(true);
  }, 60_000);

  it('refuses an invalid config with its errors and keeps the old one', async () => {
    const client = api(master);
    input = { ...after, builders: [...after.builders, { name: 'bad', agents: ['nobody'], factory: echo('x'), colour: 'red' } as never] };
    const answer = await client.post('/control/reconfig');
    expect(answer.status).toBe(422);
    expect(answer.body.error.message).toMatch(/old config stays in force/);
    const paths = (answer.body.error.details.issues as { path: string }[]).map((i) => i.path);
    expect(paths.some((p) => p.startsWith('builders[2]'))).toBe(true);
    const names = (await client.get('/builders')).body.builders.map((b: { name: string }) => b.name);
    expect(names).toEqual(['kept', 'fresh']);
    expect(events).toHaveLength(1);
  });

  it('refuses a change that needs a restart, naming the keys', async () => {
    input = {
      ...after,
      builders: [...after.builders, { name: 'later', agents: ['a1'], factory: echo('later') }],
      web: { maxBodyBytes: 4096 },
    };
    const answer = await api(master).post('/control/reconfig');
    expect(answer.status).toBe(409);
    expect(answer.body.error.message).toMatch(/web changed, which needs a restart/);
    expect(answer.body.error.details).toEqual({ needsRestart: ['web'] });
    expect((await api(master).get('/builders')).body.builders).toHaveLength(2);
  });
});

describe('reconfig of a master started by `caliper start`', () => {
  const DEV_CLI = path.join(ROOT, 'bin/caliper-dev.js');
  // Under the checkout, where the config's `import ... from 'caliper'` resolves.
  let dir = '';
  const file = () => path.join(dir, 'master.config.ts');
  const write = (builders: string[], extra = '') =>
    fs.writeFileSync(
      file(),
      `import { defineConfig, BuildFactory, ShellCommand } from 'caliper';
export default defineConfig({
  db: { url: 'sqlite:caliper.sqlite' },
  agents: [{ name: 'a1', token: 'reconfig-cli-token' }],
  builders: ${JSON.stringify(builders)}.map((name) => ({
    name, agents: ['a1'], ${extra}
    factory: new BuildFactory().addStep(new ShellCommand({ name: 'say', command: ['echo', name] })),
  })),
});
`,
    );
  let child: ChildProcess | null = null;

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads the file again on SIGHUP and on `caliper reconfig`, and refuses a broken one', async () => {
    fs.mkdirSync(path.join(ROOT, 'tmp'), { recursive: true });
    dir = fs.mkdtempSync(path.join(ROOT, 'tmp', 'caliper-reconfig-'));
    write(['one']);
    child = spawn(process.execPath, [DEV_CLI, 'start', '--config', file(), '--port', '0'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const url = await waitFor(`the master to start (output: ${out})`, () => /at (http:\/\/\S+) \(API/.exec(out)?.[1], 30_000);
    const builders = async () =>
      ((await (await fetch(`${url}/api/v2/builders`)).json()) as { builders: { name: string }[] }).builders.map((b) => b.name);
    expect(await builders()).toEqual(['one']);

    write(['one', 'two']);
    child.kill('SIGHUP');
    // The master logs what changed once the reconfig is done (the API shows the builder a moment before).
    await waitFor(`the SIGHUP reconfig (output: ${out})`, () => /reconfig applied.*added two/.test(out), 30_000);
    expect(await builders()).toEqual(['one', 'two']);

    write(['two', 'three']);
    const ok = spawnSync(process.execPath, [DEV_CLI, 'reconfig', '--url', url], { encoding: 'utf8', timeout: 30_000 });
    expect(ok.stdout).toContain('builders added: three');
    expect(ok.stdout).toContain('builders removed: one');
    expect(ok.status).toBe(0);
    expect(await builders()).toEqual(['two', 'three']);

    write(['two', 'three'], `tags: 'not-a-list',`);
    const refused = spawnSync(process.execPath, [DEV_CLI, 'reconfig', '--url', url], { encoding: 'utf8', timeout: 30_000 });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/old config stays in force/);
    expect(refused.stderr).toMatch(/builders\[0\]\.tags/);
    expect(await builders()).toEqual(['two', 'three']);
  }, 90_000);
});
