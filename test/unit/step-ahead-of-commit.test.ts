/**
 * A step's command goes out while the write that ends the step before (and stores this step's rows)
 * is still being committed: the agent runs it meanwhile. Its output waits for the rows and lands in
 * order; a write that fails stops the command and fails the build with the write's error, as when the
 * write came first. Held and failed on the real SQLite repositories under a real Build, by wrapping
 * BuildProgressRepo.endStep.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openBuildBench, type BuildBench } from '../helpers/build-fixture.ts';
import { FakeAgentConnection, stdout } from '../helpers/fake-agent.ts';
import { deferred } from './helpers.ts';
import { ShellCommand } from '../../steps/shell-command.ts';
import { Results } from '../../core/results.ts';

let bench: BuildBench;
beforeAll(async () => {
  bench = await openBuildBench();
});
afterAll(async () => {
  await bench.close();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Holds the first step end's write until `gate` resolves (then writes it), or fails it with `gate`'s rejection. */
function holdFirstStepEnd(gate: Promise<void>): { calls: number } {
  const seen = { calls: 0 };
  const progress = bench.repos.progress;
  const endStep = progress.endStep.bind(progress);
  vi.spyOn(progress, 'endStep').mockImplementation(async (...args) => {
    if (++seen.calls === 1) await gate;
    return endStep(...args);
  });
  return seen;
}

const twoSteps = () => [new ShellCommand({ name: 'first', command: 'first' }), new ShellCommand({ name: 'second', command: 'second' })];

describe('a step ahead of the commit that stores it', () => {
  it('the next command starts while the step end before it is held, and the build stores everything once it lands', async () => {
    const gate = deferred();
    const agent = new FakeAgentConnection();
    agent.on('second', { output: [stdout('one\n'), stdout('two\n')] });
    const f = await bench.fixture({ agent, steps: twoSteps() });
    const held = holdFirstStepEnd(gate.promise);
    const run = f.run();
    const second = await Promise.race([
      agent.whenStarted('second'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the second command waited for the first step end')), 2_000)),
    ]);
    expect(held.calls).toBe(1);
    // Its output waits for its log's row (the fake, like the agent, waits for each piece to be stored).
    await new Promise((r) => setTimeout(r, 20));
    expect(second.exit).toBeNull();
    const buildid = f.build.row?.id ?? -1;
    const stored = (await bench.repos.steps.query({}, { buildid })).rows;
    expect(stored.map((s) => [s.name, s.complete_at === null])).toEqual([['first', true]]);
    expect(f.events.filter((e) => e.startsWith('step.'))).toEqual(['step.started 0 first']);
    gate.resolve();
    const row = await run;
    expect(row).toMatchObject({ results: Results.SUCCESS });
    expect((await f.steps()).map((s) => [s.name, s.results])).toEqual([
      ['first', Results.SUCCESS],
      ['second', Results.SUCCESS],
    ]);
    const log = await f.log('second', 'stdio');
    expect(log.bytes.toString()).toBe('one\ntwo\n');
    expect(log.row).toMatchObject({ complete: true, num_lines: 2 });
    // The events keep their order: the first step's end before the second's start.
    expect(f.events.filter((e) => e.startsWith('step.'))).toEqual([
      'step.started 0 first',
      'step.finished first success',
      'step.started 1 second',
      'step.finished second success',
    ]);
  });

  it('a step end that cannot be stored cancels the command already sent, and the build fails with the write’s error', async () => {
    const gate = deferred();
    const agent = new FakeAgentConnection();
    agent.on('second', { hang: true });
    const f = await bench.fixture({ agent, steps: twoSteps() });
    holdFirstStepEnd(gate.promise);
    const run = f.run();
    run.catch(() => {});
    await agent.whenStarted('second');
    gate.reject(new Error('the disk is full'));
    await expect(run).rejects.toThrow('the disk is full');
    // Nothing is left running on the agent when the build gives up.
    expect(agent.started.map((c) => [c.command, c.exit !== null])).toEqual([
      ['first', true],
      ['second', true],
    ]);
    expect(agent.started[1]?.cancelled).toBe(true);
  });
});
