/** Config checks of dependent and nightly triggerable schedulers, and Buildbot's Nightly time fields. */
import { describe, expect, it } from 'vitest';
import {
  BuildFactory,
  ShellCommand,
  Trigger,
  cronScheduler,
  dependentScheduler,
  forceScheduler,
  nightlyTriggerableScheduler,
  periodicScheduler,
  triggerableScheduler,
} from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { cronPatternOf } from '../../master/scheduler/cron.ts';
import { issuesOf } from './config-helpers.ts';

const builders = [
  { name: 'a', factory: new BuildFactory([new Trigger({ schedulerNames: ['later'], waitForFinish: true })]) },
  { name: 'b', factory: new BuildFactory([new ShellCommand({ name: 's', command: 'true' })]) },
];

describe('dependentScheduler config', () => {
  it('accepts an upstream of any kind that requests builds itself, a dependent among them', () => {
    const config = compileConfig({
      builders,
      schedulers: [
        periodicScheduler({ name: 'hourly', builderNames: ['a'], periodicBuildTimer: 3600 }),
        dependentScheduler({ name: 'then', upstream: 'hourly', builderNames: ['b'] }),
        dependentScheduler({ name: 'and-then', upstream: 'then', builderNames: ['b'], properties: { x: 1 } }),
        nightlyTriggerableScheduler({ name: 'later', builderNames: ['b'], hour: 3 }),
      ],
    });
    expect(config.schedulers[2]).toEqual({
      type: 'dependent',
      name: 'and-then',
      upstream: 'then',
      builderNames: ['b'],
      properties: { x: 1 },
    });
  });

  it('names an upstream that does not exist, a force scheduler, and dependents in a circle', () => {
    const issues = issuesOf(() =>
      compileConfig({
        builders,
        schedulers: [
          forceScheduler({ name: 'force', builderNames: ['a'] }),
          dependentScheduler({ name: 'ghostly', upstream: 'ghost', builderNames: ['b'] }),
          dependentScheduler({ name: 'forced', upstream: 'force', builderNames: ['b'] }),
          dependentScheduler({ name: 'one', upstream: 'two', builderNames: ['b'] }),
          dependentScheduler({ name: 'two', upstream: 'one', builderNames: ['b'] }),
          dependentScheduler({ name: 'self', upstream: 'self', builderNames: ['b'] }),
          triggerableScheduler({ name: 'later', builderNames: ['b'] }),
        ],
      }),
    );
    expect(issues).toEqual([
      { path: 'schedulers[1].upstream', message: 'no scheduler named "ghost" in schedulers' },
      {
        path: 'schedulers[2].upstream',
        message: '"force" is a force scheduler: forced builds are not followed (name a scheduler that requests builds itself)',
      },
      {
        path: 'schedulers[3].upstream',
        message: '"one" would follow its own builds: dependent schedulers in a circle (one follows two follows one)',
      },
      {
        path: 'schedulers[4].upstream',
        message: '"two" would follow its own builds: dependent schedulers in a circle (two follows one follows two)',
      },
      {
        path: 'schedulers[5].upstream',
        message: '"self" would follow its own builds: dependent schedulers in a circle (self follows self)',
      },
    ]);
  });
});

describe("nightly schedulers' times", () => {
  it("reads Buildbot's Nightly fields: minute 0 and '*' by default, Monday as day 0", () => {
    expect(cronPatternOf({ hour: 3 })).toBe('0 3 * * *');
    expect(cronPatternOf({ minute: [0, 30], hour: '*/2', dayOfWeek: 0 })).toBe('0,30 */2 * * 1');
    expect(cronPatternOf({ dayOfWeek: [5, 6] })).toBe('0 * * * 6,0');
    expect(cronPatternOf({ dayOfWeek: '4,sun' })).toBe('0 * * * 5,sun');
    expect(cronPatternOf({ cron: '15 1 * * *', hour: 3 })).toBe('15 1 * * *');
  });

  it('accepts a nightly triggerable scheduler as a Trigger target, with cron or the fields', () => {
    const config = compileConfig({
      builders,
      schedulers: [nightlyTriggerableScheduler({ name: 'later', builderNames: ['b'], minute: 30, hour: 2, timezone: 'UTC' })],
    });
    expect(config.schedulers[0]).toMatchObject({ type: 'nightlyTriggerable', minute: 30, hour: 2, properties: {} });
  });

  it('refuses cron with the fields, neither, fields that make no pattern, and text with spaces', () => {
    const issues = issuesOf(() =>
      compileConfig({
        builders,
        schedulers: [
          nightlyTriggerableScheduler({ name: 'later', builderNames: ['b'], cron: '0 3 * * *', hour: 4 }),
          cronScheduler({ name: 'none', builderNames: ['b'] }),
          cronScheduler({ name: 'bad', builderNames: ['b'], hour: 25 }),
          cronScheduler({ name: 'spaced', builderNames: ['b'], hour: '1 2' }),
        ],
      }),
    );
    const messages = issues.map((i) => `${i.path}: ${i.message}`);
    expect(messages).toContain('schedulers[0].cron: give either cron or hour, not both');
    expect(messages).toContain(
      'schedulers[1].cron: is required: a cron pattern, or the times as minute, hour, dayOfMonth, month and dayOfWeek',
    );
    expect(messages.some((m) => m.startsWith('schedulers[2].hour: the times make the cron pattern "0 25 * * *"'))).toBe(true);
    expect(messages).toContain('schedulers[3].hour: must be cron text without spaces, such as "*", "1-5" or "0-59/15"');
  });
});
