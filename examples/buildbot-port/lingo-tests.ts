/**
 * The Lingo tests (the original's lingo_factory.py). Buildbot's GenerateStartMovieCommands listed
 * the `*.lingo` files of the checkout and added one step per file to the running build
 * (`addStepsAfterCurrentStep`). Caliper's builds run the steps their factory lists, so this step
 * lists the files and runs each test itself: each test gets its own log, its findings are counted
 * with the parser of the movie tests, and the step ends with the worst test's result.
 */
import { z } from 'zod';
import {
  BuildFactory,
  Results,
  Step,
  commonStepShape,
  worstResult,
  type CommonStepOptions,
  type Result,
  type StepContext,
  type StepOutcome,
} from 'caliper';
import { DEFAULT_ENV, WORKER_BINARY, checkout } from './build-factory.ts';
import { scummvmDiagnostics } from './director-test.ts';
import { downloadBinary } from './targets.ts';
import { settings } from './settings.ts';

export const LINGO_DIRECTORY = './engines/director/lingo/tests/';

export interface LingoTestsOptions extends CommonStepOptions {
  /** Where the `*.lingo` files are, relative to the checkout. */
  directory: string;
  gameId: string;
  debugflags?: string;
}

export class LingoTests extends Step<LingoTestsOptions> {
  readonly schema = z.strictObject({
    ...commonStepShape,
    directory: z.string().min(1),
    gameId: z.string().min(1),
    debugflags: z.string().optional(),
  });

  // A failed test fails the build, as a failed ShellCommand does.
  protected override readonly defaultFlags = {
    haltOnFailure: false,
    flunkOnFailure: true,
    warnOnFailure: false,
    flunkOnWarnings: false,
    warnOnWarnings: true,
  };

  async run(ctx: StepContext): Promise<StepOutcome> {
    const base = { workdir: 'build', env: DEFAULT_ENV, timeout: settings.timeout, maxTime: settings.maxTime };
    const listed = await ctx.runCommand({
      ...base,
      command: ['find', this.options.directory, '-name', '*.lingo', '-printf', '%P\\n'],
      collectStdout: true,
    });
    if (listed.lost) return { result: Results.RETRY, stateString: 'agent lost' };
    if (listed.killed === 'cancel') return { result: Results.CANCELLED, stateString: 'cancelled' };
    if (listed.error || listed.exitCode !== 0)
      return { result: Results.FAILURE, stateString: listed.error ?? `find: exit code ${listed.exitCode}` };
    const scripts = listed.stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .sort();

    let worst: Result = Results.SUCCESS;
    const failed: string[] = [];
    for (const script of scripts) {
      const argv = [`./${WORKER_BINARY}`, '-c', 'scummvm.conf', '-p', this.options.directory, `--start-movie=${script}`];
      if (this.options.debugflags) argv.push(`--debugflags=${this.options.debugflags}`);
      argv.push(this.options.gameId);
      const r = await ctx.runCommand({
        ...base,
        command: ['sh', '-c', 'exec "$@" 2>&1', 'scummvm', ...argv],
        logName: script,
        collectStdout: true,
      });
      if (r.lost) return { result: Results.RETRY, stateString: 'agent lost' };
      if (r.killed === 'cancel') return { result: Results.CANCELLED, stateString: 'cancelled' };
      const parsed = scummvmDiagnostics.parse(r.stdout);
      const errors = parsed.ok ? parsed.issues.filter((i) => i.severity === 'error').length : 0;
      const warnings = parsed.ok ? parsed.issues.length - errors : 0;
      let result: Result = Results.SUCCESS;
      if (r.error || r.killed || r.exitCode !== 0 || errors > 0) result = Results.FAILURE;
      else if (warnings > 0) result = Results.WARNINGS;
      if (result !== Results.SUCCESS) failed.push(script);
      worst = worstResult(worst, result);
      await ctx.setStateString(`${scripts.indexOf(script) + 1}/${scripts.length} tests run`);
    }
    const summary = await ctx.addLog('summary');
    await summary.append(
      `${scripts.length} tests, ${failed.length} with warnings or errors${failed.length ? `:\n${failed.join('\n')}` : ''}\n`,
    );
    return { result: worst, stateString: `${scripts.length} tests, ${failed.length} not clean` };
  }
}

/** The `lingotests D4` builder: the checkout (for the tests), the binary, then every test. */
export function lingoFactory(): BuildFactory {
  return new BuildFactory()
    .addStep(checkout())
    .addSteps(downloadBinary())
    .addStep(new LingoTests({ name: 'lingo tests', directory: LINGO_DIRECTORY, gameId: 'directortest', haltOnFailure: true }));
}
