/**
 * Steps on the master and names with spaces on a real master and agent (issue 12, item 3):
 * MasterShellCommand runs in the master's process tree (not the agent's), its log is masked, a stop
 * kills its process group; a builder "my builder" with a step "run tests" is forced and read through
 * the API by its URL-encoded name.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, MasterShellCommand, Results, SetProperty, ShellCommand, interpolate, forceScheduler } from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { startMaster, type RunningMaster } from '../../master/master.ts';
import { silentLogger } from '../../core/logger.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, stepLog, waitFor, waitForRequest, type AgentProcess } from '../helpers/harness.ts';
import { alive } from '../helpers/processes.ts';

const TOKEN = 'master-steps-token';
const SECRET = 'm4ster-SECRET';
const sqlite = testDatabases().find((d) => d.kind === 'sqlite');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-master-steps-'));
const pidFile = path.join(tmp, 'sleeper.pid');
const BUILDERS = ['my builder', 'slow on master'];

describe('steps on the master, names with spaces', () => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    if (!sqlite) throw new Error('no SQLite test database');
    const config = compileConfig({
      secrets: { token: SECRET },
      agents: [{ name: 'ms1', token: TOKEN }],
      builders: [
        {
          name: 'my builder',
          factory: new BuildFactory()
            .addStep(new SetProperty({ name: 'set who', property: 'who', value: 'caliper' }))
            .addStep(
              new MasterShellCommand({
                name: 'run tests',
                command: interpolate(
                  `echo "ppid=$PPID pwd=$PWD who=%(prop:who)s"; echo "token %(secret:token)s"; echo $PPID > ${tmp}/ppid`,
                ),
                workdir: 'out',
                logEnviron: true,
                env: { TOKEN: interpolate('%(secret:token)s') },
              }),
            )
            .addStep(new MasterShellCommand({ name: 'fails on master', command: 'exit 4', flunkOnFailure: false, hideStepIf: true }))
            .addStep(new ShellCommand({ name: 'on agent', command: ['echo', 'agent side'] })),
        },
        {
          name: 'slow on master',
          factory: new BuildFactory().addStep(
            new MasterShellCommand({ name: 'sleeper', command: `sleep 303.5 & echo $! > ${pidFile}; wait` }),
          ),
        },
      ],
      schedulers: [forceScheduler({ name: 'force', builderNames: BUILDERS })],
    });
    master = await startMaster(config, {
      port: 0,
      host: '127.0.0.1',
      dbUrl: await sqlite.create(),
      basedir: tmp,
      log: silentLogger,
      name: `test-master-steps-${process.pid}`,
      shutdownTimeoutMs: 3000,
    });
    agent = await startAgent(master, 'ms1', TOKEN);
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
    // Where the commands ran: under the master's basedir, or (when the master does not pass it on) the cwd.
    for (const base of [tmp, path.join(process.cwd(), 'master-workdir')]) {
      for (const b of ['my_builder', 'slow_on_master']) fs.rmSync(path.join(base, b), { recursive: true, force: true });
    }
    const leftover = path.join(process.cwd(), 'master-workdir');
    if (fs.existsSync(leftover) && fs.readdirSync(leftover).length === 0) fs.rmdirSync(leftover);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('reads and forces a builder whose name has a space, by its URL-encoded name', async () => {
    const client = api(master);
    const got = await client.get(`/builders/${encodeURIComponent('my builder')}`);
    expect(got.status).toBe(200);
    expect(got.body.builders[0]).toMatchObject({ name: 'my builder' });
    const forced = await client.post('/builders/my%20builder/force', { reason: 'spaces' });
    expect(forced.status).toBe(202);
    const { build, steps } = await waitForRequest(master, forced.body.buildrequestid);
    expect(build).toMatchObject({ results: Results.SUCCESS });
    expect(steps.map((s: { name: string; hidden: boolean; result: string }) => [s.name, s.result, s.hidden])).toEqual([
      ['set who', 'success', false],
      ['run tests', 'success', false],
      ['fails on master', 'failure', true],
      ['on agent', 'success', false],
    ]);
    // On the master: the command's parent is this process (the master runs in the test process).
    expect(fs.readFileSync(path.join(tmp, 'ppid'), 'utf8').trim()).toBe(String(process.pid));
    const log = (await stepLog(master, steps[1].stepid)).toString();
    expect(log).toContain(`ppid=${process.pid} `);
    expect(log).toMatch(/pwd=\S*\/master-workdir\/my_builder\/out who=caliper\n/);
    expect(log).toContain('token ********');
    expect(log).toContain('TOKEN=********');
    expect(log).not.toContain(SECRET);
    expect((await stepLog(master, steps[3].stepid)).toString()).toBe('agent side\n');
    const listed = (await client.get(`/builders/${encodeURIComponent('my builder')}/builds`)).body.builds;
    expect(listed.map((b: { buildid: number }) => b.buildid)).toContain(build.buildid);
  });

  it('a stop kills the command on the master with its process group; the step is CANCELLED', async () => {
    const client = api(master);
    fs.rmSync(pidFile, { force: true });
    const forced = await client.post(`/builders/${encodeURIComponent('slow on master')}/force`, {});
    expect(forced.status).toBe(202);
    await waitFor('the sleeper to start', () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '');
    const sleeper = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(alive(sleeper)).toBe(true);
    const build = (await client.get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0];
    expect((await client.post(`/builds/${build.buildid}/stop`, { reason: 'enough' })).status).toBe(202);
    const done = await waitForRequest(master, forced.body.buildrequestid);
    expect(done.build).toMatchObject({ results: Results.CANCELLED });
    expect(done.steps[0]).toMatchObject({ name: 'sleeper', result: 'cancelled' });
    await waitFor('the sleeper to be killed', () => !alive(sleeper), 10_000);
  });
});
