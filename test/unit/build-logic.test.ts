/**
 * The build logic end to end, without processes: real steps compiled like a config, a real Build on
 * an in-memory SQLite database, commands acted out by FakeAgentConnection. Each test takes
 * milliseconds; the integration and fault suites cover the real agent and the wire.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openBuildBench, type BuildBench } from '../helpers/build-fixture.ts';
import { FakeAgentConnection, stderr, stdout } from '../helpers/fake-agent.ts';
import { Results, isResult, type Result } from '../../core/results.ts';
import { commonStepShape, Step, type CommonStepOptions, type StepOutcome } from '../../steps/step.ts';
import type { StepContext } from '../../steps/step-context.ts';
import { commandOutcome, ShellCommand, type ShellCommandOptions } from '../../steps/shell-command.ts';
import { SetPropertyFromCommand } from '../../steps/set-property-from-command.ts';
import { MeasureShellCommand } from '../../steps/measure-shell-command.ts';
import { Lint } from '../../steps/lint.ts';
import { interpolate } from '../../steps/properties/interpolate.ts';

interface ProbeOptions extends CommonStepOptions {
  /** What the step ends with when its command exits 0 (default SUCCESS). */
  outcome?: Result;
  /** Throw this instead of running. */
  throws?: string;
  /** Called with the context first: what the step saw. */
  sees?: (ctx: StepContext) => void;
  /** Called once the command was asked for, before it is awaited. */
  whileStarting?: () => void;
}

/** A custom step, as a user writes one: a log of its own, a state string, a command into a named log. */
class Probe extends Step<ProbeOptions> {
  readonly schema: z.ZodType = z.strictObject({
    ...commonStepShape,
    outcome: z.custom<Result>(isResult).optional(),
    throws: z.string().optional(),
    sees: z.custom((v) => typeof v === 'function').optional(),
    whileStarting: z.custom((v) => typeof v === 'function').optional(),
  });

  async run(ctx: StepContext): Promise<StepOutcome> {
    this.options.sees?.(ctx);
    if (this.options.throws !== undefined) throw new Error(this.options.throws);
    const notes = await ctx.addLog('notes');
    await notes.append(`probing on ${ctx.agentName}\n`);
    await ctx.setStateString('probing');
    const command = ctx.runCommand({ command: ['probe'], workdir: 'build', env: {}, timeout: 60, maxTime: null, logName: 'probe-output' });
    this.options.whileStarting?.();
    const r = await command;
    if (r.exitCode !== 0) return commandOutcome(r, {});
    return { result: this.options.outcome ?? Results.SUCCESS, stateString: 'probed' };
  }
}

const sh = (name: string, command: ShellCommandOptions['command'], more: Partial<ShellCommandOptions> = {}) =>
  new ShellCommand({ name, command, ...more });

let bench: BuildBench;
beforeAll(async () => {
  bench = await openBuildBench();
});
afterAll(async () => {
  await bench.close();
});

describe('results and flags', () => {
  it('a build whose steps all succeed is SUCCESS and completes its request', async () => {
    const f = await bench.fixture({ steps: [sh('compile', 'make'), sh('test', ['make', 'test'])] });
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.SUCCESS, state_string: 'build successful', number: 1, agent: 'fake-agent' });
    expect(row.complete_at).not.toBeNull();
    expect((await f.steps()).map((s) => [s.number, s.name, s.results, s.state_string])).toEqual([
      [0, 'compile', Results.SUCCESS, 'done'],
      [1, 'test', Results.SUCCESS, 'done'],
    ]);
    expect(await f.storedRequest()).toMatchObject({ complete: true, results: Results.SUCCESS, claimed_by_masterid: expect.any(Number) });
    expect(f.build.state).toBe('finished');
  });

  it('a failing step fails the build, names it, and the later steps still run', async () => {
    const agent = new FakeAgentConnection().on('make', { output: [stderr('error: x\n')], exit: 2 });
    const f = await bench.fixture({ agent, steps: [sh('compile', 'make'), sh('test', 'make test')] });
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.FAILURE, state_string: 'failed compile' });
    expect(await f.step('compile')).toMatchObject({ results: Results.FAILURE, state_string: 'exit code 2' });
    expect(agent.commands).toEqual(['make', 'make test']);
    expect(await f.storedRequest()).toMatchObject({ complete: true, results: Results.FAILURE });
  });

  it('the state string names the steps that made the result worse, not a second failure', async () => {
    const agent = new FakeAgentConnection().on(/^make/, { exit: 1 });
    const f = await bench.fixture({ agent, steps: [sh('compile', 'make'), sh('test', 'make test')] });
    expect(await f.run()).toMatchObject({ results: Results.FAILURE, state_string: 'failed compile' });
  });

  it('warnOnFailure without flunkOnFailure turns a failure into WARNINGS', async () => {
    const agent = new FakeAgentConnection().on('lint', { exit: 1 });
    const f = await bench.fixture({
      agent,
      steps: [sh('lint', 'lint', { warnOnFailure: true, flunkOnFailure: false }), sh('test', 'test')],
    });
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.WARNINGS, state_string: 'warnings lint' });
    expect(await f.step('lint')).toMatchObject({ results: Results.FAILURE });
  });

  it('decodeRC maps an exit code to WARNINGS, and codes not listed to FAILURE', async () => {
    const agent = new FakeAgentConnection().on('check', { exit: 1 }).on('check2', { exit: 3 });
    const decodeRC = { 0: Results.SUCCESS, 1: Results.WARNINGS };
    const f = await bench.fixture({ agent, steps: [sh('check', 'check', { decodeRC }), sh('check2', 'check2', { decodeRC })] });
    const row = await f.run();
    expect(await f.step('check')).toMatchObject({ results: Results.WARNINGS, state_string: 'exit code 1' });
    expect(await f.step('check2')).toMatchObject({ results: Results.FAILURE, state_string: 'exit code 3' });
    expect(row).toMatchObject({ results: Results.FAILURE, state_string: 'failed check check2' });
  });

  it('flunkOnFailure false: the step fails, the build does not', async () => {
    const agent = new FakeAgentConnection().on('optional', { exit: 1 });
    const f = await bench.fixture({ agent, steps: [sh('optional', 'optional', { flunkOnFailure: false })] });
    expect(await f.run()).toMatchObject({ results: Results.SUCCESS, state_string: 'build successful' });
    expect(await f.step('optional')).toMatchObject({ results: Results.FAILURE });
  });

  it('a custom step: its log, its state string, its command in a named log; flunkOnWarnings makes WARNINGS fail', async () => {
    const agent = new FakeAgentConnection().on(['probe'], { output: [stdout('probe says hi\n')] });
    const f = await bench.fixture({ agent, steps: [new Probe({ name: 'probe', outcome: Results.WARNINGS, flunkOnWarnings: true })] });
    expect(await f.run()).toMatchObject({ results: Results.FAILURE, state_string: 'failed probe' });
    expect(await f.step('probe')).toMatchObject({ results: Results.WARNINGS, state_string: 'probed' });
    expect((await f.log('probe', 'notes')).bytes.toString()).toBe('probing on fake-agent\n');
    expect((await f.log('probe', 'probe-output')).bytes.toString()).toBe('probe says hi\n');
    expect(agent.started[0]?.spec).toEqual({ argv: ['probe'], workdir: 'wd/build', env: {}, timeout: 60, maxTime: null });
  });
});

describe('haltOnFailure, alwaysRun, doStepIf', () => {
  it('haltOnFailure stops the build: later steps are not started nor stored', async () => {
    const agent = new FakeAgentConnection().on('configure', { exit: 1 });
    const f = await bench.fixture({ agent, steps: [sh('configure', 'configure', { haltOnFailure: true }), sh('compile', 'make')] });
    expect(await f.run()).toMatchObject({ results: Results.FAILURE, state_string: 'failed configure' });
    expect(agent.commands).toEqual(['configure']);
    expect((await f.steps()).map((s) => s.name)).toEqual(['configure']);
  });

  it('an alwaysRun step still runs after a halt, and its result counts', async () => {
    const agent = new FakeAgentConnection().on('configure', { exit: 1 });
    const f = await bench.fixture({
      agent,
      steps: [
        sh('configure', 'configure', { haltOnFailure: true }),
        sh('compile', 'make'),
        sh('cleanup', 'rm -rf out', { alwaysRun: true }),
      ],
    });
    expect(await f.run()).toMatchObject({ results: Results.FAILURE });
    expect(agent.commands).toEqual(['configure', 'rm -rf out']);
    expect((await f.steps()).map((s) => [s.number, s.name, s.results])).toEqual([
      [0, 'configure', Results.FAILURE],
      [1, 'cleanup', Results.SUCCESS],
    ]);
  });

  it('doStepIf false: the step is SKIPPED without a command, and SKIPPED does not change the result', async () => {
    const f = await bench.fixture({ steps: [sh('compile', 'make'), sh('deploy', 'deploy', { doStepIf: false })] });
    expect(await f.run()).toMatchObject({ results: Results.SUCCESS, state_string: 'build successful' });
    expect(await f.step('deploy')).toMatchObject({ results: Results.SKIPPED, state_string: 'skipped' });
    expect(f.agent.commands).toEqual(['make']);
    expect(f.events).toContain('step.finished deploy skipped');
  });

  it('a doStepIf function reads the build properties', async () => {
    const steps = () => [sh('deploy', 'deploy', { doStepIf: (p) => p.get('branch') === 'main' })];
    const onMain = await bench.fixture({ steps: steps(), properties: { branch: 'main' } });
    const onDev = await bench.fixture({ steps: steps(), properties: { branch: 'dev' } });
    await onMain.run();
    await onDev.run();
    expect(onMain.agent.commands).toEqual(['deploy']);
    expect(await onMain.step('deploy')).toMatchObject({ results: Results.SUCCESS });
    expect(onDev.agent.commands).toEqual([]);
    expect(await onDev.step('deploy')).toMatchObject({ results: Results.SKIPPED });
  });
});

describe('kills, stop, lost agents, errors', () => {
  it("sends a step's sigtermTime with its command, and nothing when it has none (an older agent parses it)", async () => {
    const agent = new FakeAgentConnection();
    const f = await bench.fixture({ agent, steps: [sh('slow', 'stop-me', { sigtermTime: 1 }), sh('plain', 'true')] });
    expect(await f.run()).toMatchObject({ results: Results.SUCCESS });
    expect(agent.started[0]?.spec.sigtermTime).toBe(1);
    expect(agent.started[1]?.spec).not.toHaveProperty('sigtermTime');
  });

  it('a command killed for silence fails the step with the timeout it had', async () => {
    const agent = new FakeAgentConnection().on('make', { output: [stdout('building...\n')], killed: 'timeout' });
    const f = await bench.fixture({ agent, steps: [sh('compile', 'make', { timeout: 5 })] });
    expect(await f.run()).toMatchObject({ results: Results.FAILURE, state_string: 'failed compile' });
    expect(await f.step('compile')).toMatchObject({ results: Results.FAILURE, state_string: 'killed: no output for 5s' });
    expect(agent.started[0]?.spec.timeout).toBe(5);
    expect((await f.log('compile', 'stdio')).bytes.toString()).toBe('building...\n');
  });

  it('a command killed for running too long fails the step with its maxTime', async () => {
    const agent = new FakeAgentConnection().on('soak', { killed: 'maxTime' });
    const f = await bench.fixture({ agent, steps: [sh('soak', 'soak', { maxTime: 30 })] });
    expect(await f.run()).toMatchObject({ results: Results.FAILURE });
    expect(await f.step('soak')).toMatchObject({ state_string: 'killed: ran longer than 30s' });
    expect(agent.started[0]?.spec).toMatchObject({ maxTime: 30, timeout: 1200 });
  });

  it('a command ended by a signal fails the step and names the signal', async () => {
    const agent = new FakeAgentConnection().on('crash', { signal: 'SIGSEGV' });
    const f = await bench.fixture({ agent, steps: [sh('crash', 'crash')] });
    expect(await f.run()).toMatchObject({ results: Results.FAILURE });
    expect(await f.step('crash')).toMatchObject({ results: Results.FAILURE, state_string: 'killed by SIGSEGV' });
  });

  it('stop() while a command hangs cancels it: CANCELLED, later steps skipped, alwaysRun steps still run', async () => {
    const agent = new FakeAgentConnection().on('sleep 100', { output: [stdout('waiting\n')], hang: true });
    const f = await bench.fixture({
      agent,
      steps: [sh('setup', 'setup'), sh('wait', 'sleep 100'), sh('after', 'after'), sh('cleanup', 'cleanup', { alwaysRun: true })],
    });
    const running = f.run();
    const hanging = await agent.whenStarted('sleep 100');
    f.build.stop('stopped by a user');
    const row = await running;
    expect(row).toMatchObject({ results: Results.CANCELLED, state_string: 'cancelled: stopped by a user' });
    expect(hanging).toMatchObject({ cancelled: true, exit: { killed: 'cancel', code: null } });
    expect(agent.commands).toEqual(['setup', 'sleep 100', 'cleanup']);
    expect((await f.steps()).map((s) => [s.name, s.results, s.state_string])).toEqual([
      ['setup', Results.SUCCESS, 'done'],
      ['wait', Results.CANCELLED, 'cancelled'],
      ['cleanup', Results.SUCCESS, 'done'],
    ]);
    expect((await f.log('wait', 'stdio')).bytes.toString()).toBe('waiting\n');
    expect(await f.storedRequest()).toMatchObject({ complete: true, results: Results.CANCELLED });
    expect(f.build.state).toBe('finished');
  });

  it('stop() before run(): nothing but alwaysRun steps runs, and the build is CANCELLED', async () => {
    const f = await bench.fixture({ steps: [sh('compile', 'make'), sh('cleanup', 'cleanup', { alwaysRun: true })] });
    f.build.stop('superseded');
    expect(await f.run()).toMatchObject({ results: Results.CANCELLED, state_string: 'cancelled: superseded' });
    expect(f.agent.commands).toEqual(['cleanup']);
    expect(await f.storedRequest()).toMatchObject({ complete: true, results: Results.CANCELLED });
  });

  it('an alwaysRun step after a stop gets a signal of its own, not the aborted one', async () => {
    let cleanupSignal: AbortSignal | null = null;
    const agent = new FakeAgentConnection().on('sleep 100', { hang: true });
    const f = await bench.fixture({
      agent,
      steps: [sh('wait', 'sleep 100'), new Probe({ name: 'cleanup', alwaysRun: true, sees: (ctx) => (cleanupSignal = ctx.signal) })],
    });
    const running = f.run();
    await agent.whenStarted('sleep 100');
    f.build.stop('enough');
    await running;
    expect(cleanupSignal).not.toBeNull();
    expect(cleanupSignal).toMatchObject({ aborted: false });
    expect(await f.step('cleanup')).toMatchObject({ results: Results.SUCCESS });
  });

  // Was a defect: StepRuntime.runCommand checked the signal, then awaited the log's creation, then starts the
  // command and only then listens for 'abort'. A stop() in that await is missed: the command runs
  // to its end (or its timeout) in a build already stopped. It should not start, or be cancelled.
  it('stop() while a command is being started cancels it', async () => {
    let stop = () => {};
    const f = await bench.fixture({ steps: [new Probe({ name: 'probe', whileStarting: () => stop() })] });
    stop = () => f.build.stop('stopped at once');
    expect(await f.run()).toMatchObject({ results: Results.CANCELLED });
    expect(f.agent.started.filter((c) => !c.cancelled)).toEqual([]);
    expect(await f.step('probe')).toMatchObject({ results: Results.CANCELLED });
  });

  // Was a defect: stop() on a build already stopping returned at once, and an alwaysRun step after a stop runs
  // on a signal of its own, so nothing can end a cleanup step that hangs (Buildbot's stopBuild
  // interrupts the current step again). A second stop() should cancel the running alwaysRun command.
  it('a second stop() cancels an alwaysRun step that runs after the first', async () => {
    const agent = new FakeAgentConnection().on('sleep 100', { hang: true }).on('cleanup', { delayMs: 20 });
    const f = await bench.fixture({ agent, steps: [sh('wait', 'sleep 100'), sh('cleanup', 'cleanup', { alwaysRun: true })] });
    const running = f.run();
    await agent.whenStarted('sleep 100');
    f.build.stop('first');
    const cleanup = await agent.whenStarted('cleanup');
    f.build.stop('second');
    expect(await running).toMatchObject({ results: Results.CANCELLED });
    expect(cleanup).toMatchObject({ cancelled: true, exit: { killed: 'cancel' } });
  });

  it('a lost agent ends the build RETRY and releases the request; the next try builds it', async () => {
    const agent = new FakeAgentConnection().on('make', { output: [stdout('half')], lost: true }, { exit: 0 });
    const f = await bench.fixture({ agent, steps: [sh('compile', 'make'), sh('test', 'make test')] });
    const first = await f.run();
    expect(first).toMatchObject({ results: Results.RETRY, state_string: 'retry: agent lost', number: 1 });
    expect(await f.step('compile')).toMatchObject({ results: Results.RETRY, state_string: 'agent lost' });
    expect(agent.commands).toEqual(['make']);
    expect(await f.storedRequest()).toMatchObject({ complete: false, results: null, claimed_by_masterid: null, claimed_at: null });
    expect(f.events.filter((e) => e.startsWith('buildrequest.complete'))).toEqual([]);

    await f.retry();
    const second = await f.run();
    expect(second).toMatchObject({ results: Results.SUCCESS, number: 2, buildrequestid: f.request.id });
    expect(agent.commands).toEqual(['make', 'make', 'make test']);
    expect(await f.storedRequest()).toMatchObject({ complete: true, results: Results.SUCCESS });
  });

  it('a command the agent cannot run fails the step with the error, also written to err.text', async () => {
    const agent = new FakeAgentConnection().on(['nosuch'], { error: 'spawn nosuch ENOENT' });
    const f = await bench.fixture({ agent, steps: [sh('compile', ['nosuch']), sh('test', 'test')] });
    expect(await f.run()).toMatchObject({ results: Results.FAILURE, state_string: 'failed compile' });
    expect(await f.step('compile')).toMatchObject({ results: Results.FAILURE, state_string: 'spawn nosuch ENOENT' });
    const err = await f.log('compile', 'err.text');
    expect(err.chunks).toEqual([{ stream: 'h', content: Buffer.from('spawn nosuch ENOENT\n') }]);
    expect(agent.commands).toEqual(['nosuch', 'test']);
  });

  it('a step that throws is EXCEPTION with its stack in err.text; it halts all but alwaysRun steps', async () => {
    const f = await bench.fixture({
      steps: [new Probe({ name: 'boom', throws: 'kaput' }), sh('after', 'after'), sh('cleanup', 'cleanup', { alwaysRun: true })],
    });
    expect(await f.run()).toMatchObject({ results: Results.EXCEPTION, state_string: 'exception boom' });
    expect(await f.step('boom')).toMatchObject({ results: Results.EXCEPTION, state_string: 'exception: kaput' });
    const err = (await f.log('boom', 'err.text')).bytes.toString();
    expect(err).toMatch(/^Error: kaput\n\s+at /);
    expect(f.agent.commands).toEqual(['cleanup']);
    expect(await f.storedRequest()).toMatchObject({ complete: true, results: Results.EXCEPTION });
  });

  it('a command rendering a property that is not set is an EXCEPTION that names it', async () => {
    const f = await bench.fixture({ steps: [sh('deploy', interpolate('deploy %(prop:target)s'))] });
    expect(await f.run()).toMatchObject({ results: Results.EXCEPTION });
    const step = await f.step('deploy');
    expect(step.state_string).toMatch(/^exception: interpolate: property "target" is not set/);
    expect(f.agent.commands).toEqual([]);
  });
});

describe('properties', () => {
  it('the build starts with the builder, request and master properties, and stores them', async () => {
    const f = await bench.fixture({ steps: [sh('compile', 'make')], builderProperties: { os: 'linux' }, properties: { branch: 'main' } });
    await f.run();
    expect(await f.properties()).toMatchObject({
      os: ['linux', 'Builder'],
      branch: ['main', 'Scheduler'],
      buildername: [f.builder.name, 'Builder'],
      agentname: ['fake-agent', 'Agent'],
      reason: ['unit test', 'Scheduler'],
      buildnumber: [1, 'Build'],
    });
  });

  it('SetPropertyFromCommand sets a property that later commands render, in argv, shell and env', async () => {
    const agent = new FakeAgentConnection().on(['git', 'rev-parse', 'HEAD'], { output: [stdout('abc123\n')] });
    const f = await bench.fixture({
      agent,
      steps: [
        new SetPropertyFromCommand({ name: 'rev', command: ['git', 'rev-parse', 'HEAD'], property: 'revision' }),
        sh('deploy', interpolate('deploy %(prop:revision)s'), { env: { REV: interpolate('%(prop:revision)s') }, workdir: 'out' }),
      ],
    });
    expect(await f.run()).toMatchObject({ results: Results.SUCCESS });
    expect(await f.step('rev')).toMatchObject({ state_string: 'set revision' });
    expect(agent.started[1]?.spec).toEqual({
      shell: 'deploy abc123',
      workdir: 'wd/out',
      env: { REV: 'abc123' },
      timeout: 1200,
      maxTime: null,
    });
    expect((await f.properties()).revision).toEqual(['abc123', 'rev']);
  });

  it('SetPropertyFromCommand sets nothing when its command fails; a default fills in', async () => {
    const agent = new FakeAgentConnection().on('describe', { output: [stdout('garbage')], exit: 128 });
    const f = await bench.fixture({
      agent,
      steps: [
        new SetPropertyFromCommand({ name: 'describe', command: 'describe', property: 'version', flunkOnFailure: false }),
        sh('package', interpolate('package %(prop:version:-unknown)s')),
      ],
    });
    expect(await f.run()).toMatchObject({ results: Results.SUCCESS });
    expect(await f.step('describe')).toMatchObject({ results: Results.FAILURE, state_string: 'exit code 128' });
    expect(agent.commands[1]).toBe('package unknown');
    expect(await f.properties()).not.toHaveProperty('version');
  });

  it('a secret renders into the command and is masked in the stored log, even split across chunks', async () => {
    const agent = new FakeAgentConnection().on(/^login/, { output: [stdout('token=hunt'), stdout('er2-secret ok\n')] });
    const f = await bench.fixture({
      agent,
      secrets: { token: 'hunter2-secret' },
      steps: [sh('login', interpolate('login %(secret:token)s'))],
    });
    expect(await f.run()).toMatchObject({ results: Results.SUCCESS });
    expect(agent.commands).toEqual(['login hunter2-secret']);
    expect((await f.log('login', 'stdio')).bytes.toString()).toBe('token=******** ok\n');
  });
});

describe('measuring steps', () => {
  it('MeasureShellCommand turns output into properties and metric points of the build', async () => {
    const agent = new FakeAgentConnection().on('sizes', { output: [stdout('binary=4096\n'), stdout('debug=12.5\n')] });
    const f = await bench.fixture({
      agent,
      steps: [new MeasureShellCommand({ name: 'sizes', command: 'sizes', keys: ['binary', 'debug'], unit: 'kB' })],
    });
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.SUCCESS });
    expect(await f.step('sizes')).toMatchObject({ state_string: 'binary=4096 kB, debug=12.5 kB' });
    expect(await f.properties()).toMatchObject({ binary: [4096, 'sizes'], debug: [12.5, 'sizes'] });
    const points = await bench.metrics.buildPoints(row.id, 0, Date.now() + 1000);
    expect(points.map((p) => [p.series, p.value, p.tags.builder, p.tags.step, p.buildNumber])).toEqual([
      ['binary', 4096, f.builder.name, 'sizes', 1],
      ['debug', 12.5, f.builder.name, 'sizes', 1],
    ]);
  });

  it('MeasureShellCommand fails on output that is not numbers and says which line', async () => {
    const agent = new FakeAgentConnection().on('size', { output: [stdout('size: big\n')] });
    const f = await bench.fixture({ agent, steps: [new MeasureShellCommand({ name: 'size', command: 'size' })] });
    expect(await f.run()).toMatchObject({ results: Results.FAILURE, state_string: 'failed size' });
    expect((await f.step('size')).state_string).toMatch(/^unparsable output: line 1 is not a number/);
    expect((await f.log('size', 'measure-error')).bytes.toString()).toMatch(/^line 1 /);
  });

  it('Lint counts findings, not the exit code: errors fail the step, counts become properties', async () => {
    const tsc = ["src/a.ts(3,5): error TS2322: Type 'x' is not assignable.\n", "src/b.ts(1,1): warning TS6133: 'y' is never read.\n"];
    const agent = new FakeAgentConnection().on('tsc', { output: tsc.map((l) => stdout(l)), exit: 2 });
    const f = await bench.fixture({ agent, steps: [new Lint({ name: 'types', command: 'tsc', format: 'tsc' })] });
    expect(await f.run()).toMatchObject({ results: Results.FAILURE, state_string: 'failed types' });
    expect(await f.step('types')).toMatchObject({ results: Results.FAILURE, state_string: '1 error, 1 warning' });
    expect(await f.properties()).toMatchObject({ types_errors: [1, 'types'], types_warnings: [1, 'types'] });
    expect((await f.log('types', 'issues')).bytes.toString()).toBe(
      "error: src/a.ts:3: TS2322: Type 'x' is not assignable.\nwarning: src/b.ts:1: TS6133: 'y' is never read.\n",
    );
  });
});

describe('events and logs', () => {
  it('publishes build and step events in order, with results', async () => {
    const agent = new FakeAgentConnection().on('test', { exit: 1 });
    const f = await bench.fixture({ agent, steps: [sh('compile', 'make'), sh('test', 'test')] });
    const row = await f.run();
    expect(f.events).toEqual([
      'build.started #1 on fake-agent',
      'step.started 0 compile',
      'step.finished compile success',
      'step.started 1 test',
      'step.finished test failure',
      'buildrequest.complete failure',
      'build.finished #1 failure',
    ]);
    expect(f.buildFinished).toEqual([
      { buildid: row.id, builderid: f.builderid, number: 1, results: Results.FAILURE, durationMs: expect.any(Number) },
    ]);
    expect(f.stepFinished.map((e) => [e.buildid, e.builderid, e.name, e.results])).toEqual([
      [row.id, f.builderid, 'compile', Results.SUCCESS],
      [row.id, f.builderid, 'test', Results.FAILURE],
    ]);
  });

  it('stores output byte-exact, in order, each chunk with its stream', async () => {
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x0a]);
    const agent = new FakeAgentConnection().on('dump', {
      output: [stdout(binary), stderr('warn: é\r\n'), stdout('no newline at the end')],
    });
    const f = await bench.fixture({ agent, steps: [sh('dump', 'dump')] });
    await f.run();
    const log = await f.log('dump', 'stdio');
    expect(log.chunks).toEqual([
      { stream: 'o', content: binary },
      { stream: 'e', content: Buffer.from('warn: é\r\n') },
      { stream: 'o', content: Buffer.from('no newline at the end') },
    ]);
    expect(log.row).toMatchObject({ type: 's', complete: true, num_lines: 2, num_bytes: log.bytes.length });
  });
});
