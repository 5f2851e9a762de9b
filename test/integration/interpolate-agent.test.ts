/** Every Interpolate form rendered into commands a real agent runs (rendering does not depend on the database: SQLite only). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, interpolate, renderer, transform, forceScheduler } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { forceAndWait, startAgent, startTestMaster, stepLog, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'interpolate-token-1';

describe.each(testDatabases().slice(0, 1))('interpolate on a real agent ($kind)', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: TOKEN }],
        secrets: { TOKEN: 'tok-s3cret-value' },
        builders: [
          {
            name: 'interp',
            properties: { flavour: 'vanilla', zero: 0 },
            factory: new BuildFactory()
              .addStep(
                new ShellCommand({
                  name: 'worker-kw-src',
                  command: [
                    'echo',
                    interpolate('%(worker:name)s %(kw:x)s %(src::branch)s', { x: renderer((p) => `r-${String(p.get('flavour'))}`) }),
                  ],
                }),
              )
              .addStep(
                new ShellCommand({
                  name: 'operators',
                  command: interpolate(
                    'echo "%(src:proj:revision)s [%(prop:missing:+set)s] %(prop:flavour:+set)s %(prop:flavour:?|yes|no)s %(prop:zero:?|yes|no)s %(prop:zero:#?|t|f)s %(prop:zero:~dflt)s %(src:other:branch:-none)s 100%%"',
                  ),
                }),
              )
              .addStep(
                new ShellCommand({
                  name: 'env-and-secret',
                  command: interpolate('echo "$UP %(secret:TOKEN)s"'),
                  env: { UP: transform(interpolate('%(prop:flavour)s'), (v) => v.toUpperCase()) },
                }),
              ),
          },
        ],
        schedulers: [forceScheduler({ name: 'force', builderNames: ['interp'] })],
      },
      await db.create(),
    );
    agent = await startAgent(master, 'a1', TOKEN);
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('renders worker, kw (a renderer), src, every operator, transform and a masked secret', async () => {
    const { build, steps } = await forceAndWait(master, 'interp', {
      properties: { branch: 'feature/x', revision: 'abc123', repository: 'https://example.com/org/proj.git' },
    });
    expect(build.result).toBe('success');
    expect((await stepLog(master, steps[0].stepid)).toString()).toBe('a1 r-vanilla feature/x\n');
    expect((await stepLog(master, steps[1].stepid)).toString()).toBe('abc123 [] set yes yes f dflt none 100%\n');
    expect((await stepLog(master, steps[2].stepid)).toString()).toBe('VANILLA ********\n');
  });

  it('refuses a master whose config has syntax it does not know, before any build', async () => {
    const bad = {
      builders: [{ name: 'b', factory: new BuildFactory([new ShellCommand({ name: 's', command: interpolate('%(foo:x)s') })]) }],
    };
    await expect(startTestMaster(bad, await db.create())).rejects.toThrow(
      /builders\[0\]\.factory\.steps\[0\]\.command: .*unknown source "foo"/,
    );
  });
});
