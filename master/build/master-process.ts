/**
 * A command run on the master itself (MasterShellCommand), shaped as an agent's command so the
 * step's log, masking and limits take its output the same way: a process group of its own (so a
 * stop, a timeout or maxTime kills everything it started: SIGTERM, then SIGKILL after a grace),
 * its pipes paused while its output is being stored (flow control), whatever it left running in its
 * group killed when it exits. The command inherits the master's environment plus the step's `env`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { CommandExit, CommandSink, CommandSpec, RunningCommand } from '../agents/agent-connection.ts';

/** Seconds between SIGTERM and SIGKILL when a master command is killed. */
const KILL_GRACE_MS = 5_000;

type Killed = NonNullable<CommandExit['killed']>;

/** Starts `spec` on this machine; `spec.workdir` is an absolute folder, made if missing. */
export function startOnMaster(spec: CommandSpec, sink: CommandSink): RunningCommand {
  const started = Date.now();
  let killed: Killed | null = null;
  let child: ChildProcess | null = null;
  const timers: NodeJS.Timeout[] = [];
  let idleTimer: NodeJS.Timeout | null = null;
  let exited = false;

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (!child?.pid) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  };
  const kill = (why: Killed): void => {
    if (exited || killed) return;
    killed = why;
    signalGroup('SIGTERM');
    timers.push(setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS));
  };
  const armIdle = (): void => {
    if (spec.timeout === null || exited) return;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => kill('timeout'), spec.timeout * 1000);
  };
  const finish = (code: number | null, signal: string | null, error: string | null): CommandExit => {
    for (const t of timers) clearTimeout(t);
    if (idleTimer) clearTimeout(idleTimer);
    return { code, signal, killed, durationMs: Date.now() - started, lost: false, error };
  };

  const done = new Promise<CommandExit>((resolve) => {
    try {
      fs.mkdirSync(spec.workdir, { recursive: true });
    } catch (e) {
      resolve(finish(null, null, `cannot create workdir ${spec.workdir}: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    const [file, args] = spec.argv?.[0] !== undefined ? [spec.argv[0], spec.argv.slice(1)] : ['/bin/sh', ['-c', spec.shell ?? '']];
    const proc = spawn(file, args, {
      cwd: spec.workdir,
      env: { ...process.env, ...spec.env, PWD: spec.workdir },
      detached: true, // own process group: kill(-pid) reaches everything it starts
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    // Output is stored in order; the pipes wait while a write is pending.
    let writes: Promise<void> = Promise.resolve();
    const pipe = (stream: 'stdout' | 'stderr') => (data: Buffer) => {
      armIdle();
      proc.stdout?.pause();
      proc.stderr?.pause();
      writes = writes
        .then(() => sink.output(stream, data))
        .finally(() => {
          proc.stdout?.resume();
          proc.stderr?.resume();
        });
    };
    proc.stdout?.on('data', pipe('stdout'));
    proc.stderr?.on('data', pipe('stderr'));
    proc.on('error', (e) => {
      exited = true;
      resolve(finish(null, null, `cannot run ${JSON.stringify(file)}: ${e.message}`));
    });
    proc.on('exit', () => {
      exited = true;
      signalGroup('SIGKILL'); // what it left running in its group
    });
    proc.on('close', (code, signal) => {
      exited = true;
      // Every write stored (or failed: the step's log says so) before the exit is reported.
      void writes.catch(() => {}).then(() => resolve(finish(code, signal, null)));
    });
    armIdle();
    if (spec.maxTime !== null) timers.push(setTimeout(() => kill('maxTime'), spec.maxTime * 1000));
  });
  return { done, cancel: () => kill('cancel') };
}
