/** Config checks of changes, change sources, cron and triggerable schedulers, Trigger steps and locks. */
import { describe, expect, it } from 'vitest';
import {
  agentLock,
  anyBranchScheduler,
  BuildFactory,
  cronScheduler,
  Git,
  gitPoller,
  masterLock,
  ShellCommand,
  singleBranchScheduler,
  Trigger,
  triggerableScheduler,
} from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { issuesOf, withStep } from './config-helpers.ts';

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
        message:
          'must be a cron pattern (minute hour day-of-month month day-of-week, or seconds first): CronPattern: Invalid value for hour: 25',
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
