/**
 * Runs one build of a claimed request on one agent, walking the builder's steps.
 *
 * States:  created -> running -> finished
 *                     running -> stopping -> finished      (stop() while running)
 * created: run() not called yet; a stop() now only records its reason, and run() then goes
 *   running -> stopping at once (only alwaysRun steps run).
 * running: run() stores the build (next number), then runs each step in order: a step is skipped
 *   once the build is terminated (haltOnFailure, EXCEPTION, RETRY, CANCELLED) unless it is alwaysRun.
 * stopping: the running command's process group is killed; the result will be CANCELLED.
 * finished: result, times and properties stored; the request completed, or released for another
 *   try when the result is RETRY (the agent was lost).
 * Transitions go through begin()/stop()/finish(), which check the state they leave: a second run()
 * throws InvalidStateError; a stop() when stopping or finished does nothing (it may race the end).
 */
import type { CompiledBuilder } from '../config/compile.ts';
import type { BuildRequestRow, BuildRow } from '../db/entities.ts';
import type { Repositories } from '../db/repositories.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../../core/logger.ts';
import type { AgentConnection, CommandSink, CommandSpec } from '../agents/agent-connection.ts';
import type { Step, StepOutcome } from '../../steps/step.ts';
import { applyStepResult, buildStateString, resultName, Results, type Result } from '../../core/results.ts';
import { parsePropertyValues, Properties, type PropertyValue } from '../../steps/properties/properties.ts';
import type { WorkerInfo } from '../../steps/properties/interpolate.ts';
import { errorMessage } from '../../core/error-message.ts';
import { InvalidStateError } from '../../core/errors/invalid-state-error.ts';
import { StepRuntime, STATE_STRING_MAX_CHARS } from './step-runtime.ts';
import { writeThroughOutage } from '../db/outage-write.ts';
import type { SecretMasker } from './secret-masker.ts';
import type { StepMetrics } from '../../metrics/step-metrics.ts';
import type { Triggerer } from './triggerer.ts';
import { secretsForBuild, SecretsWithheldError } from '../changes/pull-request.ts';
import { renderBuilderProperties } from './builder-properties.ts';
import { MATRIX_PROPERTY_SOURCE, parseStoredCell } from '../config/matrix.ts';
import { withMatrixTags } from './matrix-metrics.ts';

export const BuildStates = { created: 'created', running: 'running', stopping: 'stopping', finished: 'finished' } as const;
export type BuildState = (typeof BuildStates)[keyof typeof BuildStates];

export interface BuildDeps {
  repos: Repositories;
  secrets: Record<string, string>;
  masker: SecretMasker;
  metrics: StepMetrics;
  logMaxBytes: number;
  bus: EventBus;
  log: Logger;
  masterid: number;
  now: () => number;
  triggerer: Triggerer;
  /** The master's basedir, where MasterShellCommand runs (default the process's cwd). */
  masterBasedir?: string;
  /** Each configured agent's `properties`, set on the builds it runs (source 'Worker'). */
  agentProperties?: ReadonlyMap<string, Record<string, PropertyValue>>;
}

export class Build {
  private current: BuildState = BuildStates.created;
  private stored: BuildRow | null = null;
  /** Aborted by stop(): steps and the running command see it. */
  private readonly abort = new AbortController();
  /** The signal of the alwaysRun step running after a stop; a second stop() aborts it. */
  private cleanupAbort: AbortController | null = null;
  private readonly landWrite: LandWrite;
  private stopReason: string | null = null;

  constructor(
    private readonly deps: BuildDeps,
    private readonly builder: CompiledBuilder,
    private readonly builderid: number,
    private readonly request: BuildRequestRow,
    private readonly agent: AgentConnection,
    /** What %(worker:...)s renders: the agent's hello (os, version, labels) when the starter passes it. */
    private readonly worker: WorkerInfo = { name: agent.name },
  ) {
    this.landWrite = landWriteFactory(deps.log);
  }

  get state(): BuildState {
    return this.current;
  }

  /** The build's row once run() stored it (kept up to date with what run() writes); null before. */
  get row(): BuildRow | null {
    return this.stored;
  }

  /** Asks the build to stop: the running command's process group is killed, the build is CANCELLED. */
  stop(reason: string): void {
    switch (this.current) {
      case BuildStates.created:
        this.stopReason = reason;
        this.abort.abort();
        return;
      case BuildStates.running:
        this.stopReason = reason;
        this.current = BuildStates.stopping;
        this.abort.abort();
        return;
      case BuildStates.stopping:
        // Asked again (as Buildbot's stopBuild): the alwaysRun step running after the first stop is interrupted too.
        this.cleanupAbort?.abort();
        return;
      case BuildStates.finished:
        return; // raced the build's end: nothing left to stop
      default: {
        const never: never = this.current;
        throw new InvalidStateError('Build', String(never), 'stop');
      }
    }
  }

  /** created -> running (-> stopping at once when stop() came first). run() happens once. */
  private begin(): void {
    if (this.current !== BuildStates.created) throw new InvalidStateError('Build', this.current, 'run again');
    this.current = this.stopReason === null ? BuildStates.running : BuildStates.stopping;
  }

  /** running | stopping -> finished, once everything is stored. */
  private finish(): void {
    if (this.current !== BuildStates.running && this.current !== BuildStates.stopping)
      throw new InvalidStateError('Build', this.current, 'finish');
    this.current = BuildStates.finished;
  }

  async run(hooks: { onStarted?: (row: BuildRow) => void } = {}): Promise<BuildRow> {
    this.begin();
    const { repos, bus, now } = this.deps;
    const requested = parsePropertyValues(this.request.properties, `build request ${this.request.id}'s properties`);
    // Decided once, before any step runs: a pull request from a fork gets no secrets (pull-request.ts).
    const secrets = secretsForBuild(this.builder, { ...this.builder.properties, ...requested }, this.deps.secrets);
    const props = new Properties({}, secrets, this.worker);
    props.setAll(this.builder.properties, 'Builder');
    // After the builder's, before the request's: what a user asks for still wins over config defaults.
    props.setAll(this.deps.agentProperties?.get(this.agent.name) ?? {}, 'Worker');
    props.setAll(requested, 'Scheduler');
    // A matrix cell's axis values are what this build is: they win over a property of the same name.
    const cell = parseStoredCell(this.request.matrix, `build request ${this.request.id}`);
    props.setAll(cell ?? {}, MATRIX_PROPERTY_SOURCE);
    props.set('buildername', this.builder.name, 'Builder');
    props.set('agentname', this.agent.name, 'Agent');
    props.set('reason', this.request.reason, 'Scheduler');

    const started = now();
    // Through a database blink too; a try whose answer was lost may have stored the build already.
    const row = await this.landWrite(
      'store the build',
      () =>
        repos.builds.create({
          builderid: this.builderid,
          buildrequestid: this.request.id,
          masterid: this.deps.masterid,
          agent: this.agent.name,
          started_at: started,
          state_string: 'starting',
          properties: this.deps.masker.maskJson(props.toJSON()),
        }),
      () => repos.builds.runningOfRequest(this.request.id, this.deps.masterid),
    );
    this.stored = row;
    props.set('buildnumber', row.number, 'Build');
    // Builder properties given as interpolate(...)/renderer(fn), with all of the above; a failure ends the build before its steps.
    const unrendered = await renderBuilderProperties(this.builder.renderableProperties, props);
    hooks.onStarted?.(row);
    bus.publish('build.started', {
      buildid: row.id,
      builderid: this.builderid,
      number: row.number,
      agent: this.agent.name,
      buildrequestid: this.request.id,
      queuedMs: Math.max(0, started - this.request.submitted_at),
      ...(cell ? { matrix: cell } : {}),
    });

    let result: Result = unrendered === null ? Results.SUCCESS : Results.EXCEPTION;
    let terminated = false;
    const failedSteps: string[] = [];
    let number = 0;
    for (const step of unrendered === null ? this.builder.steps : []) {
      if ((terminated || this.abort.signal.aborted) && !step.alwaysRun) continue;
      const outcome = await this.runStep(step, number++, row, props);
      const applied = applyStepResult(step.flags(), outcome.result, result);
      if (applied.buildResult !== result && outcome.result !== Results.SUCCESS) failedSteps.push(step.name);
      result = applied.buildResult;
      terminated ||= applied.terminate;
    }
    if (this.stopReason !== null) result = Results.CANCELLED;

    const complete = now();
    const state = this.deps.masker.maskText(
      unrendered === null
        ? buildStateString(result, failedSteps, { stopReason: this.stopReason, retryReason: 'agent lost' })
        : `exception: ${unrendered}`,
      STATE_STRING_MAX_CHARS,
    );
    const properties = this.deps.masker.maskJson(props.toJSON());
    // The build's end and its request's (completed, or released for another try on RETRY) in one
    // transaction: one commit, and never a finished build whose request still looks claimed.
    const request = result === Results.RETRY ? ({ release: this.request.id } as const) : ({ complete: this.request.id } as const);
    await this.landWrite('finish the build', () =>
      repos.builds.finish(row.id, { results: result, complete_at: complete, state_string: state, properties }, request),
    );
    Object.assign(row, { results: result, complete_at: complete, state_string: state, properties });
    if (result !== Results.RETRY) bus.publish('buildrequest.complete', { buildrequestid: this.request.id, results: result });
    this.finish();
    bus.publish('build.finished', {
      buildid: row.id,
      builderid: this.builderid,
      number: row.number,
      results: result,
      durationMs: complete - started,
    });
    return row;
  }

  private async runStep(step: Step, number: number, build: BuildRow, props: Properties): Promise<StepOutcome> {
    const { repos, bus, now } = this.deps;
    const started = now();
    const stepRow = await this.landWrite(
      'store the step',
      () => repos.steps.create({ buildid: build.id, number, name: step.name, started_at: started }),
      () => repos.steps.ofBuild(build.id, number),
    );
    // The properties ride along when they changed (the first step: `buildnumber`, known only once the
    // build was stored): one write, where the step's end would otherwise make a second.
    const startProperties = this.deps.masker.maskJson(props.toJSON());
    const changed = startProperties !== build.properties ? { properties: startProperties } : {};
    await this.landWrite('store the build state', () =>
      repos.builds.update(build.id, { state_string: `running ${step.name}`, ...changed }),
    );
    build.properties = startProperties;
    bus.publish('step.started', { buildid: build.id, stepid: stepRow.id, number, name: step.name });

    // An alwaysRun step after a stop still runs (as in Buildbot): it gets a signal of its own.
    if (this.abort.signal.aborted && step.alwaysRun) this.cleanupAbort = new AbortController();
    const signal = this.abort.signal.aborted && step.alwaysRun && this.cleanupAbort ? this.cleanupAbort.signal : this.abort.signal;
    const runtime = new StepRuntime(
      {
        repos,
        bus,
        agent: withBuilderEnv(this.agent, this.builder.env ?? {}),
        signal,
        builder: this.builder,
        buildNumber: build.number,
        buildid: build.id,
        builderid: this.builderid,
        buildrequestid: this.request.id,
        properties: props,
        triggerer: this.deps.triggerer,
        metrics: withMatrixTags(this.deps.metrics, parseStoredCell(this.request.matrix, `build request ${this.request.id}`)),
        logMaxBytes: this.deps.logMaxBytes,
        masker: this.deps.masker,
        masterBasedir: this.deps.masterBasedir,
      },
      stepRow,
    );
    let outcome: StepOutcome;
    try {
      if (!(await step.shouldRun(props))) outcome = { result: Results.SKIPPED, stateString: 'skipped' };
      else outcome = await step.run(runtime);
    } catch (e) {
      this.deps.log.error('step raised an exception', { build: build.id, step: step.name, error: this.deps.masker.maskText(String(e)) });
      // Best effort: when the database is what failed, the error log cannot be written either.
      await runtime.writeErrorLog(e).catch(() => {});
      // Withheld secrets are the config's policy, not a fault: the step fails, saying why.
      outcome =
        e instanceof SecretsWithheldError
          ? { result: Results.FAILURE, stateString: e.message }
          : { result: Results.EXCEPTION, stateString: `exception: ${errorMessage(e)}` };
    }
    try {
      await runtime.finishLogs();
    } catch (e) {
      outcome = { result: Results.EXCEPTION, stateString: `storing logs failed: ${String(e)}` };
    }
    const hidden = await this.hideStep(step, outcome.result, props);
    const complete = now();
    const finished = {
      results: outcome.result,
      complete_at: complete,
      // Masked, then cut: a step's state string can quote its command's output.
      state_string: this.deps.masker.maskText(
        step.describe({ ...outcome, stateString: outcome.stateString ?? resultName(outcome.result) ?? undefined }) ?? '',
        STATE_STRING_MAX_CHARS,
      ),
      hidden,
    };
    await this.landWrite('finish the step', () => repos.steps.update(stepRow.id, finished));
    const properties = this.deps.masker.maskJson(props.toJSON());
    if (properties !== build.properties) {
      await this.landWrite('store the properties', () => repos.builds.update(build.id, { properties }));
      build.properties = properties;
    }
    bus.publish('step.finished', {
      buildid: build.id,
      builderid: this.builderid,
      stepid: stepRow.id,
      name: step.name,
      results: outcome.result,
      durationMs: complete - started,
    });
    return outcome;
  }

  /** hideStepIf, decided once the step ended; a function that throws leaves the step shown (and is logged). */
  private async hideStep(step: Step, result: Result, props: Properties): Promise<boolean> {
    try {
      return await step.hidden(result, props);
    } catch (e) {
      this.deps.log.warn('hideStepIf raised an exception; the step is shown', {
        step: step.name,
        error: this.deps.masker.maskText(String(e)),
      });
      return false;
    }
  }
}

/** A write of the build's own; `landed` finds what an earlier try left when its answer was lost. */
type LandWrite = <T>(what: string, write: () => Promise<T>, landed?: () => Promise<T | undefined>) => Promise<T>;

/**
 * The writes that start and end a step or build: retried through a database outage
 * (master/db/outage-write.ts), or a blink would end the build EXCEPTION, or leave it "running"; a
 * write the database refuses (a constraint, a bad query) fails at once.
 */
function landWriteFactory(log: Logger): LandWrite {
  return (what, write, landed) =>
    writeThroughOutage(write, {
      landed,
      onRetry: (e, attempt) => {
        if (attempt === 1) log.warn(`database unavailable; retrying to ${what}`, { error: String(e) });
      },
    });
}

/** The agent as a build's steps see it: the builder's `env` under every command's own (Buildbot's builder env). */
function withBuilderEnv(agent: AgentConnection, env: Record<string, string>): AgentConnection {
  if (Object.keys(env).length === 0) return agent;
  return {
    name: agent.name,
    start: (spec: CommandSpec, sink: CommandSink) => agent.start({ ...spec, env: { ...env, ...spec.env } }, sink),
    transfer: (spec) => agent.transfer(spec),
  };
}
