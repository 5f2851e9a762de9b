/**
 * What a trivial build costs the database, in commits: the build's start carries its first step, a
 * step's end carries its logs' close and the next step's start, and the last step's end carries the
 * build's end and its request's. Counted on the real SQLite driver under a real Build (steps on a
 * FakeAgentConnection): a COMMIT, or a write outside a transaction (its own commit).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBuildBench, type BuildBench } from '../helpers/build-fixture.ts';
import { countSqliteCommits, expectThreeStepsStored, sourceOf, threeTrueSteps, type CommitCounter } from '../helpers/sqlite-commits.ts';
import { FakeAgentConnection, stdout } from '../helpers/fake-agent.ts';
import { ShellCommand } from '../../steps/shell-command.ts';
import { Results } from '../../core/results.ts';

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
  it('three silent steps: one commit to start, then per step one for its log and one for its end', async () => {
    const f = await bench.fixture({
      steps: threeTrueSteps(),
    });
    counter.reset();
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.SUCCESS, state_string: 'build successful' });
    expect(counter.count).toBe(1 + 3 * 2);
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
    // start, log create, one chunk, the step's end with the build's
    expect(counter.count).toBe(4);
    const log = await f.log('talk', 'stdio');
    expect(log.row).toMatchObject({ complete: true, num_lines: 2 });
    expect(log.bytes.toString()).toBe('one\ntwo\n');
  });
});
