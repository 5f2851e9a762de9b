/**
 * The StepContext of a step run by `caliper try`: commands run on this machine (the process and
 * kill rules of MasterShellCommand's runner: a process group of its own, timeout and maxTime, SIGTERM
 * then SIGKILL), output goes to the terminal instead of the database, measured values are printed and
 * kept for the summary instead of stored. Nothing here needs a master, a database or an agent.
 *
 * Directories: a builder's commands run in `<workdir>/<builder dirname>/<step workdir>`, as on an
 * agent whose base directory is `<workdir>`; MasterShellCommand's in
 * `<workdir>/master-workdir/<builder dirname>/<step workdir>`, as under a master's basedir.
 *
 * States: running -> finished. finish() (by the local build, once the step's run ended) refuses
 * anything that writes afterwards, as the master's StepRuntime does: a step that left work running
 * finds out.
 */
import path from 'node:path';
import type { CompiledBuilder } from '../config/compile.ts';
import type { CommandSink, CommandSpec, RunningCommand } from '../agents/agent-connection.ts';
import { startOnMaster } from '../build/master-process.ts';
import type { SecretMasker } from '../build/secret-masker.ts';
import { MASTER_WORKDIR } from '../build/step-runtime.ts';
import type { CommandRequest, CommandResult, LogHandle, StepContext, TransferResult, TriggeredRequest } from '../../steps/step-context.ts';
import type { Properties } from '../../steps/properties/properties.ts';
import type { CaptureOptions } from '../../metrics/capture-options.ts';
import type { Baseline } from '../../metrics/regression.ts';
import { InvalidStateError } from '../../core/errors/invalid-state-error.ts';
import type { Measured, TryOutput } from './try-output.ts';

const MAX_COLLECTED_STDOUT = 16 * 1024 * 1024;

const notTransferred: TransferResult = {
  bytes: 0,
  sha256: null,
  durationMs: 0,
  lost: false,
  cancelled: false,
  error: 'caliper try runs on this machine: file transfer steps need a master and an agent',
};

/** The agent name a local run has (`%(prop:agentname)s`, the `agent` of what it measures). */
export const LOCAL_AGENT_NAME = 'local';

export interface LocalStepDeps {
  builder: CompiledBuilder;
  stepName: string;
  properties: Properties;
  signal: AbortSignal;
  /** The base directory every command runs under (see the header). */
  workdir: string;
  output: TryOutput;
  masker: SecretMasker;
  /** Where measured values are kept for the summary. */
  measured: Measured[];
}

export class LocalStepContext implements StepContext {
  private finished = false;

  constructor(private readonly deps: LocalStepDeps) {}

  get builderName(): string {
    return this.deps.builder.name;
  }
  /** A local run has no build number: 0, never one the master gave. */
  get buildNumber(): number {
    return 0;
  }
  get agentName(): string {
    return LOCAL_AGENT_NAME;
  }
  get properties(): Properties {
    return this.deps.properties;
  }
  get signal(): AbortSignal {
    return this.deps.signal;
  }

  runCommand(request: CommandRequest): Promise<CommandResult> {
    // The builder's env under the command's own, as the master gives an agent.
    const env = { ...this.deps.builder.env, ...request.env };
    return this.execute({ ...request, env }, path.join(this.deps.workdir, this.deps.builder.dirname));
  }

  runOnMaster(request: CommandRequest): Promise<CommandResult> {
    return this.execute(request, path.join(this.deps.workdir, MASTER_WORKDIR, this.deps.builder.dirname));
  }

  private async execute(request: CommandRequest, base: string): Promise<CommandResult> {
    this.expectRunning('start a command');
    const notRun = (error: string | null, killed: CommandResult['killed'] = null): CommandResult => ({
      exitCode: null,
      signal: null,
      killed,
      lost: false,
      durationMs: 0,
      stdout: '',
      ...(error ? { error } : {}),
    });
    if (this.deps.signal.aborted) return notRun(null, 'cancel');
    const workdir = path.resolve(base, request.workdir);
    // The step schemas refuse ".." already; a custom step's request is checked here, as an agent does.
    if (path.relative(base, workdir).startsWith('..')) return notRun(`workdir "${request.workdir}" leaves the builder's directory`);
    const { output, masker } = this.deps;
    if (request.header) output.write('out', masker.maskText(request.header));
    output.command(masker.maskText(Array.isArray(request.command) ? request.command.map(quote).join(' ') : request.command));
    const stdout: Buffer[] = [];
    let collected = 0;
    const masks = { stdout: masker.stream(), stderr: masker.stream() };
    const sink: CommandSink = {
      output: async (stream, data) => {
        if (request.collectStdout && stream === 'stdout' && collected < MAX_COLLECTED_STDOUT) {
          stdout.push(data);
          collected += data.length;
        }
        output.write(stream === 'stdout' ? 'out' : 'err', masks[stream].push(data).toString('utf8'));
      },
    };
    const spec: CommandSpec = {
      ...(Array.isArray(request.command) ? { argv: request.command } : { shell: request.command }),
      workdir,
      env: request.env,
      timeout: request.timeout,
      maxTime: request.maxTime,
    };
    const running: RunningCommand = startOnMaster(spec, sink);
    const onAbort = () => running.cancel();
    this.deps.signal.addEventListener('abort', onAbort);
    try {
      const exit = await running.done;
      output.write('out', masks.stdout.end().toString('utf8'));
      output.write('err', masks.stderr.end().toString('utf8'));
      if (exit.error) output.write('err', `${masker.maskText(exit.error)}\n`);
      return {
        exitCode: exit.code,
        signal: exit.signal,
        killed: exit.killed,
        lost: false,
        durationMs: exit.durationMs,
        stdout: Buffer.concat(stdout).toString('utf8'),
        ...(exit.error ? { error: exit.error } : {}),
      };
    } finally {
      this.deps.signal.removeEventListener('abort', onAbort);
    }
  }

  /** A named log (a Lint's `issues`, a parse error): printed with its name before each line. */
  async addLog(name: string): Promise<LogHandle> {
    this.expectRunning(`add log "${name}"`);
    const { output, masker } = this.deps;
    return {
      append: async (text) => {
        this.expectRunning(`write to log "${name}"`);
        for (const line of masker
          .maskText(text)
          .split('\n')
          .filter((l, i, all) => l !== '' || i < all.length - 1))
          output.line(`[${name}] ${line}`);
      },
      finish: async () => {},
    };
  }

  /** The master shows it on the step's line; here the step's result line says it. */
  async setStateString(_text: string): Promise<void> {
    this.expectRunning('set the state string');
  }

  async captureData(name: string, value: number, options: CaptureOptions = {}): Promise<void> {
    this.expectRunning(`capture "${name}"`);
    const m: Measured = {
      step: this.deps.stepName,
      name: this.deps.masker.maskName(name),
      value,
      ...(options.unit ? { unit: options.unit } : {}),
    };
    this.deps.measured.push(m);
    this.deps.output.measured(m);
  }

  /** A local run has no history to compare with: no regression is ever found. */
  async regression(_series: string, _value: number): Promise<{ baseline: Baseline; score: number } | null> {
    return null;
  }

  async trigger(schedulerName: string, _properties: Record<string, unknown>): Promise<TriggeredRequest[]> {
    this.expectRunning(`trigger "${schedulerName}"`);
    throw new Error(
      `caliper try runs one build on this machine: it cannot trigger scheduler "${schedulerName}" (Trigger steps start builds on a master; try the triggered builder by its name)`,
    );
  }

  async waitFor(requests: TriggeredRequest[]): Promise<TriggeredRequest[]> {
    return requests;
  }

  /** File transfer needs a master and an agent: a transfer step fails here, saying so. */
  async uploadFromAgent(): Promise<TransferResult> {
    return notTransferred;
  }

  async downloadToAgent(): Promise<TransferResult> {
    return notTransferred;
  }

  /** running -> finished: called once by the local build after the step's run ended. */
  finish(): void {
    this.expectRunning('finish');
    this.finished = true;
  }

  private expectRunning(action: string): void {
    if (this.finished) throw new InvalidStateError(`step "${this.deps.stepName}" of caliper try`, 'finished', action);
  }
}

/** An argv word as a shell would need it, for the `$ command` line. */
function quote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
