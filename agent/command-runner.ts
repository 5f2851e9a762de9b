/**
 * One command on the agent, in its own process group so that everything it starts can be killed.
 *
 * States: running -> exiting -> reported
 * running: output is sent as numbered `output` frames and kept until the master acks it (run-output.ts:
 *   a turn of the event loop's reads in one frame); when more than `windowBytes` are unacked the
 *   child's pipes are paused (flow control), so a fast writer cannot fill the agent's memory.
 *   A timeout (no output), maxTime (wall) or cancel sends SIGTERM to the group, then SIGKILL after
 *   the run's `sigtermTime` (seconds) or else `killGraceMs`.
 * exiting: the main process ended; whatever it left running in its group is killed (as Jenkins'
 *   process tree killer does) so no orphan outlives the step; pipes drain.
 * reported: `exit` sent with the seq after the last output; kept until the master acks that seq.
 * A run sent `after` another (protocol 5) waits before `running` (startAfter): it starts when that
 * run reports an exit with code 0, or else goes straight to reported with an `exit` marked `skipped`
 * (so does a cancel while it waits), and the runs waiting on it are skipped in turn.
 * Unacked output (and the exit) survive a lost connection: `resend()` replays them on the next one,
 * and the master drops what it already has. An abandoned run (the master no longer follows it) is
 * killed and sends nothing more: the master would not know what it speaks of.
 */
import fs from 'node:fs';
import path from 'node:path';
import { commandErrorMessage, type AgentMessage, type RunMessage } from '../protocol/messages.ts';
import type { OutputChunk } from '../protocol/output-frame.ts';
import { CommandErrorCode } from '../protocol/reject-codes.ts';
import type { CommandMeter, ResourceMonitor } from './resource-monitor.ts';
import type { FrameLease, FramePool } from './frame-pool.ts';
import { RunOutput } from './run-output.ts';
import {
  NodeLauncher,
  type LaunchSpec,
  type LaunchedProcess,
  type ProcessEvents,
  type ProcessLauncher,
  type ReapedCpu,
} from './process-launcher.ts';

export interface RunnerOptions {
  basedir: string;
  windowBytes: number;
  killGraceMs: number;
  send(message: AgentMessage): void;
  /**
   * Sends a piece of output in the connection's encoding (binary frames from protocol 4, see
   * protocol/output-frame.ts), and calls `sent` (if given) once the socket no longer reads the
   * chunk's frame (at once if it was not sent). Absent: output goes through `send` as JSON
   * `output` messages.
   */
  sendOutput?(chunk: OutputChunk, sent?: () => void): void;
  /** Reused buffers for big frames (frame-pool.ts); absent: each frame is a buffer of its own. */
  frames?: FramePool | null;
  onDone(run: string): void;
  /** Starts the command's process (spawn-helper.ts, process-launcher.ts); absent: Node's spawn, unguarded. */
  launcher?: ProcessLauncher;
  /** Measures each command's CPU time and peak memory (Linux); absent: the exit carries no `resources`. */
  resources?: ResourceMonitor | null;
  /** Told of the exit once, when it is first sent (the agent's own metrics count it). */
  onExit?(exit: ExitMessage): void;
}

export type ExitMessage = Extract<AgentMessage, { type: 'exit' }>;

type Killed = 'timeout' | 'maxTime' | 'cancel';

/** errno codes of a failed spawn that say the system was short of something, not that the command is wrong. */
const OUT_OF_RESOURCES = new Set(['EAGAIN', 'EMFILE', 'ENFILE', 'ENOMEM']);

function spawnErrorCode(e: Error): CommandErrorCode {
  const errno = 'code' in e ? e.code : undefined;
  return typeof errno === 'string' && OUT_OF_RESOURCES.has(errno) ? CommandErrorCode.OutOfResources : CommandErrorCode.SpawnFailed;
}

/** What to start: the argv as given, or the shell string under `sh -c`; null if the run names neither. */
function program(msg: RunMessage): [string, string[]] | null {
  const [file, ...args] = msg.argv ?? [];
  if (file !== undefined) return [file, args];
  return msg.shell === undefined ? null : ['/bin/sh', ['-c', msg.shell]];
}

/**
 * The agent's environment without its own token (a build must not be able to read it). A copy:
 * reading `process.env` goes through a C++ accessor per variable (about 0.1 ms for 40 of them), a
 * cost the agent pays once (Agent's constructor) instead of once per command.
 */
export function agentEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CALIPER_AGENT_TOKEN;
  return env;
}

/**
 * The step's variables over the agent's environment (the launcher's base), with `PWD` the command's
 * absolute working directory (as Buildbot's worker sets it: a shell would otherwise inherit the agent's own).
 */
function commandEnv(stepEnv: Record<string, string>, cwd: string): Record<string, string> {
  return { ...stepEnv, PWD: cwd };
}

export class CommandRunner {
  private process: LaunchedProcess | null = null;
  /** The command's pid and process group, once it started. */
  private pid: number | null = null;
  /** The output on its way to the master: framed, numbered, kept until acked (run-output.ts). */
  private readonly out: RunOutput;
  private exitMessage: AgentMessage | null = null;
  private paused = false;
  private killed: Killed | null = null;
  private abandoned = false;
  private state: 'running' | 'exiting' | 'reported' = 'running';
  private started = Date.now();
  /** Sent `after` a run that has not ended yet: started (or skipped) when it does. */
  private waiting = false;
  /** Cancelled while its launcher held it (launchAfter): not started, or killed at once if it was. */
  private withdrawn = false;
  /** Whether the run ended with code 0 (not killed), once reported; what the runs after it wait for. */
  private succeeded: boolean | null = null;
  private readonly followers: ((succeeded: boolean) => void)[] = [];
  private markFinished!: () => void;
  /** Resolves once the command and everything in its group is gone and its exit was reported. */
  readonly finished = new Promise<void>((resolve) => (this.markFinished = resolve));
  private timeoutTimer: NodeJS.Timeout | null = null;
  private maxTimeTimer: NodeJS.Timeout | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private meter: CommandMeter | null = null;

  constructor(
    private readonly msg: RunMessage,
    private readonly options: RunnerOptions,
  ) {
    this.out = new RunOutput(msg.run, options.frames ?? null, (chunk, lease) => this.sendChunk(chunk, lease));
  }

  /**
   * Starts when `before` exits with code 0 (at once if it has); skipped if it ends otherwise or is
   * unknown (null). Where the launcher can, it starts the command itself the moment `before` is done
   * (launchAfter: the spawn helper, with no turn of the agent in between); else the runner does.
   */
  startAfter(before: CommandRunner | null): void {
    if (!before) return this.skip(null);
    this.waiting = true;
    if (this.launchAfter(before)) return;
    before.follow((succeeded) => {
      if (!this.waiting) return; // cancelled while waiting: reported already
      this.waiting = false;
      if (succeeded) this.start();
      else this.skip(null);
    });
  }

  /** Calls `then` with how the run ended, once it is reported (at once if it is). */
  private follow(then: (succeeded: boolean) => void): void {
    if (this.succeeded === null) this.followers.push(then);
    else then(this.succeeded);
  }

  start(): void {
    const launch = this.launchSpec();
    if (!launch.ok) return this.failToStart(launch.code, launch.message);
    const launcher = this.options.launcher ?? new NodeLauncher(agentEnv(), null);
    this.process = launcher.launch(launch.spec, this.events(launch.spec.file));
    this.timing();
  }

  /** The process to start, its workdir made; or why it cannot start. */
  private launchSpec(): { ok: true; spec: LaunchSpec } | { ok: false; code: CommandErrorCode; message: string } {
    const { msg } = this;
    const cwd = path.resolve(this.options.basedir, msg.workdir);
    try {
      fs.mkdirSync(cwd, { recursive: true });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return { ok: false, code: CommandErrorCode.WorkdirInvalid, message: `cannot create workdir ${cwd}: ${why}` };
    }
    const argv = program(msg);
    if (!argv) return { ok: false, code: CommandErrorCode.SpawnFailed, message: 'the run names neither argv nor shell' };
    const [file, args] = argv;
    return { ok: true, spec: { file, args, cwd, env: commandEnv(msg.env, cwd) } };
  }

  private events(file: string): ProcessEvents {
    return {
      started: (pid) => this.running(pid),
      output: (stream, data) => this.output(stream, data),
      exited: (cpu) => this.exited(cpu),
      closed: (code, signal) => this.report(code, signal),
      failed: (e) => this.failToStart(spawnErrorCode(e), `cannot run ${JSON.stringify(file)}: ${e.message}`),
    };
  }

  /** From the start on: its time, the silence timeout and maxTime. */
  private timing(): void {
    this.started = Date.now();
    this.armTimeout();
    if (this.msg.maxTime !== null) this.maxTimeTimer = setTimeout(() => this.kill('maxTime'), this.msg.maxTime * 1000);
  }

  /**
   * Hands the command to the launcher to start after `before` (launchAfter); false where it cannot:
   * `before` has no process of that launcher or has ended, or the workdir cannot be made (the runner
   * then waits itself, and the failure is reported when it would have started).
   */
  private launchAfter(before: CommandRunner): boolean {
    const launcher = this.options.launcher;
    if (!launcher?.launchAfter || !before.process || before.state === 'reported' || before.killed) return false;
    const launch = this.launchSpec();
    if (!launch.ok) return false;
    const events = this.events(launch.spec.file);
    this.process = launcher.launchAfter(before.process, launch.spec, {
      ...events,
      started: (pid) => {
        this.waiting = false;
        this.timing();
        events.started(pid);
        // Cancelled while it waited, and started before the withdraw was heard: it ends as a kill.
        if (this.withdrawn) this.kill('cancel');
      },
      failed: (e) => {
        this.waiting = false;
        // The helper lost while this waited: it never started, as when its run before ends otherwise.
        if (e.code === 'EHELPERLOST' && this.pid === null) return this.skip(this.withdrawn ? 'cancel' : null);
        events.failed(e);
      },
      notStarted: () => {
        this.waiting = false;
        this.skip(this.withdrawn ? 'cancel' : null);
      },
    });
    return this.process !== null;
  }

  cancel(): void {
    if (this.waiting && this.process?.withdraw) {
      // Waiting in the launcher: it answers notStarted, or started if it had started it already.
      this.withdrawn = true;
      return this.process.withdraw();
    }
    if (this.waiting) {
      this.waiting = false;
      return this.skip('cancel');
    }
    this.kill('cancel');
  }

  private running(pid: number): void {
    this.pid = pid;
    this.meter = this.options.resources?.track(pid) ?? null;
    // Killed before its pid was known (the spawn helper answers a moment later): signalled now.
    if (this.killed) this.signalKilled('SIGTERM');
  }

  private exited(cpu: ReapedCpu | null): void {
    if (this.state === 'running') this.state = 'exiting';
    // Before the kill: what the command left running is read once more (resource-monitor.ts).
    this.meter?.exited(cpu);
    this.signalGroup('SIGKILL');
  }

  /** The master forgot this run (it restarted, or its grace period ran out): kill it and drop it. */
  abandon(): void {
    this.abandoned = true;
    this.cancel();
    void this.finished.then(() => {
      this.out.release();
      this.options.onDone(this.msg.run);
    });
  }

  get nextSeq(): number {
    return this.out.nextSeq;
  }

  /** Sends again what the master has not acked: after a reconnect. */
  resend(): void {
    this.out.resend();
    if (this.exitMessage) this.send(this.exitMessage);
  }

  /** The master stored everything up to `seq`; an ack of the exit's seq ends the run here. */
  ack(seq: number): void {
    if (this.state === 'reported' && this.exitMessage && seq >= this.out.nextSeq) {
      this.exitMessage = null;
      this.out.release();
      this.options.onDone(this.msg.run);
      return;
    }
    this.out.ack(seq);
    if (this.paused && this.out.unackedBytes <= this.options.windowBytes / 2) {
      this.paused = false;
      this.process?.resume();
    }
  }

  private send(message: AgentMessage): void {
    if (!this.abandoned) this.options.send(message);
  }

  private sendChunk(chunk: OutputChunk, lease: FrameLease | null): void {
    if (this.abandoned) return;
    if (this.options.sendOutput) return this.options.sendOutput(chunk, lease?.sending());
    const { run, seq, stream, data } = chunk;
    if (stream !== 'file') this.options.send({ type: 'output', run, seq, stream, data: data.toString('base64') });
  }

  /** A piece of output from the pipes (RunOutput frames it); past the window, the pipes pause. */
  private output(stream: 'stdout' | 'stderr', data: Buffer): void {
    this.armTimeout();
    this.out.add(stream, data);
    if (!this.paused && this.out.unackedBytes > this.options.windowBytes) {
      this.paused = true;
      this.process?.pause();
    }
  }

  private armTimeout(): void {
    if (this.msg.timeout === null || this.state !== 'running') return;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.timeoutTimer = setTimeout(() => this.kill('timeout'), this.msg.timeout * 1000);
  }

  private kill(why: Killed): void {
    if (this.state !== 'running' || this.killed) return;
    this.killed = why;
    this.signalKilled('SIGTERM');
    const graceMs = this.msg.sigtermTime === undefined ? this.options.killGraceMs : this.msg.sigtermTime * 1000;
    this.killTimer = setTimeout(() => this.signalKilled('SIGKILL'), graceMs);
    // Paused pipes would keep a killed command from ever closing.
    this.process?.resume();
  }

  /** A kill's signal: through the launcher when it takes them (it then starts nothing after this command). */
  private signalKilled(signal: NodeJS.Signals): void {
    if (this.process?.signal) this.process.signal(signal);
    else this.signalGroup(signal);
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const { pid } = this;
    if (!pid) return;
    // Most often the group is gone (the SIGKILL after every exit): process.kill then throws, and the
    // error's stack trace was most of the call's cost (about 40 µs a step in a profile). None is taken.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  }

  private failToStart(code: CommandErrorCode, message: string): void {
    if (this.state === 'reported') return;
    this.send(commandErrorMessage(this.msg.run, code, message));
    this.report(null, null);
  }

  /** Never started (its run before failed, or it was cancelled while waiting): reported as skipped. */
  private skip(killed: Killed | null): void {
    this.state = 'reported';
    this.sendExit({
      type: 'exit',
      run: this.msg.run,
      seq: this.out.nextSeq,
      code: null,
      signal: null,
      durationMs: 0,
      killed,
      skipped: true,
    });
    this.ended(false);
  }

  /** Tells the runs waiting on this one how it ended (before its exit is sent: the next command starts first). */
  private ended(succeeded: boolean): void {
    this.succeeded = succeeded;
    for (const then of this.followers.splice(0)) then(succeeded);
  }

  private report(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === 'reported') return;
    this.out.flush(); // the exit's seq counts every frame
    this.state = 'reported';
    this.ended(code === 0 && this.killed === null);
    for (const t of [this.timeoutTimer, this.maxTimeTimer, this.killTimer]) if (t) clearTimeout(t);
    const exit: ExitMessage = {
      type: 'exit',
      run: this.msg.run,
      seq: this.out.nextSeq,
      code,
      signal,
      durationMs: Date.now() - this.started,
      killed: this.killed,
    };
    // The figures come at the end of the loop turn the main process was reaped in; a command that
    // never ran (or whose spawn failed after all) has none.
    const meter = this.meter;
    if (!meter || meter.sampling) {
      if (meter) this.options.resources?.forget(meter);
      return this.sendExit(exit);
    }
    void meter.figures.then((resources) => this.sendExit({ ...exit, resources }));
  }

  private sendExit(exit: ExitMessage): void {
    this.exitMessage = exit;
    this.options.onExit?.(exit);
    this.send(exit);
    this.markFinished();
  }
}
