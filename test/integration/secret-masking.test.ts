/**
 * Secrets a build prints, read back through the real API: a configured secret and an agent's token,
 * printed by measuring, lint and property steps on a real agent, appear in no answer of the API
 * (builds, steps, logs, properties, requests, metric series, points, summaries, Prometheus text).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, Lint, MeasureShellCommand, SetPropertyFromCommand, interpolate } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, type AgentProcess } from '../helpers/harness.ts';

const SECRET = 'SECRETVALUE';
const AGENT_TOKEN = 'agentTokenSecret1';
const sqlite = testDatabases().find((d) => d.kind === 'sqlite');

describe('secrets printed by builds, through the API on SQLite', () => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    if (!sqlite) throw new Error('no SQLite test database');
    master = await startTestMaster(
      {
        secrets: { token: SECRET },
        agents: [{ name: 's1', token: AGENT_TOKEN }],
        builders: [
          {
            name: 'leaky',
            factory: new BuildFactory()
              .addStep(
                new MeasureShellCommand({
                  name: 'measure',
                  command: interpolate(`printf '%(secret:token)s=1\\ntime_%(secret:token)s=3\\n${AGENT_TOKEN}=2\\n'`),
                }),
              )
              .addStep(new MeasureShellCommand({ name: 'garbled', command: interpolate("printf 'time_%(secret:token)s 3\\n'") }))
              .addStep(
                new Lint({
                  name: 'lint',
                  command: interpolate("printf 'app.py:1:1: F401 %(secret:token)s imported but unused\\n%(secret:token)s garbage\\n'"),
                  format: 'flake8',
                  alwaysRun: true,
                }),
              )
              .addStep(
                new SetPropertyFromCommand({
                  name: 'who',
                  command: interpolate('echo %(secret:token)s'),
                  extract: (_code, out) => ({ who: out.trim(), [`user_${out.trim()}`]: 1 }),
                  alwaysRun: true,
                }),
              ),
          },
        ],
      },
      await sqlite.create(),
    );
    agent = await startAgent(master, 's1', AGENT_TOKEN);
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('no answer of the API holds the secret or the agent token', async () => {
    const { build, steps, buildrequestid } = await forceAndWait(master, 'leaky', { properties: { forced: SECRET } });
    expect(build.result).toBe('failure');
    expect(steps.map((s: { name: string; result: string }) => [s.name, s.result])).toEqual([
      ['measure', 'success'],
      ['garbled', 'failure'],
      ['lint', 'failure'],
      ['who', 'success'],
    ]);

    const c = api(master);
    const answers: string[] = [];
    const get = async (p: string) => {
      const res = await c.get(p);
      expect(res.status, p).toBe(200);
      answers.push(JSON.stringify(res.body));
      return res.body;
    };
    await get(`/builds/${build.buildid}`);
    await get(`/builds?buildrequestid=${buildrequestid}`);
    await get(`/buildrequests/${buildrequestid}`);
    await get(`/builds/${build.buildid}/steps`);
    await get(`/builds/${build.buildid}/metrics`);
    for (const s of steps) {
      await get(`/steps/${s.stepid}`);
      for (const log of (await get(`/steps/${s.stepid}/logs`)).logs) {
        await get(`/logs/${log.logid}/contents`);
        answers.push((await c.raw(`/logs/${log.logid}/raw`)).toString());
      }
    }
    const series: string[] = (await get('/metrics')).metrics.map((m: { series: string }) => m.series);
    for (const name of series) {
      await get(`/metrics/${name}/points`);
      await get(`/metrics/${name}/summary`);
    }
    answers.push(await (await fetch(`${master.url}/metrics`)).text());

    const all = answers.join('\n');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(AGENT_TOKEN);
    // What was measured is kept, under masked names.
    expect(series).toEqual(expect.arrayContaining(['MASKED', 'time_MASKED']));
    expect(build.properties).toMatchObject({
      '********': [1, 'measure'],
      'time_********': [3, 'measure'],
      '********#2': [2, 'measure'],
      forced: ['********', 'Scheduler'],
    });
  });
});
