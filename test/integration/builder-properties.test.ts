/**
 * Renderable builder properties (Buildbot renders a builder's properties at build start) on a real
 * master with a real agent process: interpolate(...) and renderer(fn) values rendered with the
 * build's other properties, a request's own value winning, a run-time failure ending the build
 * EXCEPTION naming the property, and a bad template refused by the config check with its path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, interpolate, renderer } from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { forceAndWait, startAgent, startTestMaster, stepLog, type AgentProcess } from '../helpers/harness.ts';
import { issuesOf } from '../unit/config-helpers.ts';

const TOKEN = 'builder-props-token';
const show = () => new ShellCommand({ name: 'show', command: ['echo', interpolate('%(prop:greeting)s|%(prop:computed)s|%(prop:plain)s')] });

describe.each(testDatabases())('renderable builder properties on $kind', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [{ name: 'p1', token: TOKEN, properties: { site: 'lab' } }],
        builders: [
          {
            name: 'props',
            properties: {
              plain: 'p',
              greeting: interpolate('%(prop:who:-world)s on %(worker:name)s at %(prop:site)s, build %(prop:buildnumber)s'),
              computed: renderer((p) => `${String(p.get('buildername'))}:${String(p.get('reason')).length > 0}`),
            },
            factory: new BuildFactory().addStep(show()),
          },
          { name: 'broken', properties: { need: interpolate('%(prop:missing)s') }, factory: new BuildFactory().addStep(show()) },
          {
            name: 'secretive',
            properties: { leak: interpolate('%(secret:deploy_key)s') },
            factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'true' })),
          },
        ],
        secrets: { deploy_key: 'very-secret-value' },
      },
      await db.create(),
    );
    agent = await startAgent(master, 'p1', TOKEN);
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('renders interpolate(...) and renderer(fn) values at build start, with the build, agent and request properties', async () => {
    const { build, steps } = await forceAndWait(master, 'props', { properties: { who: 'alice' } });
    expect(build.result).toBe('success');
    expect((await stepLog(master, steps[0].stepid)).toString()).toBe(`alice on p1 at lab, build ${build.number}|props:true|p\n`);
    expect(build.properties.greeting).toEqual([`alice on p1 at lab, build ${build.number}`, 'Builder']);
    expect(build.properties.computed).toEqual(['props:true', 'Builder']);
  });

  it("leaves a property the request sets to the request's value", async () => {
    const { build, steps } = await forceAndWait(master, 'props', { properties: { greeting: 'mine' } });
    expect(build.result).toBe('success');
    expect((await stepLog(master, steps[0].stepid)).toString()).toBe('mine|props:true|p\n');
    expect(build.properties.greeting).toEqual(['mine', 'Scheduler']);
  });

  it('ends the build EXCEPTION before its steps when a value cannot be rendered, naming the property', async () => {
    const { build, steps } = await forceAndWait(master, 'broken');
    expect(build.result).toBe('exception');
    expect(build.state_string).toMatch(/^exception: builder property "need": .*missing/);
    expect(steps).toEqual([]);
    const secretive = await forceAndWait(master, 'secretive');
    expect(secretive.build.result).toBe('exception');
    expect(secretive.build.state_string).toContain('builder property "leak": cannot use %(secret:deploy_key)s');
    expect(JSON.stringify(secretive.build.properties)).not.toContain('very-secret-value');
  });
});

describe('renderable builder properties: the config check', () => {
  it('refuses a template it cannot read, and a value that is not a property value, with their paths', () => {
    const issues = issuesOf(() =>
      compileConfig({
        builders: [
          {
            name: 'b',
            properties: { fine: interpolate('%(prop:x:-y)s'), bad: interpolate('%(nope:x)s'), odd: new Date() as never },
            factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'true' })),
          },
        ],
      }),
    );
    const paths = issues.map((i) => i.path);
    expect(paths).toContain('builders[0].properties.bad');
    expect(issues.find((i) => i.path === 'builders[0].properties.bad')?.message).toContain('interpolate("%(nope:x)s")');
    expect(paths).toContain('builders[0].properties.odd');
    expect(paths.some((p) => p.startsWith('builders[0].properties.fine'))).toBe(false);
  });
});
