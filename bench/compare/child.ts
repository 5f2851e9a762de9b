/**
 * A process the benchmark starts (a Buildbot master or worker): its output appended to a file for the
 * post-mortem, its last 8 KB kept for error messages, stopped with SIGTERM and then SIGKILL.
 *
 * States: running → exited (on its own, or after stop()). stop() on an exited child does nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LoggedChild {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private tail = '';

  constructor(
    readonly label: string,
    argv: string[],
    options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string },
  ) {
    const log = fs.openSync(options.logFile, 'a');
    const [command, ...args] = argv;
    if (!command) throw new Error(`${label}: empty command`);
    this.child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      fs.writeSync(log, d);
      this.tail = (this.tail + d.toString()).slice(-8192);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': the output is all written when the pipes close.
      this.child.once('close', () => {
        fs.closeSync(log);
        resolve();
      });
      this.child.once('error', (e) => {
        this.tail += `\n${label}: ${e.message}`;
      });
    });
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error(`${this.label} did not start:\n${this.tail}`);
    return pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.tail;
  }

  /** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** For an exit handler that cannot wait. */
  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}
