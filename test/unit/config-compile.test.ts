import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  agentLock,
  anyBranchScheduler,
  cronScheduler,
  BuildFactory,
  defineConfig,
  Git,
  gitPoller,
  masterLock,
  Results,
  SetPropertyFromCommand,
  ShellCommand,
  singleBranchScheduler,
  Trigger,
  triggerableScheduler,
  type CaliperConfig,
  type Step,
} from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { loadConfigFile } from '../../master/config/loader.ts';
import { ConfigError, type ConfigIssue } from '../../master/errors/index.ts';

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

/** A config whose only builder runs the given step. */
function withStep(step: Step): CaliperConfig {
  return { builders: [{ name: 'b', factory: new BuildFactory([step]) }] };
}

function issuesOf(run: () => unknown): ConfigIssue[] {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('expected a ConfigError, but the config compiled');
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

describe('compileConfig: changes', () => {
  it('accepts a Git step, a git poller and change schedulers, with their defaults', () => {
    const config = compileConfig({
      ...withStep(new Git({ repourl: 'https://example.org/app.git' })),
      changeSources: [gitPoller({ repourl: 'https://example.org/app.git' })],
      schedulers: [
        singleBranchScheduler({ name: 'main', builderNames: ['b'], branch: 'main' }),
        anyBranchScheduler({ name: 'any', builderNames: ['b'] }),
      ],
    });
    expect(config.changeSources).toEqual([
      { type: 'gitPoller', repourl: 'https://example.org/app.git', branches: ['main'], pollInterval: 60, project: '' },
    ]);
    expect(config.schedulers[0]).toMatchObject({ type: 'singleBranch', treeStableTimer: 0, properties: {} });
    expect(config.builders[0]?.steps[0]?.name).toBe('git');
  });

  it('names each bad option of a Git step, a git poller and a change scheduler', () => {
    const issues = issuesOf(() =>
      compileConfig({
        ...withStep(new Git({ repourl: '--upload-pack=evil', mode: 'fresh' as never, branch: 'a..b' })),
        changeSources: [gitPoller({ repourl: 'x', branches: ['ok', 'bad name'], pollInterval: 0 })],
        schedulers: [
          singleBranchScheduler({ name: 's', builderNames: ['b'], branch: '-x' }),
          anyBranchScheduler({ name: 'a', builderNames: ['nobody'], branchRegex: 'feature/(' }),
        ],
      }),
    );
    expect(issues.map((i) => i.path).sort()).toEqual(
      [
        'builders[0].factory.steps[0].branch',
        'builders[0].factory.steps[0].mode',
        'builders[0].factory.steps[0].repourl',
        'changeSources[0].branches[1]',
        'changeSources[0].pollInterval',
        'schedulers[0].branch',
        'schedulers[1].branchRegex',
        'schedulers[1].builderNames[0]',
      ].sort(),
    );
    expect(issues.find((i) => i.path === 'schedulers[1].branchRegex')?.message).toBe('must be a valid regular expression');
  });
});

describe('compileConfig: change sources', () => {
  it('refuses two pollers that would share a clone, and a poller named "..", with their paths', () => {
    const issues = issuesOf(() =>
      compileConfig({
        ...withStep(new ShellCommand({ name: 's', command: 'x' })),
        changeSources: [
          gitPoller({ repourl: 'https://a.example/app.git' }),
          gitPoller({ repourl: 'git@b.example:team/app' }),
          gitPoller({ repourl: 'x', name: '..' }),
        ],
      }),
    );
    expect(issues).toEqual([
      { path: 'changeSources[2].name', message: 'cannot be "." or ".." (it names the poller\'s folder)' },
      { path: 'changeSources', message: 'two change sources are named "app" (give each a distinct name)' },
    ]);
    expect(() =>
      compileConfig({
        ...withStep(new ShellCommand({ name: 's', command: 'x' })),
        changeSources: [
          gitPoller({ repourl: 'https://a.example/app.git' }),
          gitPoller({ repourl: 'git@b.example:team/app', name: 'app-b' }),
        ],
      }),
    ).not.toThrow();
  });
});

describe('compileConfig: cron schedulers', () => {
  it('accepts five- and six-field patterns with a time zone, and names a bad pattern or zone', () => {
    const builders = [{ name: 'b', factory: new BuildFactory([new ShellCommand({ name: 's', command: 'x' })]) }];
    expect(() =>
      compileConfig({
        builders,
        schedulers: [
          cronScheduler({ name: 'n', builderNames: ['b'], cron: '0 3 * * 1-5', timezone: 'Europe/Paris' }),
          cronScheduler({ name: 's', builderNames: ['b'], cron: '*/30 * * * * *' }),
        ],
      }),
    ).not.toThrow();
    const issues = issuesOf(() =>
      compileConfig({
        builders,
        schedulers: [
          cronScheduler({ name: 'n', builderNames: ['b'], cron: '0 25 * * *' }),
          cronScheduler({ name: 'z', builderNames: ['b'], cron: '0 3 * * *', timezone: 'Mars/Olympus' }),
        ],
      }),
    );
    expect(issues).toEqual([
      {
        path: 'schedulers[0].cron',
        message: 'must be a cron pattern (minute hour day-of-month month day-of-week, or seconds first): CronPattern: Invalid value for hour: 25',
      },
      { path: 'schedulers[1].timezone', message: 'must be an IANA time zone, such as "Europe/Paris" or "UTC"' },
    ]);
  });
});

describe('compileConfig: Trigger', () => {
  it('needs each scheduler a Trigger step names to be a triggerable scheduler', () => {
    const builders = [
      { name: 'parent', factory: new BuildFactory([new Trigger({ schedulerNames: ['tests', 'nightly', 'ghost'] })]) },
      { name: 'child', factory: new BuildFactory([new ShellCommand({ name: 's', command: 'x' })]) },
    ];
    const issues = issuesOf(() =>
      compileConfig({
        builders,
        schedulers: [
          triggerableScheduler({ name: 'tests', builderNames: ['child'] }),
          { type: 'periodic', name: 'nightly', builderNames: ['child'], periodicBuildTimer: 60 },
        ],
      }),
    );
    expect(issues).toEqual([
      {
        path: 'builders[0].factory.steps[0].schedulerNames[1]',
        message: 'no triggerable scheduler named "nightly" (triggerableScheduler({...}) in schedulers)',
      },
      {
        path: 'builders[0].factory.steps[0].schedulerNames[2]',
        message: 'no triggerable scheduler named "ghost" (triggerableScheduler({...}) in schedulers)',
      },
    ]);
  });
});

describe('compileConfig: Trigger cycles', () => {
  it('refuses builds that would wait for each other in a circle, and a schedulerNames that is not a list', () => {
    const trigger = (names: unknown, waitForFinish = true) => new Trigger({ schedulerNames: names as string[], waitForFinish });
    const issues = issuesOf(() =>
      compileConfig({
        builders: [
          { name: 'a', factory: new BuildFactory([trigger(['to-b'])]) },
          { name: 'b', factory: new BuildFactory([trigger(['to-a'])]) },
          { name: 'c', factory: new BuildFactory([trigger(['to-a'], false)]) },
          { name: 'd', factory: new BuildFactory([trigger('to-a')]) },
        ],
        schedulers: [
          triggerableScheduler({ name: 'to-a', builderNames: ['a'] }),
          triggerableScheduler({ name: 'to-b', builderNames: ['b'] }),
        ],
      }),
    );
    expect(issues).toEqual([
      {
        path: 'builders[0].factory.steps[0]',
        message: 'waits for builds that wait for a build of "a" again: they would wait for each other for ever',
      },
      {
        path: 'builders[1].factory.steps[0]',
        message: 'waits for builds that wait for a build of "b" again: they would wait for each other for ever',
      },
      { path: 'builders[3].factory.steps[0].schedulerNames', message: 'Invalid input: expected array, received string' },
    ]);
  });
});

describe('compileConfig: locks', () => {
  it('fills in lock defaults and names a missing lock, a duplicate and a bad access with their paths', () => {
    const ok = compileConfig({
      agents: [{ name: 'a1', token: 'a-token-123' }],
      locks: [masterLock({ name: 'deploy' }), agentLock({ name: 'heavy', maxCountForAgent: { a1: 2 } })],
      builders: [{ name: 'b', factory: new BuildFactory([new ShellCommand({ name: 's', command: 'x' })]), locks: [{ lock: 'deploy' }] }],
    });
    expect(ok.locks).toEqual([
      { type: 'master', name: 'deploy', maxCount: 1 },
      { type: 'agent', name: 'heavy', maxCount: 1, maxCountForAgent: { a1: 2 } },
    ]);
    expect(ok.builders[0]?.locks).toEqual([{ lock: 'deploy', access: 'counting' }]);
    const issues = issuesOf(() =>
      compileConfig({
        locks: [masterLock({ name: 'deploy' }), masterLock({ name: 'deploy', maxCount: 0 })],
        builders: [
          {
            name: 'b',
            factory: new BuildFactory([new ShellCommand({ name: 's', command: 'x' })]),
            locks: [{ lock: 'nope' }, { lock: 'deploy', access: 'shared' as never }],
          },
        ],
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'locks', message: 'lock "deploy" is defined twice' },
        { path: 'locks[1].maxCount', message: expect.any(String) as string },
        { path: 'builders[0].locks[0].lock', message: 'no lock named "nope" in locks' },
        { path: 'builders[0].locks[1].access', message: expect.any(String) as string },
      ]),
    );
    expect(issues).toHaveLength(4);
  });

  it('refuses a lock listed twice by a builder, and a maxCountForAgent for an agent that does not exist', () => {
    const issues = issuesOf(() =>
      compileConfig({
        agents: [{ name: 'constructor', token: 'a-token-123' }],
        locks: [agentLock({ name: 'heavy', maxCountForAgent: { ghost: 2 } })],
        builders: [
          {
            name: 'b',
            factory: new BuildFactory([new ShellCommand({ name: 's', command: 'x' })]),
            locks: [{ lock: 'heavy' }, { lock: 'heavy', access: 'exclusive' }],
          },
        ],
      }),
    );
    expect(issues).toEqual([
      { path: 'builders[0].locks', message: 'lock "heavy" is listed twice' },
      { path: 'locks[0].maxCountForAgent.ghost', message: 'no agent named "ghost" in agents' },
    ]);
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
