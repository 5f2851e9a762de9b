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
import type { BuildRequestRow, BuildRow, LogRow, StepRow } from '../db/entities.ts';
import type { AfterStep, BuildEnd, FirstLog, StartedStep, StepEnd } from '../db/build-progress.ts';
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
import { StepRuntime, STATE_STRING_MAX_CHARS, type StepRuntimeDeps } from './step-runtime.ts';
import { CommandPipeline, planAhead } from './command-ahead.ts';
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
  /** The properties' JSON text last masked, and the masked text: a step end that changed none masks nothing. */
  private maskedProps: { plain: string; masked: string } | null = null;

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

  /** The properties a build starts with: the builder's, the agent's, the request's, its matrix cell's, and the build's own. */
  private properties(): Properties {
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
    return props;
  }

  /**
   * Stores the build's row with its number and properties and, in the same transaction, its first
   * step's (not when builder properties must be rendered first: a failure there ends the build
   * before any step; nor when a stop came first). Through a database blink too; a try whose
   * answer was lost may have stored the build already.
   */
  private storeStart(props: Properties): Promise<BuildStart> {
    const { repos, now } = this.deps;
    const started = now();
    const firstStep = this.builder.steps[0];
    const first =
      firstStep && Object.keys(this.builder.renderableProperties).length === 0 && !this.abort.signal.aborted
        ? { number: 0, name: firstStep.name, started_at: started, log: firstLogOf(firstStep) }
        : null;
    return this.landWrite<BuildStart>(
      'store the build',
      () =>
        repos.progress.start(
          {
            builderid: this.builderid,
            buildrequestid: this.request.id,
            masterid: this.deps.masterid,
            agent: this.agent.name,
            started_at: started,
          },
          (number) => {
            props.set('buildnumber', number, 'Build');
            return this.maskedProperties(props);
          },
          first,
        ),
      () => repos.progress.startLanded(this.request.id, this.deps.masterid, first),
    );
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
    const props = this.properties();
    const cell = parseStoredCell(this.request.matrix, `build request ${this.request.id}`);
    // What every step's runtime gets, made once for the build.
    const forSteps: StepsShare = {
      agent: withBuilderEnv(this.agent, this.builder.env ?? {}),
      metrics: withMatrixTags(this.deps.metrics, cell),
    };
    const { build: row, step: firstRow } = await this.storeStart(props);
    const started = row.started_at;
    const { steps } = this.builder;
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

    const progress: Progress = { result: unrendered === null ? Results.SUCCESS : Results.EXCEPTION, terminated: false, failedSteps: [] };
    // The rows of the step about to run (and of its first log), when the write before it (the build's
    // start, or the previous step's end) stores them; that write may still be landing.
    let coming: ComingStep | null = firstRow
      ? { firstLog: firstRow.log && firstLogOfRow(firstRow.log), landed: Promise.resolve(firstRow) }
      : null;
    let number = 0;
    let index = unrendered === null ? this.nextStep(-1, false) : -1;
    // Commands of the next steps, sent to the agent while a step runs (command-ahead.ts).
    const pipeline = new CommandPipeline();
    // A stop: the commands sent ahead go at once (the agent would start them as the running one exits).
    this.abort.signal.addEventListener('abort', () => pipeline.dropAll(), { once: true });
    while (index >= 0) {
      const step = steps[index];
      if (!step) break;
      const at = index;
      const ahead = pipeline.take(at);
      // Once the build is over or stopped nothing more goes ahead; its own steps run as they come.
      const plans =
        progress.terminated || this.abort.signal.aborted
          ? []
          : await planAhead(this.builder.steps, this.builder.dirname, at, pipeline.lastIndex(at), props);
      const commands: StepCommands = {
        ahead,
        sendAhead: (running, agent) => pipeline.send(plans, running, at, agent),
        dropAhead: () => pipeline.dropAll(),
      };
      // A step that fails the build (its rows could not be stored) leaves no command running ahead.
      const ran = await this.runStep(step, number++, row, props, coming, forSteps, commands).catch((e: unknown) => {
        ahead?.drop();
        pipeline.dropAll();
        throw e;
      });
      // It ran no command (or failed first): what was sent after its command is not for the steps after it.
      if (ahead && !ahead.adopted) {
        ahead.drop();
        pipeline.dropAll();
      }
      const applied = applyStepResult(step.flags(), ran.outcome.result, progress.result);
      if (applied.buildResult !== progress.result && ran.outcome.result !== Results.SUCCESS) progress.failedSteps.push(step.name);
      progress.result = applied.buildResult;
      progress.terminated ||= applied.terminate;
      index = this.nextStep(index, progress.terminated);
      if (index < 0) pipeline.dropAll(); // the next step's take() drops them when they are not its
      const nextStep = steps[index];
      // The step's end, its logs' close, and the next step's start or the build's end: one transaction.
      const after: AfterStep = nextStep
        ? {
            next: { number, name: nextStep.name, started_at: ran.end.complete_at, log: firstLogOf(nextStep) },
            properties: this.changedProperties(row, props),
          }
        : { finish: this.buildEnd(progress, null, props, ran.end.complete_at) };
      const landing = this.landWrite(
        nextStep ? 'finish the step' : 'finish the step and the build',
        () => repos.progress.endStep(row.id, ran.row.id, ran.end, ran.logs, after, ran.unused),
        () => repos.progress.endLanded(row.id, after),
      );
      // What the write stores is what the next step's properties are compared with.
      if ('next' in after && after.properties !== undefined) row.properties = after.properties;
      const stepEnded = landing.then((next) => {
        for (const log of ran.logs) log.complete = true;
        bus.publish('step.finished', {
          buildid: row.id,
          builderid: this.builderid,
          stepid: ran.row.id,
          name: step.name,
          results: ran.outcome.result,
          durationMs: ran.end.complete_at - ran.started,
        });
        return next;
      });
      if ('finish' in after) {
        await stepEnded;
        return this.ended(row, after.finish, started);
      }
      // The next step starts while this write lands (see runStep); it fails the build if the write does.
      const landed = stepEnded.then((next) => {
        if (!next) throw new Error(`step ${after.next.number} of build ${row.id} was not stored with the step before`);
        return next;
      });
      landed.catch(() => {}); // awaited by runStep
      coming = { firstLog: after.next.log ?? null, landed };
    }
    // No step ran (none left after a stop, a failed rendering, a builder without steps): the build's end alone.
    const end = this.buildEnd(progress, unrendered, props, now());
    await this.landWrite('finish the build', () => repos.builds.finish(row.id, end, end.request));
    return this.ended(row, end, started);
  }

  /** The build's stored end, told: its row brought up to date, the events published, the state finished. */
  private ended(row: BuildRow, end: BuildEnd, started: number): BuildRow {
    const { request, ...values } = end;
    Object.assign(row, values);
    if ('complete' in request) this.deps.bus.publish('buildrequest.complete', { buildrequestid: this.request.id, results: end.results });
    this.finish();
    this.deps.bus.publish('build.finished', {
      buildid: row.id,
      builderid: this.builderid,
      number: row.number,
      results: end.results,
      durationMs: end.complete_at - started,
    });
    return row;
  }

  /**
   * What the build's end stores: its result (CANCELLED once stopped), state string and properties,
   * and its request completed, or released for another try when the result is RETRY (the agent was lost).
   */
  private buildEnd(progress: Progress, unrendered: string | null, props: Properties, complete: number): BuildEnd {
    const result = this.stopReason !== null ? Results.CANCELLED : progress.result;
    const state = this.deps.masker.maskText(
      unrendered === null
        ? buildStateString(result, progress.failedSteps, { stopReason: this.stopReason, retryReason: 'agent lost' })
        : `exception: ${unrendered}`,
      STATE_STRING_MAX_CHARS,
    );
    return {
      results: result,
      complete_at: complete,
      state_string: state,
      properties: this.maskedProperties(props),
      request: result === Results.RETRY ? { release: this.request.id } : { complete: this.request.id },
    };
  }

  /** The build's properties as stored next, when a step changed them since the last write; else undefined. */
  private changedProperties(build: BuildRow, props: Properties): string | undefined {
    const properties = this.maskedProperties(props);
    return properties !== build.properties ? properties : undefined;
  }

  /**
   * The properties as stored: their JSON with secrets masked. Masking scans every name and value for
   * every secret, so it is done again only when the JSON differs from the last masked (most steps
   * set no property); comparing the JSON, not counting set() calls, also sees a value changed in place.
   */
  private maskedProperties(props: Properties): string {
    const values = props.toJSON();
    const plain = JSON.stringify(values);
    if (this.maskedProps?.plain !== plain) this.maskedProps = { plain, masked: this.deps.masker.maskJson(values) };
    return this.maskedProps.masked;
  }

  /** The first step after `after` that runs, or -1: once the build is terminated or stopped, only alwaysRun steps do. */
  private nextStep(after: number, terminated: boolean): number {
    const { steps } = this.builder;
    for (let i = after + 1; i < steps.length; i++) {
      if (!((terminated || this.abort.signal.aborted) && !steps[i]?.alwaysRun)) return i;
    }
    return -1;
  }

  /**
   * Runs one step, from its start (its row stored now unless `coming` brings it, with its first
   * log's when that was known) to the moment its logs' bytes are stored; what its end stores is
   * returned, for the build to write.
   */
  private async runStep(
    step: Step,
    number: number,
    build: BuildRow,
    props: Properties,
    coming: ComingStep | null,
    shared: StepsShare,
    commands: StepCommands,
  ): Promise<StepRun> {
    const { repos, bus, now } = this.deps;
    // The step runs without waiting for its rows when the write before stores them: its first
    // command goes out while that write is committed. Should the write fail, the step is stopped
    // and the build fails with the write's error, as it did when the write came first.
    const landed: Promise<StartedStep> = coming
      ? coming.landed
      : this.startStep(step, number, build, props).then((row) => ({ row, log: null }));
    if (!coming) await landed;
    landed.then(
      ({ row }) => bus.publish('step.started', { buildid: build.id, stepid: row.id, number, name: step.name }),
      () => {
        this.abort.abort();
        this.cleanupAbort?.abort();
      },
    );

    // An alwaysRun step after a stop still runs (as in Buildbot): it gets a signal of its own.
    if (this.abort.signal.aborted && step.alwaysRun) this.cleanupAbort = new AbortController();
    const signal = this.abort.signal.aborted && step.alwaysRun && this.cleanupAbort ? this.cleanupAbort.signal : this.abort.signal;
    const runtime = new StepRuntime(
      {
        repos,
        bus,
        agent: shared.agent,
        signal,
        builder: this.builder,
        buildNumber: build.number,
        buildid: build.id,
        builderid: this.builderid,
        buildrequestid: this.request.id,
        properties: props,
        triggerer: this.deps.triggerer,
        metrics: shared.metrics,
        logMaxBytes: this.deps.logMaxBytes,
        masker: this.deps.masker,
        masterBasedir: this.deps.masterBasedir,
        ...commands,
      },
      { name: step.name, firstLog: coming?.firstLog ?? null, landed },
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
    let logs: LogRow[] = [];
    try {
      logs = await runtime.finishLogs();
    } catch (e) {
      outcome = { result: Results.EXCEPTION, stateString: `storing logs failed: ${String(e)}` };
    }
    const hidden = await this.hideStep(step, outcome.result, props);
    const end: StepEnd = {
      results: outcome.result,
      complete_at: now(),
      // Masked, then cut: a step's state string can quote its command's output.
      state_string: this.deps.masker.maskText(
        step.describe({ ...outcome, stateString: outcome.stateString ?? resultName(outcome.result) ?? undefined }) ?? '',
        STATE_STRING_MAX_CHARS,
      ),
      hidden,
    };
    // The write that stored the step's rows has landed by now, or the build fails with its error.
    const { row: stepRow } = await landed;
    return { row: stepRow, outcome, started: stepRow.started_at ?? end.complete_at, end, logs, unused: runtime.unusedLog() };
  }

  /** A step's start written on its own (two writes): when no earlier write of the build could carry it. */
  private async startStep(step: Step, number: number, build: BuildRow, props: Properties): Promise<StepRow> {
    const { repos, now } = this.deps;
    const stepRow = await this.landWrite(
      'store the step',
      () => repos.steps.create({ buildid: build.id, number, name: step.name, started_at: now() }),
      () => repos.steps.ofBuild(build.id, number),
    );
    const properties = this.changedProperties(build, props);
    await this.landWrite('store the build state', () =>
      repos.builds.update(build.id, { state_string: `running ${step.name}`, properties }),
    );
    if (properties !== undefined) build.properties = properties;
    return stepRow;
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

/** A step's rows, written with the write before it (the build's start, or the previous step's end), which may still be landing. */
interface ComingStep {
  /** The log written with the step's row, when one is (Step.firstLog()). */
  firstLog: FirstLog | null;
  landed: Promise<StartedStep>;
}

/** The name and type of a log row written with its step's start. */
function firstLogOfRow(log: LogRow): FirstLog {
  return { name: log.name, type: log.type === 't' ? 't' : 's' };
}

/** A build's stored start: its row, and its first step's when it was written with it. */
interface BuildStart {
  build: BuildRow;
  step: StartedStep | null;
}

/** What every step of a build gets alike: the agent with the builder's env, the metrics with the matrix cell's tags. */
interface StepsShare {
  agent: AgentConnection;
  metrics: StepMetrics;
}

/** Where the build stands after the steps run so far. */
interface Progress {
  result: Result;
  /** A step ended it (haltOnFailure, EXCEPTION, RETRY, CANCELLED): only alwaysRun steps still run. */
  terminated: boolean;
  failedSteps: string[];
}

/** A step's part in the commands sent ahead (StepRuntimeDeps): its own, sent before it, and the next steps' to send with it. */
type StepCommands = Pick<StepRuntimeDeps, 'ahead' | 'sendAhead' | 'dropAhead'>;

/** A step that ran: its row, its outcome, and what its end stores (with its logs' close). */
interface StepRun {
  row: StepRow;
  outcome: StepOutcome;
  started: number;
  end: StepEnd;
  logs: LogRow[];
  /** The log written with the step's start that it never wrote to: removed with its end. */
  unused: number | null;
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
    ...(agent.startAfter
      ? { startAfter: (before, spec, sink) => agent.startAfter?.(before, { ...spec, env: { ...env, ...spec.env } }, sink) ?? null }
      : {}),
    transfer: (spec) => agent.transfer(spec),
  };
}

/** What the step says it writes first (Step.firstLog()); none from a step object that predates the method. */
function firstLogOf(step: Step): FirstLog | undefined {
  return typeof step.firstLog === 'function' ? step.firstLog() : undefined;
}
