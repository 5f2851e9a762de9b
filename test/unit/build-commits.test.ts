/**
 * What a trivial build costs the database, in commits: the build's start carries its first step, a
 * step's end carries its logs' close and the next step's start, and the last step's end carries the
 * build's end and its request's. A step whose first log is known (a plain command's `stdio`) has
 * that log's row written with its own start, and removed with its end when it never wrote to it.
 * Counted on the real SQLite driver under a real Build (steps on a FakeAgentConnection): a COMMIT,
 * or a write outside a transaction (its own commit).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBuildBench, type BuildBench } from '../helpers/build-fixture.ts';
import { countSqliteCommits, expectThreeStepsStored, sourceOf, threeTrueSteps, type CommitCounter } from '../helpers/sqlite-commits.ts';
import { FakeAgentConnection, stdout } from '../helpers/fake-agent.ts';
import { ShellCommand } from '../../steps/shell-command.ts';
import { Results } from '../../core/results.ts';
import type { BuildFixture } from '../helpers/build-fixture.ts';
import type { StepContext } from '../../steps/step-context.ts';

let bench: BuildBench;
let counter: CommitCounter;
beforeAll(async () => {
  bench = await openBuildBench();
  counter = countSqliteCommits(sourceOf(bench.repos));
});
afterAll(async () => {
  counter.restore();
  await bench.close();
});

describe('commits per build', () => {
  it('three silent steps: one commit to start (with the first step and its log), then one per step end (with the next step and its log)', async () => {
    const f = await bench.fixture({
      steps: threeTrueSteps(),
    });
    counter.reset();
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.SUCCESS, state_string: 'build successful' });
    expect(counter.count).toBe(1 + 3);
    // Everything the separate writes stored is there: the steps ended, their logs closed, the request completed.
    await expectThreeStepsStored(f);
    expect((await f.properties()).buildnumber).toEqual([row.number, 'Build']);
    expect(f.events).toEqual([
      `build.started #${row.number} on ${f.agent.name}`,
      'step.started 0 s1',
      'step.finished s1 success',
      'step.started 1 s2',
      'step.finished s2 success',
      'step.started 2 s3',
      'step.finished s3 success',
      'buildrequest.complete success',
      `build.finished #${row.number} success`,
    ]);
  });

  it('a step with output closes its log with its final line count, in the step end’s commit', async () => {
    const agent = new FakeAgentConnection();
    agent.on('talk', { output: [stdout('one\ntwo\n')] });
    const f = await bench.fixture({ agent, steps: [new ShellCommand({ name: 'talk', command: 'talk' })] });
    counter.reset();
    await f.run();
    // start (with the log), one chunk, the step's end with the build's
    expect(counter.count).toBe(3);
    const log = await f.log('talk', 'stdio');
    expect(log.row).toMatchObject({ complete: true, num_lines: 2 });
    expect(log.bytes.toString()).toBe('one\ntwo\n');
  });

  it('a skipped step keeps no log: the one written with its start is removed with its end', async () => {
    const steps = [
      new ShellCommand({ name: 's1', command: 'true' }),
      new ShellCommand({ name: 's2', command: 'true', doStepIf: false }),
      new ShellCommand({ name: 's3', command: 'true' }),
    ];
    const f = await bench.fixture({ steps });
    counter.reset();
    await f.run();
    expect(counter.count).toBe(1 + 3);
    expect((await f.steps()).map((s) => [s.name, s.results])).toEqual([
      ['s1', Results.SUCCESS],
      ['s2', Results.SKIPPED],
      ['s3', Results.SUCCESS],
    ]);
    expect(await logNames(f, 's1')).toEqual(['stdio']);
    expect(await logNames(f, 's2')).toEqual([]);
    expect(await logNames(f, 's3')).toEqual(['stdio']);
    expect(f.agent.started.map((c) => c.spec.shell)).toEqual(['true', 'true']);
  });

  it('a command that cannot be rendered: its err.text, and no empty stdio', async () => {
    const broken = new ShellCommand({
      name: 'broken',
      command: () => {
        throw new Error('no such property');
      },
    });
    const f = await bench.fixture({ steps: [broken] });
    await f.run();
    expect((await f.step('broken')).results).toBe(Results.EXCEPTION);
    expect(await logNames(f, 'broken')).toEqual(['err.text']);
  });

  it('a step with a run() of its own makes its logs itself, in its order', async () => {
    class Noted extends ShellCommand {
      override async run(ctx: StepContext) {
        await (await ctx.addLog('notes')).append('before\n');
        return super.run(ctx);
      }
    }
    const f = await bench.fixture({ steps: [new Noted({ name: 'noted', command: 'true' })] });
    counter.reset();
    await f.run();
    // start, the notes log, its line, the stdio log, the end
    expect(counter.count).toBe(5);
    expect(await logNames(f, 'noted')).toEqual(['notes', 'stdio']);
  });

  it('a first log announced wrongly (another type, a name of the same slug) gives way to the one the step makes', async () => {
    class Announced extends ShellCommand {
      constructor(
        name: string,
        private readonly announced: { name: string; type: 's' | 't' },
      ) {
        super({ name, command: 'true' });
      }
      override firstLog() {
        return this.announced;
      }
    }
    const steps = [new Announced('typed', { name: 'stdio', type: 't' }), new Announced('slugged', { name: 'STDIO', type: 's' })];
    const f = await bench.fixture({ steps });
    await f.run();
    for (const step of ['typed', 'slugged']) {
      expect((await f.step(step)).results).toBe(Results.SUCCESS);
      expect(await logNames(f, step)).toEqual(['stdio']);
      expect((await f.log(step, 'stdio')).row).toMatchObject({ type: 's', complete: true });
    }
  });
});

/** The names of a step's stored logs, in the order they were made. */
async function logNames(f: BuildFixture, step: string): Promise<string[]> {
  const { id } = await f.step(step);
  const rows: { name: string }[] = await sourceOf(bench.repos).query('SELECT "name" FROM "logs" WHERE "stepid" = ? ORDER BY "id"', [id]);
  return rows.map((r) => r.name);
}
