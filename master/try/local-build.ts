/**
 * One build of a builder on this machine, for `caliper try`: the builder's steps in order with the
 * master's rules (core/results.ts `applyStepResult`: haltOnFailure, flunkOnFailure, warnOnFailure,
 * alwaysRun; doStepIf, hideStepIf and descriptionDone from the Step base), its properties, and its
 * steps' own result evaluation. What the master would store is printed (try-output.ts).
 *
 * States:  created -> running -> finished
 *                     running -> stopping -> finished      (stop() while running: Ctrl-C)
 * created: run() not called yet.
 * running: each step in order; once the build is terminated (haltOnFailure, EXCEPTION, CANCELLED),
 *   only alwaysRun steps run.
 * stopping: the running command's process group is killed; the result will be CANCELLED; alwaysRun
 *   steps still run.
 * finished: the summary is printed; run() returns the result.
 * Transitions go through begin()/stop()/finish(), which check the state they leave.
 */
import type { CompiledBuilder } from '../config/compile.ts';
import { SecretMasker } from '../build/secret-masker.ts';
import { applyStepResult, buildStateString, resultName, Results, type Result } from '../../core/results.ts';
import { errorMessage } from '../../core/error-message.ts';
import { InvalidStateError } from '../../core/errors/invalid-state-error.ts';
import { Properties, type PropertyValue } from '../../steps/properties/properties.ts';
import { MATRIX_PROPERTY_SOURCE, type MatrixCell } from '../config/matrix.ts';
import type { Step, StepOutcome } from '../../steps/step.ts';
import { LOCAL_AGENT_NAME, LocalStepContext } from './local-step-context.ts';
import type { Measured, StepSummary, TryOutput } from './try-output.ts';

export const LocalBuildStates = { created: 'created', running: 'running', stopping: 'stopping', finished: 'finished' } as const;
export type LocalBuildState = (typeof LocalBuildStates)[keyof typeof LocalBuildStates];

/** Where property values given on the command line come from (`--property k=v`), as a force's would. */
export const TRY_PROPERTY_SOURCE = 'caliper try';
const FIXED_SOURCES = new Set(['Builder', 'Worker', 'Agent', 'Build', TRY_PROPERTY_SOURCE]);

export interface LocalBuildOptions {
  builder: CompiledBuilder;
  /** The config's secrets, for `%(secret:NAME)s`; masked in everything printed. */
  secrets: Record<string, string>;
  /** `--property` values: over the builder's own, as a forced build's. */
  properties: Record<string, PropertyValue>;
  /** The base directory the commands run under. */
  workdir: string;
  /** The matrix cell to build (`--matrix`): its values are properties of source 'Matrix', as on the master. */
  matrix?: MatrixCell | null;
  output: TryOutput;
}

export interface LocalBuildResult {
  result: Result;
  stateString: string;
  steps: StepSummary[];
  measured: Measured[];
  properties: Properties;
}

export class LocalBuild {
  private current: LocalBuildState = LocalBuildStates.created;
  private readonly abort = new AbortController();
  /** The signal of the alwaysRun step running after a stop; a second stop() aborts it. */
  private cleanupAbort: AbortController | null = null;

  constructor(private readonly options: LocalBuildOptions) {}

  get state(): LocalBuildState {
    return this.current;
  }

  /** Ctrl-C: the running command's process group is killed and the build ends CANCELLED. */
  stop(): void {
    switch (this.current) {
      case LocalBuildStates.created:
      case LocalBuildStates.running:
        this.current = this.current === LocalBuildStates.running ? LocalBuildStates.stopping : this.current;
        this.abort.abort();
        return;
      case LocalBuildStates.stopping:
        this.cleanupAbort?.abort();
        return;
      case LocalBuildStates.finished:
        return;
      default: {
        const never: never = this.current;
        throw new InvalidStateError('LocalBuild', String(never), 'stop');
      }
    }
  }

  private begin(): void {
    if (this.current !== LocalBuildStates.created) throw new InvalidStateError('LocalBuild', this.current, 'run again');
    this.current = this.abort.signal.aborted ? LocalBuildStates.stopping : LocalBuildStates.running;
  }

  private finish(): void {
    if (this.current !== LocalBuildStates.running && this.current !== LocalBuildStates.stopping)
      throw new InvalidStateError('LocalBuild', this.current, 'finish');
    this.current = LocalBuildStates.finished;
  }

  async run(): Promise<LocalBuildResult> {
    this.begin();
    const { builder, output, secrets } = this.options;
    const masker = new SecretMasker(Object.values(secrets));
    const props = new Properties({}, secrets, { name: LOCAL_AGENT_NAME, os: process.platform });
    props.setAll(builder.properties, 'Builder');
    props.setAll(this.options.properties, TRY_PROPERTY_SOURCE);
    props.setAll(this.options.matrix ?? {}, MATRIX_PROPERTY_SOURCE);
    props.set('buildername', builder.name, 'Builder');
    props.set('agentname', LOCAL_AGENT_NAME, 'Agent');
    props.set('reason', 'caliper try', TRY_PROPERTY_SOURCE);
    props.set('buildnumber', 0, 'Build');

    output.buildStarted(builder.name, builder.steps.length, this.options.workdir);
    let result: Result = Results.SUCCESS;
    let terminated = false;
    const failed: string[] = [];
    const summaries: StepSummary[] = [];
    const measured: Measured[] = [];
    for (const [i, step] of builder.steps.entries()) {
      if ((terminated || this.abort.signal.aborted) && !step.alwaysRun) {
        output.stepSkipped(i + 1, builder.steps.length, step.name, this.abort.signal.aborted ? 'stopped' : 'the build halted');
        continue;
      }
      output.stepStarted(i + 1, builder.steps.length, step.name);
      const started = Date.now();
      const outcome = await this.runStep(step, props, masker, measured);
      const hidden = await step.hidden(outcome.result, props).catch(() => false);
      const stateString = masker.maskText(
        step.describe({ ...outcome, stateString: outcome.stateString ?? resultName(outcome.result) ?? undefined }) ?? '',
      );
      const summary: StepSummary = { name: step.name, result: outcome.result, stateString, durationMs: Date.now() - started, hidden };
      summaries.push(summary);
      output.stepFinished(summary);
      const applied = applyStepResult(step.flags(), outcome.result, result);
      if (applied.buildResult !== result && outcome.result !== Results.SUCCESS) failed.push(step.name);
      result = applied.buildResult;
      terminated ||= applied.terminate;
    }
    if (this.abort.signal.aborted) result = Results.CANCELLED;
    const stateString = buildStateString(result, failed);
    const setBySteps = Object.entries(props.toJSON())
      .filter(([, [, source]]) => !FIXED_SOURCES.has(source))
      .map(([name, [value, source]]): [string, string, string] => [masker.maskText(name), masker.maskJson(value), source]);
    output.summary(builder.name, result, stateString, summaries, measured, setBySteps);
    this.finish();
    return { result, stateString, steps: summaries, measured, properties: props };
  }

  private async runStep(step: Step, props: Properties, masker: SecretMasker, measured: Measured[]): Promise<StepOutcome> {
    if (this.abort.signal.aborted && step.alwaysRun) this.cleanupAbort = new AbortController();
    const signal = this.abort.signal.aborted && this.cleanupAbort ? this.cleanupAbort.signal : this.abort.signal;
    const ctx = new LocalStepContext({
      builder: this.options.builder,
      stepName: step.name,
      properties: props,
      signal,
      workdir: this.options.workdir,
      output: this.options.output,
      masker,
      measured,
    });
    try {
      if (!(await step.shouldRun(props))) return { result: Results.SKIPPED, stateString: 'skipped' };
      return await step.run(ctx);
    } catch (e) {
      this.options.output.write('err', `${masker.maskText(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
      return { result: Results.EXCEPTION, stateString: `exception: ${masker.maskText(errorMessage(e))}` };
    } finally {
      ctx.finish();
    }
  }
}
