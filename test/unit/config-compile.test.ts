import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BuildFactory,
  defineConfig,
  interpolate,
  Lint,
  renderer,
  Results,
  SetPropertyFromCommand,
  ShellCommand,
  transform,
  type CaliperConfig,
  type Step,
} from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { loadConfigFile } from '../../master/config/loader.ts';
import { ConfigError, type ConfigIssue } from '../../core/errors/index.ts';
import { issuesOf, withStep } from './config-helpers.ts';

/** The minimal config of DESIGN.md §3, as a user writes it. */
function minimalConfig(): CaliperConfig {
  return defineConfig({
    agents: [{ name: 'a1', token: process.env.A1_TOKEN ?? 'dev-token' }],
    builders: [
      {
        name: 'hello',
        agents: ['a1'],
        factory: new BuildFactory()
          .addStep(new ShellCommand({ name: 'greet', command: 'echo hello' }))
          .addStep(new ShellCommand({ name: 'list', command: ['ls', '-la'], haltOnFailure: true })),
      },
    ],
  });
}

describe('compileConfig: a valid config', () => {
  it('compiles the minimal config from the design', () => {
    const config = compileConfig(minimalConfig());
    expect(config.builders).toHaveLength(1);
    const [builder] = config.builders;
    expect(builder?.name).toBe('hello');
    expect(builder?.agents).toEqual(['a1']);
    expect(builder?.steps.map((s) => s.name)).toEqual(['greet', 'list']);
    expect(builder?.steps[1]?.flags().haltOnFailure).toBe(true);
  });

  it('fills in the defaults', () => {
    const config = compileConfig(minimalConfig());
    expect(config.title).toBe('Caliper');
    expect(config.web.port).toBe(8010);
    expect(config.web.host).toBe('127.0.0.1');
    expect(config.web.auth).toBeUndefined();
    expect(config.db.url).toBe('sqlite:.caliper/caliper.sqlite');
    expect(config.agents).toEqual([{ name: 'a1', token: 'dev-token', labels: [], maxBuilds: 1 }]);
    expect(config.schedulers).toEqual([]);
    expect(config.builders[0]).toMatchObject({ properties: {}, tags: [], dirname: 'hello' });
  });

  it('keeps what the user set instead of the defaults', () => {
    const config = compileConfig({
      ...minimalConfig(),
      web: { port: 9000, host: '0.0.0.0' },
      db: { url: 'postgres://db/caliper' },
      agents: [{ name: 'a1', token: 'dev-token', maxBuilds: 3, labels: ['linux'] }],
    });
    expect(config.web).toMatchObject({ port: 9000, host: '0.0.0.0' });
    expect(config.db.url).toBe('postgres://db/caliper');
    expect(config.agents[0]).toMatchObject({ maxBuilds: 3, labels: ['linux'] });
  });
});

describe('compileConfig: mistakes', () => {
  const manyMistakes = (): unknown => ({
    colour: 'red', // unknown top-level key
    db: { url: 'mysql://localhost/caliper' },
    agents: [{ name: 'a1', token: 'dev-token' }],
    builders: [
      {
        name: 'hello',
        agents: ['a1', 'ghost'],
        bogus: true, // unknown key in a builder
        factory: new BuildFactory()
          .addStep(new ShellCommand({ name: 'greet', command: 'echo hello' }))
          .addStep(new ShellCommand({ name: 'greet', command: '' })),
      },
    ],
    schedulers: [{ type: 'force', name: 'force', builderNames: ['nobody'] }],
  });

  const expectedShapeIssues: ConfigIssue[] = [
    { path: '', message: 'unknown key "colour"' },
    { path: 'builders[0]', message: 'unknown key "bogus"' },
    { path: 'builders[0].factory.steps[1].command', message: 'must not be empty' },
    { path: 'builders[0].factory.steps', message: 'step name "greet" is used twice' },
  ];
  const expectedCrossIssues: ConfigIssue[] = [
    { path: 'db.url', message: expect.stringContaining('mysql://localhost/caliper') as string },
    { path: 'builders[0].agents[1]', message: 'no agent named "ghost" in agents' },
    { path: 'schedulers[0].builderNames[0]', message: 'no builder named "nobody"' },
  ];

  it('reports every mistake of a config at once, each with its path', () => {
    const issues = issuesOf(() => compileConfig(manyMistakes()));
    expect(issues).toEqual(expect.arrayContaining([...expectedShapeIssues, ...expectedCrossIssues]));
    expect(issues).toHaveLength(expectedShapeIssues.length + expectedCrossIssues.length);
  });

  it('reports all shape mistakes and all step mistakes together', () => {
    const issues = issuesOf(() => compileConfig(manyMistakes()));
    expect(issues).toEqual(expect.arrayContaining(expectedShapeIssues));
  });

  it('reports all cross-reference mistakes and all step mistakes together', () => {
    const input = manyMistakes() as { colour?: string; builders: Record<string, unknown>[] };
    delete input.colour;
    delete input.builders[0]?.bogus;
    const issues = issuesOf(() => compileConfig(input));
    expect(issues).toEqual(expect.arrayContaining([...expectedShapeIssues.slice(2), ...expectedCrossIssues]));
    expect(issues).toHaveLength(5);
  });

  it('lists every issue in the error message, under the file name', () => {
    try {
      compileConfig({ builders: [] }, 'my.config.ts');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).code).toBe('CONFIG_INVALID');
      expect((e as ConfigError).message).toBe('my.config.ts: 1 error\n  builders: needs at least one builder');
    }
  });

  it('refuses a builder no agent can run', () => {
    const issues = issuesOf(() =>
      compileConfig({
        agents: [{ name: 'a1', token: 'dev-token', labels: ['linux'] }],
        builders: [{ name: 'b', labels: ['windows'], factory: new BuildFactory([new ShellCommand({ name: 's', command: 'x' })]) }],
      }),
    );
    expect(issues).toEqual([{ path: 'builders[0]', message: 'no configured agent can run this builder (check agents and labels)' }]);
  });

  it('refuses a factory that is not a BuildFactory, and a step that is not a Step', () => {
    expect(issuesOf(() => compileConfig({ builders: [{ name: 'b', factory: { steps: [] } }] }))).toContainEqual({
      path: 'builders[0].factory',
      message: 'must be a BuildFactory (new BuildFactory().addStep(...))',
    });
    const notAStep = { name: 'x', command: 'echo' } as unknown as Step;
    expect(issuesOf(() => compileConfig(withStep(notAStep)))).toContainEqual({
      path: 'builders[0].factory.steps[0]',
      message: 'must be a step (new ShellCommand({...}) or another Step)',
    });
  });

  it('refuses duplicate agents, builders and schedulers', () => {
    const step = new ShellCommand({ name: 's', command: 'x' });
    const issues = issuesOf(() =>
      compileConfig({
        agents: [
          { name: 'a1', token: 'dev-token' },
          { name: 'a1', token: 'dev-token' },
        ],
        builders: [
          { name: 'b', factory: new BuildFactory([step]) },
          { name: 'b', factory: new BuildFactory([step]) },
        ],
        schedulers: [
          { type: 'force', name: 'f', builderNames: ['b'] },
          { type: 'force', name: 'f', builderNames: ['b'] },
        ],
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'agents', message: 'agent "a1" is defined twice' },
        { path: 'builders', message: 'builder "b" is defined twice' },
        { path: 'schedulers', message: 'scheduler "f" is defined twice' },
      ]),
    );
  });
});

describe('compileConfig: step options', () => {
  it('refuses a negative timeout', () => {
    expect(issuesOf(() => compileConfig(withStep(new ShellCommand({ name: 's', command: 'x', timeout: -5 }))))).toEqual([
      { path: 'builders[0].factory.steps[0].timeout', message: expect.any(String) as string },
    ]);
  });

  it('refuses a Lint step whose name cannot start its series names, before any build runs', () => {
    // `lint tests` would capture `lint tests_warnings`, which the metrics service refuses mid-build.
    expect(issuesOf(() => compileConfig(withStep(new Lint({ name: 'lint tests', command: 'x', format: 'eslint' }))))).toEqual([
      { path: 'builders[0].factory.steps[0].name', message: expect.stringContaining('series') as string },
    ]);
    expect(() => compileConfig(withStep(new Lint({ name: 'lint', command: 'x', format: 'eslint' })))).not.toThrow();
  });

  it('accepts a positive or null timeout', () => {
    expect(() => compileConfig(withStep(new ShellCommand({ name: 's', command: 'x', timeout: 30 })))).not.toThrow();
    expect(() => compileConfig(withStep(new ShellCommand({ name: 's', command: 'x', timeout: null })))).not.toThrow();
  });

  it('refuses a decodeRC value that is not a result', () => {
    const step = new ShellCommand({ name: 's', command: 'x', decodeRC: { 0: Results.SUCCESS, 1: 9 as never } });
    expect(issuesOf(() => compileConfig(withStep(step)))).toEqual([
      { path: 'builders[0].factory.steps[0].decodeRC["1"]', message: 'must be a result code (Results.*)' },
    ]);
  });

  it('accepts a decodeRC of results', () => {
    const step = new ShellCommand({ name: 's', command: 'x', decodeRC: { 0: Results.SUCCESS, 1: Results.WARNINGS } });
    expect(() => compileConfig(withStep(step))).not.toThrow();
  });

  it.each(['../outside', 'a/../../b', '..', '/abs/path'])('refuses the workdir %j', (workdir) => {
    expect(issuesOf(() => compileConfig(withStep(new ShellCommand({ name: 's', command: 'x', workdir }))))).toEqual([
      { path: 'builders[0].factory.steps[0].workdir', message: 'must be a relative path without ".."' },
    ]);
  });

  it('accepts a relative workdir, even with dots in names', () => {
    expect(() => compileConfig(withStep(new ShellCommand({ name: 's', command: 'x', workdir: 'build/..cache/v1.2' })))).not.toThrow();
  });

  it('refuses an unknown step option', () => {
    const step = new ShellCommand({ name: 's', command: 'x', retries: 3 } as never);
    expect(issuesOf(() => compileConfig(withStep(step)))).toEqual([
      { path: 'builders[0].factory.steps[0]', message: 'unknown key "retries"' },
    ]);
  });

  it('needs exactly one of property or extract for SetPropertyFromCommand', () => {
    const neither = new SetPropertyFromCommand({ name: 's', command: 'git rev-parse HEAD' });
    const both = new SetPropertyFromCommand({ name: 's', command: 'x', property: 'rev', extract: () => ({}) });
    const expected = [{ path: 'builders[0].factory.steps[0].property', message: 'needs exactly one of "property" or "extract"' }];
    expect(issuesOf(() => compileConfig(withStep(neither)))).toEqual(expected);
    expect(issuesOf(() => compileConfig(withStep(both)))).toEqual(expected);
    expect(() => compileConfig(withStep(new SetPropertyFromCommand({ name: 's', command: 'x', property: 'rev' })))).not.toThrow();
    expect(() => compileConfig(withStep(new SetPropertyFromCommand({ name: 's', command: 'x', extract: () => ({}) })))).not.toThrow();
  });
});

describe('compileConfig: interpolate templates', () => {
  function twoSteps(second: Step): CaliperConfig {
    return { builders: [{ name: 'b', factory: new BuildFactory([new ShellCommand({ name: 'first', command: 'true' }), second]) }] };
  }

  it.each([
    ['%(foo:x)s', /unknown source "foo"/],
    ['echo %(prop:x)', /must end in "\)s"/],
    ['%(prop:x:*bad)s', /unknown operator "\*bad"/],
    ['%(src::sha)s', /unknown source attribute "sha"/],
    ['%(worker:cpu)s', /unknown worker attribute "cpu"/],
    ['%(kw:k)s', /no keyword argument "k"/],
  ])("refuses %j at check time with the option's path", (template, message) => {
    const issues = issuesOf(() => compileConfig(twoSteps(new ShellCommand({ name: 's', command: interpolate(template) }))));
    expect(issues).toEqual([{ path: 'builders[0].factory.steps[1].command', message: expect.stringMatching(message) as string }]);
  });

  it('finds templates in argv elements, env values, keyword arguments and transforms', () => {
    const step = new ShellCommand({
      name: 's',
      command: ['echo', interpolate('%(kw:k)s', { k: interpolate('%(nope:x)s') })],
      env: { A: transform(interpolate('%(prop:a:?only)s'), (v) => v) },
    });
    expect(issuesOf(() => compileConfig(twoSteps(step)))).toEqual([
      { path: 'builders[0].factory.steps[1].command[1]', message: expect.stringMatching(/unknown source "nope"/) as string },
      { path: 'builders[0].factory.steps[1].env.A', message: expect.stringMatching(/ternary/) as string },
    ]);
  });

  it('accepts every form it knows', () => {
    const command = interpolate(
      'echo %(prop:a:-x)s %(prop:a:~x)s %(prop:a:+x)s %(prop:a:?|y|n)s %(prop:a:#?|y|n)s %(kw:k)s %(src::branch)s %(src:lib:revision)s %(worker:os)s %(secret:T)s %%',
      { k: renderer(() => 'v') },
    );
    expect(() => compileConfig(withStep(new ShellCommand({ name: 's', command })))).not.toThrow();
  });
});

describe('loadConfigFile', () => {
  const dir = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'tmp');
  const written: string[] = [];

  function writeConfig(source: string): string {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `unit-config-${randomBytes(6).toString('hex')}.ts`);
    fs.writeFileSync(file, source);
    written.push(file);
    return file;
  }

  afterAll(() => {
    for (const f of written) fs.rmSync(f, { force: true });
  });

  it('loads and compiles a config module that imports from "caliper"', async () => {
    const file = writeConfig(`import { defineConfig, BuildFactory, ShellCommand } from 'caliper';
export default defineConfig({
  agents: [{ name: 'a1', token: 'dev-token' }],
  builders: [{ name: 'hello', agents: ['a1'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'greet', command: 'echo hello' })) }],
});
`);
    const config = await loadConfigFile(file);
    expect(config.builders.map((b) => b.name)).toEqual(['hello']);
    expect(config.web.port).toBe(8010);
  });

  it('reports a missing file with its full path', async () => {
    const missing = path.join(dir, 'does-not-exist.config.ts');
    const error = await loadConfigFile(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([{ path: '', message: `config file not found: ${missing}` }]);
    expect((error as ConfigError).file).toBe(missing);
  });

  it('reports a module without a default export', async () => {
    const file = writeConfig(`import { defineConfig } from 'caliper';\nexport const config = defineConfig({ builders: [] });\n`);
    const error = await loadConfigFile(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([{ path: '', message: 'has no default export (export default defineConfig({...}))' }]);
  });

  it('reports a module that throws while loading', async () => {
    const file = writeConfig(`throw new Error('A1_TOKEN is not set');\n`);
    const error = await loadConfigFile(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]?.message).toMatch(/^cannot load: .*A1_TOKEN is not set/);
  });

  it('reports the config mistakes of a loaded module under its file name', async () => {
    const file = writeConfig(`import { defineConfig } from 'caliper';\nexport default defineConfig({ builders: [] });\n`);
    const error = await loadConfigFile(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).file).toBe(file);
    expect((error as ConfigError).issues).toEqual([{ path: 'builders', message: 'needs at least one builder' }]);
  });
});
