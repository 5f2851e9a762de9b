/**
 * The StepContext a running step gets: commands on the build's agent, logs, properties.
 *
 * States: running -> finishing -> finished
 * running: the step starts commands, adds and writes logs, sets its state string, captures data and
 *   triggers builds.
 * finishing: the build called finishLogs() (once, after the step's run ended): the bytes of every
 *   open log are being stored.
 * finished: every log's bytes stored (or failed to be); the build closes the logs with the step's end.
 * From finishing on, anything that would write (a command, a log, command output, data, a state
 * string, a trigger) is refused with InvalidStateError: a step that left work running finds out,
 * and nothing lands in a finished step. Reads (properties, regression, waitFor) work in any state.
 */
import type { CompiledBuilder } from '../config/compile.ts';
import type { LogRow } from '../db/entities.ts';
import type { FirstLog, StartedStep } from '../db/build-progress.ts';
import type { Repositories } from '../db/repositories.ts';
import type { EventBus } from '../events/event-bus.ts';
import path from 'node:path';
import type { AgentConnection, CommandSink, CommandSpec, RunningCommand } from '../agents/agent-connection.ts';
import type {
  CommandRequest,
  CommandResult,
  DownloadRequest,
  LogHandle,
  StepContext,
  TransferResult,
  TriggeredRequest,
  UploadRequest,
} from '../../steps/step-context.ts';
import { downloadToAgent, uploadFromAgent, type TransferDeps } from './file-transfer.ts';
import type { Triggerer } from './triggerer.ts';
import type { Properties } from '../../steps/properties/properties.ts';
import type { LogWriter, Stream } from './log-writer.ts';
import { writeThroughOutage } from '../db/outage-write.ts';
import type { SecretMasker } from './secret-masker.ts';
import type { StepMetrics } from '../../metrics/step-metrics.ts';
import type { CaptureOptions } from '../../metrics/capture-options.ts';
import { regressionScore, type Baseline } from '../../metrics/regression.ts';
import { InvalidStateError } from '../../core/errors/invalid-state-error.ts';
import { startOnMaster } from './master-process.ts';
import { StepResources } from './step-resources.ts';
import { StepLogs } from './step-logs.ts';
import type { CommandAhead } from './command-ahead.ts';

const MAX_COLLECTED_STDOUT = 16 * 1024 * 1024;
/** Under the master's basedir: each builder's folder for commands run on the master (MasterShellCommand). */
export const MASTER_WORKDIR = 'master-workdir';
/** A state string is a line in the UI: longer ones are cut (after masking, so no secret is cut in two). */
export const STATE_STRING_MAX_CHARS = 500;

/** What goes to the agent for a step's command request, `workdir` resolved (the same for a command sent ahead). */
export function commandSpec(request: CommandRequest, workdir: string): CommandSpec {
  return {
    ...(Array.isArray(request.command) ? { argv: request.command } : { shell: request.command }),
    workdir,
    env: request.env,
    timeout: request.timeout,
    maxTime: request.maxTime,
    ...(request.sigtermTime !== undefined ? { sigtermTime: request.sigtermTime } : {}),
  };
}

/** Where a step's command runs on the agent: its workdir under the builder's directory. */
export const agentWorkdir = (builder: Pick<CompiledBuilder, 'dirname'>, request: Pick<CommandRequest, 'workdir'>): string =>
  `${builder.dirname}/${request.workdir}`;

export const StepRuntimeStates = { running: 'running', finishing: 'finishing', finished: 'finished' } as const;
export type StepRuntimeState = (typeof StepRuntimeStates)[keyof typeof StepRuntimeStates];

export interface StepRuntimeDeps {
  repos: Repositories;
  bus: EventBus;
  agent: AgentConnection;
  signal: AbortSignal;
  builder: CompiledBuilder;
  buildNumber: number;
  buildid: number;
  builderid: number;
  buildrequestid: number;
  properties: Properties;
  triggerer: Triggerer;
  metrics: StepMetrics;
  logMaxBytes: number;
  masker: SecretMasker;
  /** The master's basedir (default the process's cwd): MasterShellCommand runs under `<basedir>/master-workdir/<builder>`. */
  masterBasedir?: string;
  /** This step's command, sent to the agent ahead while the steps before ran (command-ahead.ts): adopted if it is the one asked for. */
  ahead?: CommandAhead | null;
  /** Sends the next steps' commands ahead, after this step's first command on the agent. */
  sendAhead?: (running: RunningCommand, agent: AgentConnection) => void;
  /** Drops every command sent ahead: this step asked for another than the one sent for it. */
  dropAhead?: () => void;
}

/**
 * A step's rows as its runtime gets them. They are written with the previous step's end (or the
 * build's start), and the build hands them over before that write has landed: a command writing to
 * the log stored with them goes out at once, its output waiting for the row, so the agent runs it
 * while the master commits.
 */
export interface StepRows {
  name: string;
  /** The log stored with the step's start (Step.firstLog()), when one is. */
  firstLog: FirstLog | null;
  /** The rows once stored; rejects when they could not be (the build then fails with that error). */
  landed: Promise<StartedStep>;
}

export class StepRuntime implements StepContext {
  private current: StepRuntimeState = StepRuntimeStates.running;
  /** What the step's commands on the agent used, where the agent measured it (stored at the step's end). */
  private readonly used = new StepResources();
  private readonly logs: StepLogs;
  private startedOnAgent = false;

  constructor(
    private readonly deps: StepRuntimeDeps,
    private readonly step: StepRows,
  ) {
    this.logs = new StepLogs(deps, step.firstLog, step.landed);
  }

  get state(): StepRuntimeState {
    return this.current;
  }

  get builderName(): string {
    return this.deps.builder.name;
  }
  get buildNumber(): number {
    return this.deps.buildNumber;
  }
  get agentName(): string {
    return this.deps.agent.name;
  }
  get properties(): Properties {
    return this.deps.properties;
  }
  get signal(): AbortSignal {
    return this.deps.signal;
  }

  runCommand(request: CommandRequest): Promise<CommandResult> {
    return this.execute(request, agentWorkdir(this.deps.builder, request), (spec, sink) => this.startOnAgent(spec, sink));
  }

  /** The command sent ahead when it is this one, else a new one; then the next steps' commands, sent after it (once). */
  private startOnAgent(spec: CommandSpec, sink: CommandSink): RunningCommand {
    const { agent, signal, ahead } = this.deps;
    const first = !this.startedOnAgent;
    this.startedOnAgent = true;
    // Skipped or lost on the agent: so are the commands sent after it; they go, and this one starts now.
    const startAgain = () => {
      this.deps.dropAhead?.();
      return signal.aborted ? null : agent.start(spec, sink);
    };
    let running = first && ahead ? ahead.adopt(spec, sink, startAgain) : null;
    // Not the command sent for this step (it cannot be, when sent ahead only as rendered now): none sent ahead stands.
    if (first && ahead && !running) this.deps.dropAhead?.();
    running ??= agent.start(spec, sink);
    if (first) this.deps.sendAhead?.(running, agent);
    return running;
  }

  async runOnMaster(request: CommandRequest): Promise<CommandResult> {
    const base = path.resolve(this.deps.masterBasedir ?? process.cwd(), MASTER_WORKDIR, this.deps.builder.dirname);
    const workdir = path.resolve(base, request.workdir);
    // The step's schema refuses ".." already; a custom step's request is checked here, as the agent checks its own.
    if (path.relative(base, workdir).startsWith('..')) {
      const error = `workdir "${request.workdir}" leaves the builder's folder on the master`;
      return { exitCode: null, signal: null, killed: null, lost: false, durationMs: 0, stdout: '', error };
    }
    return this.execute(request, workdir, startOnMaster);
  }

  /** A command on the agent or the master: its output into the log (masked, within the limits), the header first. */
  private async execute(
    request: CommandRequest,
    workdir: string,
    start: (spec: CommandSpec, sink: CommandSink) => RunningCommand,
  ): Promise<CommandResult> {
    this.expectRunning('start a command');
    if (this.deps.signal.aborted) return { exitCode: null, signal: null, killed: 'cancel', lost: false, durationMs: 0, stdout: '' };
    const logName = request.logName ?? 'stdio';
    // The log stored with the step's start may still be landing: then the command goes out now, and
    // what it writes waits for the row (in order). A log of its own is created first, as before.
    const ahead = this.logs.comesWithStep(logName, 's');
    const opened = this.writer(logName, 's');
    if (!ahead) await opened;
    opened.catch(() => {}); // awaited below, once the command ended
    const write = (stream: Stream, data: Buffer) => opened.then((writer) => this.append(writer, stream, data));
    const header = request.header ? write('h', this.deps.masker.maskBuffer(Buffer.from(request.header))) : Promise.resolve();
    header.catch(() => {}); // awaited below
    const stdout: Buffer[] = [];
    let collected = 0;
    const masks = { stdout: this.deps.masker.stream(), stderr: this.deps.masker.stream() };
    const running = start(commandSpec(request, workdir), {
      output: (stream, data) => {
        if (request.collectStdout && stream === 'stdout' && collected < MAX_COLLECTED_STDOUT) {
          stdout.push(data);
          collected += data.length;
        }
        return write(stream === 'stdout' ? 'o' : 'e', masks[stream].push(data));
      },
    });
    const onAbort = () => running.cancel();
    // A stop that came while the log was being created has already fired: cancel at once.
    if (this.deps.signal.aborted) running.cancel();
    else this.deps.signal.addEventListener('abort', onAbort);
    try {
      const exit = await running.done;
      if (exit.resources) this.used.add(exit.resources);
      await header;
      for (const stream of ['stdout', 'stderr'] as const) await write(stream === 'stdout' ? 'o' : 'e', masks[stream].end());
      if (exit.error)
        await this.append(await this.writer('err.text', 't'), 'h', this.deps.masker.maskBuffer(Buffer.from(`${exit.error}\n`)));
      return {
        exitCode: exit.code,
        signal: exit.signal,
        killed: exit.killed,
        lost: exit.lost,
        durationMs: exit.durationMs,
        stdout: Buffer.concat(stdout).toString('utf8'), // unmasked: steps parse it; what they store is masked
        ...(exit.error ? { error: exit.error } : {}),
      };
    } finally {
      this.deps.signal.removeEventListener('abort', onAbort);
    }
  }

  async uploadFromAgent(request: UploadRequest): Promise<TransferResult> {
    this.expectRunning(`upload ${request.workersrc}`);
    return uploadFromAgent(await this.transferDeps(), request);
  }

  async downloadToAgent(request: DownloadRequest): Promise<TransferResult> {
    this.expectRunning(`download to ${request.workerdest}`);
    return downloadToAgent(await this.transferDeps(), request);
  }

  private async transferDeps(): Promise<TransferDeps> {
    return {
      agent: this.deps.agent,
      signal: this.deps.signal,
      builderDirname: this.deps.builder.dirname,
      masterBasedir: path.resolve(this.deps.masterBasedir ?? process.cwd()),
      buildid: this.deps.buildid,
      stepid: await this.logs.stepId(),
      artifacts: this.deps.repos.artifacts,
      // Header lines of the `stdio` log, masked as everything written there.
      note: async (text) => this.append(await this.writer('stdio', 's'), 'h', this.deps.masker.maskBuffer(Buffer.from(text))),
      now: () => Date.now(),
    };
  }

  async addLog(name: string): Promise<LogHandle> {
    this.expectRunning(`add log "${name}"`);
    const writer = await this.writer(name, 't');
    return {
      append: (text) => this.append(writer, 'o', this.deps.masker.maskBuffer(Buffer.from(text))),
      finish: async () => {
        this.expectRunning(`finish log "${name}"`);
        await writer.finish();
      },
    };
  }

  async setStateString(text: string): Promise<void> {
    this.expectRunning('set the state string');
    const masked = this.deps.masker.maskText(text, STATE_STRING_MAX_CHARS);
    const stepid = await this.logs.stepId();
    await writeThroughOutage(() => this.deps.repos.steps.update(stepid, { state_string: masked }));
  }

  async captureData(name: string, value: number, options: CaptureOptions = {}): Promise<void> {
    this.expectRunning(`capture "${name}"`);
    const tracking = this.deps.builder.metrics.find((t) => t.type === 'customStep' && t.step === this.step.name);
    const series = await this.maskedSeries(name);
    const tags: Record<string, string> = {
      builder: this.deps.builder.name,
      step: this.step.name,
      agent: this.deps.agent.name,
      ...options.tags,
      ...tracking?.tags,
    };
    await this.deps.metrics.capture(series, value, {
      ...options,
      // A tag name stays a valid name; a value is masked as text.
      tags: Object.fromEntries(Object.entries(tags).map(([k, v]) => [this.deps.masker.maskName(k), this.deps.masker.maskText(v)])),
      buildNumber: this.deps.buildNumber,
      buildid: this.deps.buildid,
    });
  }

  async regression(name: string, value: number): Promise<{ baseline: Baseline; score: number } | null> {
    const baseline = await this.deps.metrics.baseline(this.deps.masker.maskName(this.seriesName(name)), {
      builderid: this.deps.builderid,
      builder: this.deps.builder.name,
      step: this.step.name,
      beforeBuildId: this.deps.buildid,
    });
    return baseline ? { baseline, score: regressionScore(value, baseline) } : null;
  }

  async trigger(schedulerName: string, properties: Record<string, unknown>): Promise<TriggeredRequest[]> {
    this.expectRunning(`trigger "${schedulerName}"`);
    // The triggered builds build the same changes as this one.
    const changes = await this.deps.repos.changes.ofBuildRequest(this.deps.buildrequestid);
    const reason = `The Triggerable scheduler '${schedulerName}' triggered this build (from ${this.deps.builder.name} #${this.deps.buildNumber})`;
    return this.deps.triggerer.trigger(
      schedulerName,
      properties,
      changes.rows.map((c) => c.id),
      reason,
      this.deps.buildid,
    );
  }

  waitFor(requests: TriggeredRequest[]): Promise<TriggeredRequest[]> {
    return this.deps.triggerer.wait(requests, this.deps.signal);
  }

  /** trackCustomStep renames what this step reports: its own series becomes `series`, others `series.name`. */
  private seriesName(name: string): string {
    const tracking = this.deps.builder.metrics.find((t) => t.type === 'customStep' && t.step === this.step.name);
    if (!tracking?.series) return name;
    return name === this.step.name ? tracking.series : `${tracking.series}.${name}`;
  }

  /**
   * The series `name` is captured as: a secret in it (a measuring command printed `<secret>=1`) is
   * replaced, so no series is named after a secret, and the step's log says so.
   */
  private async maskedSeries(name: string): Promise<string> {
    const series = this.seriesName(name);
    const masked = this.deps.masker.maskName(series);
    if (masked !== series) {
      const note = `series name "${this.deps.masker.maskText(series)}" contained a secret: captured as "${masked}"\n`;
      await this.append(await this.writer('stdio', 's'), 'h', Buffer.from(note));
    }
    return masked;
  }

  /** The exception a step raised, into its `err.text` log; called by the build before finishLogs(). */
  async writeErrorLog(e: unknown): Promise<void> {
    const text = e instanceof Error ? `${e.stack ?? e.message}\n` : `${String(e)}\n`;
    await this.append(await this.writer('err.text', 't'), 'h', this.deps.masker.maskBuffer(Buffer.from(text)));
  }

  /**
   * running -> finishing -> finished: stores what the step's commands used, then waits until
   * every open log's bytes are stored. Returns those logs (their rows, with their final line
   * counts): the build closes them with the step's end, in the same transaction
   * (master/db/build-progress.ts), and marks them complete. Called once, by the build, after the
   * step's run ended; rejects when a log's bytes could not be stored.
   */
  async finishLogs(): Promise<LogRow[]> {
    if (this.current !== StepRuntimeStates.running) throw this.refused('finish its logs');
    await this.used.capture(this.deps.metrics, {
      builder: this.deps.builder.name,
      step: this.step.name,
      agent: this.deps.agent.name,
      buildNumber: this.deps.buildNumber,
      buildid: this.deps.buildid,
    });
    this.current = StepRuntimeStates.finishing;
    try {
      return await this.logs.storeOpen();
    } finally {
      this.current = StepRuntimeStates.finished;
    }
  }

  private expectRunning(action: string): void {
    if (this.current !== StepRuntimeStates.running) throw this.refused(action);
  }

  private refused(action: string): InvalidStateError {
    return new InvalidStateError(`step "${this.step.name}" of ${this.deps.builder.name} #${this.deps.buildNumber}`, this.current, action);
  }

  /** Every write into a log goes through here: none after the step's logs are finishing. */
  private append(writer: LogWriter, stream: Stream, data: Buffer): Promise<void> {
    if (this.current !== StepRuntimeStates.running) return Promise.reject(this.refused(`write to log "${writer.log.name}"`));
    return writer.append(stream, data);
  }

  private async writer(name: string, type: 's' | 't'): Promise<LogWriter> {
    if (!this.logs.has(name)) this.expectRunning(`add log "${name}"`);
    return this.logs.open(name, type);
  }

  /** The log stored with the step's start that the step never wrote to (its end removes it), or null. */
  unusedLog(): number | null {
    return this.logs.unused();
  }
}
