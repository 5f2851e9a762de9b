/** The operator commands (master/operator/) as a user runs them: the `caliper` command against a real master and agent. */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, waitForRequest, startAgent, startTestMaster, waitFor, api, type AgentProcess } from '../helpers/harness.ts';
import { testDatabases } from '../helpers/databases.ts';
import type { RunningMaster } from '../../master/master.ts';
import { BuildFactory, ShellCommand } from '../../index.ts';

const TOKEN = 'operator-cli-agent-token';
const API_TOKEN = 'operator-cli-api-token-0123456789';

describe('operator CLI', () => {
  let master: RunningMaster;
  let agent: AgentProcess;
  // Asynchronously: the master runs in this process and must go on answering while the command waits.
  const caliper = (args: string[], env: Record<string, string> = { CALIPER_TOKEN: API_TOKEN }, url = master.url) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(process.execPath, [CLI, ...args, '--url', url], { env: { ...process.env, ...env }, encoding: 'utf8' }, (error, out, err) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }),
      );
    });

  beforeAll(async () => {
    master = await startTestMaster(
      {
        web: { auth: { tokens: [API_TOKEN] } },
        agents: [{ name: 'a1', token: TOKEN }],
        builders: [
          {
            name: 'hello',
            agents: ['a1'],
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'greet', command: 'printf "hi %s\\n" "$(date +%s)"; echo done' })),
          },
        ],
      },
      await testDatabases()[0]!.create(),
    );
    agent = await startAgent(master, 'a1', TOKEN);
    const forced = await api(master).post('/builders/hello/force', {}, { authorization: `Bearer ${API_TOKEN}` });
    await waitForRequest(master, forced.body.buildrequestid);
  });
  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('force: queues a build with properties, and needs the token', async () => {
    const denied = await caliper(['force', 'hello'], {});
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/401.*CALIPER_TOKEN/s);
    const forced = await caliper(['force', 'hello', '--prop', 'color=blue', '--json']);
    expect(forced.code, forced.err).toBe(0);
    const { buildrequestid } = JSON.parse(forced.out);
    const done = await waitFor('the forced build', async () => {
      const b = (await api(master).get(`/builds?buildrequestid=${buildrequestid}`)).body.builds[0];
      return b?.complete ? b : null;
    });
    expect(done.properties.color[0]).toBe('blue');
    expect((await caliper(['force', 'hello', '--prop', 'novalue'])).err).toMatch(/--prop "novalue" must be NAME=VALUE/);
  });

  it('builds: a table and JSON', async () => {
    const table = await caliper(['builds', '--builder', 'hello', '--limit', '5']);
    expect(table.code, table.err).toBe(0);
    expect(table.out.split('\n')[0]).toMatch(/^ID\s+BUILDER\s+#\s+RESULT/);
    expect(table.out).toMatch(/hello\s+1\s+success/);
    const json = JSON.parse((await caliper(['builds', '--json'])).out);
    expect(json.length).toBeGreaterThanOrEqual(1);
    expect(json[0].builder_name).toBe('hello');
    expect((await caliper(['builds', '--limit', 'x'])).err).toMatch(/--limit must be a whole number/);
  });

  it('build: steps, and a step log byte for byte', async () => {
    const [first] = JSON.parse((await caliper(['builds', '--json'])).out).slice(-1);
    const shown = await caliper(['build', String(first.buildid)]);
    expect(shown.out).toMatch(/build \d+: hello #1\s+success/);
    expect(shown.out).toMatch(/greet\s+success/);
    expect(JSON.parse((await caliper(['build', String(first.buildid), '--json'])).out).steps[0].name).toBe('greet');
    const log = await caliper(['build', String(first.buildid), '--log', 'greet']);
    const steps = (await api(master).get(`/builds/${first.buildid}/steps`)).body.steps;
    const logs = (await api(master).get(`/steps/${steps[0].stepid}/logs`)).body.logs;
    expect(log.out).toBe((await api(master).raw(`/logs/${logs[0].logid}/raw`)).toString());
    expect(log.out).toMatch(/^hi \d+\ndone\n$/);
    expect((await caliper(['build', String(first.buildid), '--log', 'nope'])).err).toMatch(/has no step "nope" \(steps: 0 greet\)/);
  });

  it('agents: connected, with its version', async () => {
    expect((await caliper(['agents'])).out).toMatch(/a1\s+yes\s+0\/\d+/);
    expect(JSON.parse((await caliper(['agents', '--json'])).out)[0]).toMatchObject({ name: 'a1', connected: true });
  });

  it('metrics: the summary and a sparkline', async () => {
    const out = await caliper(['metrics', 'build_duration', '--builder', 'hello']);
    expect(out.code, out.err).toBe(0);
    expect(out.out).toMatch(/build_duration \(builder hello\): \d+ points/);
    expect(out.out).toMatch(/last \d+: [▁▂▃▄▅▆▇█]+/);
    const json = JSON.parse((await caliper(['metrics', 'build_duration', '--json'])).out);
    expect(json.summary.count).toBeGreaterThanOrEqual(2);
    expect(json.points.length).toBe(json.summary.count);
  });

  it('says clearly when the master cannot be reached', async () => {
    const r = await caliper(['agents'], {}, 'http://127.0.0.1:9');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot reach the master at http:\/\/127\.0\.0\.1:9/);
  });
});
