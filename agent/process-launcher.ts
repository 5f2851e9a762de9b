/**
 * How the agent starts a command's process: what a CommandRunner needs from it, whoever forks.
 *
 * Two launchers: the spawn helper (spawn-helper.ts), a small resident process that forks the
 * commands, and Node's own `child_process.spawn` with the orphan guard beside it (this module),
 * where the helper cannot run (no perl). Either way a command runs in a process group of its own
 * whose id is its pid, with stdin from /dev/null and its stdout and stderr read by the agent.
 */
import { spawn } from 'node:child_process';
import type { OrphanGuard } from './orphan-guard.ts';

export interface LaunchSpec {
  file: string;
  args: string[];
  /** Absolute; exists (the runner made it). */
  cwd: string;
  /** The command's variables on top of the launcher's base environment. */
  env: Record<string, string>;
}

/** CPU seconds of a reaped process and every process it waited for. */
export interface ReapedCpu {
  userSeconds: number;
  systemSeconds: number;
}

/** What a launched command tells its runner, in this order: started, output…, exited, closed (or failed alone). */
export interface ProcessEvents {
  /** It runs: its pid, which is its process group's id too. */
  started(pid: number): void;
  output(stream: 'stdout' | 'stderr', data: Buffer): void;
  /**
   * The main process ended and was reaped; its pipes may stay open while something it started
   * holds them. `cpu`: its tree's CPU, when the launcher reaped it (else the agent's counters tell).
   */
  exited(cpu: ReapedCpu | null): void;
  /** Ended, and both pipes closed: nothing more comes. */
  closed(code: number | null, signal: NodeJS.Signals | null): void;
  /** It could not be started (an error with the errno's `code`, as Node's spawn gives). */
  failed(error: NodeJS.ErrnoException): void;
  /** Launched after another (launchAfter): never started, and never will be (see there). */
  notStarted?(): void;
}

/** A launched command's output, paused and resumed for flow control; signalled through its launcher when it can. */
export interface LaunchedProcess {
  pause(): void;
  resume(): void;
  /**
   * Signals the command's process group through the launcher (absent: the runner signals it
   * itself): a launcher that starts commands after others must know which were killed.
   */
  signal?(signal: NodeJS.Signals): void;
  /** Launched after another and not started yet: never start it (notStarted follows), else nothing. */
  withdraw?(): void;
}

export interface ProcessLauncher {
  launch(spec: LaunchSpec, events: ProcessEvents): LaunchedProcess;
  /**
   * Launches a command that starts once `before` (launched here) has ended, pipes closed, with code
   * 0 and no signal sent through its `signal`; else it is never started (`notStarted`). The launcher
   * starts it itself, with no turn of the agent's event loop in between. Null where it cannot (then
   * the runner waits for `before` itself); absent on launchers that never can.
   */
  launchAfter?(before: LaunchedProcess, spec: LaunchSpec, events: ProcessEvents): LaunchedProcess | null;
  /** Before launching anything. */
  start(): void;
  /** The agent stops, its commands ended: helpers exit, killing anything left. */
  stop(): void;
}

/** Node's spawn, from the agent's own process; the orphan guard is told of each group. */
export class NodeLauncher implements ProcessLauncher {
  constructor(
    private readonly baseEnv: NodeJS.ProcessEnv,
    private readonly guard: OrphanGuard | null,
  ) {}

  start(): void {
    // Started with the agent, not with its first command: the guard's start-up is not a step's cost.
    this.guard?.start();
  }

  stop(): void {
    this.guard?.stop();
  }

  launch(spec: LaunchSpec, events: ProcessEvents): LaunchedProcess {
    const child = spawn(spec.file, spec.args, {
      cwd: spec.cwd,
      env: { ...this.baseEnv, ...spec.env },
      detached: true, // own process group: kill(-pid) reaches everything it starts
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { pid } = child;
    if (pid) {
      this.guard?.watch(pid);
      events.started(pid);
    }
    child.on('error', (e) => events.failed(e));
    child.stdout?.on('data', (d: Buffer) => events.output('stdout', d));
    child.stderr?.on('data', (d: Buffer) => events.output('stderr', d));
    child.on('exit', () => events.exited(null));
    child.on('close', (code, signal) => {
      if (pid) this.guard?.forget(pid);
      events.closed(code, signal);
    });
    return {
      pause: () => {
        child.stdout?.pause();
        child.stderr?.pause();
      },
      resume: () => {
        child.stdout?.resume();
        child.stderr?.resume();
      },
    };
  }
}
