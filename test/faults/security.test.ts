/** Secrets masked everywhere they would show; security headers; no CORS; no path traversal. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BuildFactory,
  SetPropertyFromCommand,
  ShellCommand,
  Step,
  commonStepShape,
  interpolate,
  Results,
  compileConfig,
} from '../../index.ts';
import type { StepContext, StepOutcome } from '../../index.ts';
import { z } from 'zod';
import type { RunningMaster } from '../../master/master.ts';
import { MASK } from '../../master/build/secret-masker.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, stepLog, type AgentProcess } from '../helpers/harness.ts';
import { internalsOf } from '../../master/testing.ts';

const SECRET = 'hunter2-deploy-key-7731';
const AGENT_TOKEN = 'agent-token-not-to-leak';

/** A custom step that captures a metric tagged with whatever it is given. */
class TagStep extends Step {
  readonly schema = z.strictObject({ ...commonStepShape });
  override measures(): boolean {
    return true;
  }
  async run(ctx: StepContext): Promise<StepOutcome> {
    await ctx.captureData('tagged', 1, { tags: { leak: `x${SECRET}x` } });
    const log = await ctx.addLog('notes');
    await log.append(`note: ${SECRET}\n`);
    return { result: Results.SUCCESS };
  }
}

describe.each(testDatabases())('security on $kind', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    master = await startTestMaster(
      {
        secrets: { DEPLOY_KEY: SECRET },
        agents: [{ name: 's1', token: AGENT_TOKEN }],
        builders: [
          {
            name: 'leaky',
            factory: new BuildFactory()
              .addStep(
                new ShellCommand({
                  name: 'echo',
                  command: [
                    'sh',
                    '-c',
                    'echo "key=$KEY"; printf "split: hunter2-dep"; sleep 0.3; printf "loy-key-7731 end\\n"; echo "env token [$CALIPER_AGENT_TOKEN]"; echo "token ' +
                      AGENT_TOKEN +
                      '" >&2',
                  ],
                  env: { KEY: interpolate('%(secret:DEPLOY_KEY)s') },
                }),
              )
              .addStep(
                new SetPropertyFromCommand({
                  name: 'prop',
                  command: ['echo', interpolate('v-%(secret:DEPLOY_KEY)s')],
                  property: 'derived',
                }),
              )
              .addStep(new TagStep({ name: 'tags' }))
              .addStep(new ShellCommand({ name: 'escape', command: ['pwd'], workdir: 'sub/dir' })),
          },
        ],
      },
      await db.create(),
    );
    agent = await startAgent(master, 's1', AGENT_TOKEN);
  });
  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('masks secrets in logs (even split across output chunks), properties and metric tags', async () => {
    const { build, steps } = await forceAndWait(master, 'leaky', { properties: { note: `has ${SECRET} inside` } });
    expect(build.result).toBe('success');
    const stdio = (await stepLog(master, steps[0].stepid)).toString();
    expect(stdio).toContain(`key=${MASK}\n`);
    expect(stdio).toContain(`split: ${MASK} end\n`);
    expect(stdio).toContain(`token ${MASK}\n`); // an agent token printed by a build is masked
    expect(stdio).toContain('env token []\n'); // and the agent does not hand its token to builds
    expect(stdio).not.toContain(SECRET);
    expect(stdio).not.toContain(AGENT_TOKEN);
    expect(build.properties.derived[0]).toBe(`v-${MASK}`);
    expect(build.properties.note[0]).toBe(`has ${MASK} inside`);
    const c = api(master);
    expect(JSON.stringify((await c.get(`/buildrequests/${build.buildrequestid}`)).body)).not.toContain(SECRET);
    expect((await stepLog(master, steps[2].stepid, 'notes')).toString()).toBe(`note: ${MASK}\n`);
    const points = (await c.get('/metrics/tagged/points')).body.points;
    expect(points[0].tags.leak).toBe(`x${MASK}x`);
    // The stored raw log bytes themselves hold no secret.
    const raw = (await internalsOf(master).db.source.query('SELECT content FROM logchunks')) as { content: Buffer }[];
    expect(raw.some((r) => Buffer.from(r.content).includes(SECRET))).toBe(false);
  });

  it('keeps steps inside the builder directory and refuses paths that leave it', async () => {
    const { steps } = await forceAndWait(master, 'leaky');
    expect((await stepLog(master, steps[3].stepid)).toString().trim()).toMatch(/\/leaky\/sub\/dir$/);
    expect(() =>
      compileConfig({
        agents: [{ name: 'a', token: 'token-12345' }],
        builders: [
          {
            name: 'b',
            workdir: '../etc',
            factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'true', workdir: '../../x' })),
          },
        ],
      }),
    ).toThrow(/builders\[0\]\.workdir[\s\S]*builders\[0\]\.factory\.steps\[0\]\.workdir: must be a relative path without "\.\."/);
    expect(() =>
      compileConfig({
        agents: [{ name: 'a', token: 'token-12345' }],
        builders: [
          { name: '..', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'true' })) },
          { name: 'b', workdir: '..', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'true' })) },
        ],
      }),
    ).toThrow(/builders\[0\]\.name: cannot be "\." or "\.\."[\s\S]*builders\[1\]\.workdir: cannot be "\." or "\.\."/);
  });

  it('sends security headers and no CORS headers', async () => {
    for (const p of ['/', '/api/v2/builders']) {
      const res = await fetch(`${master.url}${p}`, { headers: { origin: 'https://evil.example' } });
      expect(res.headers.get('access-control-allow-origin'), p).toBeNull();
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
      expect(res.headers.get('content-security-policy'), p).toContain("default-src 'self'");
      expect(res.headers.get('x-frame-options'), p).toBe('SAMEORIGIN');
    }
  });
});
