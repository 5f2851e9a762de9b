/**
 * The soak's real processes: the master (`bin/caliper.js start`) and the agents (`bin/caliper.js
 * agent`) as children of the soak, each started again after a kill with the same arguments, so a
 * restarted master is the same master (name: host and config folder; same port) and a restarted
 * agent the same agent. Their output goes to files in the soak's directory for the post-mortem.
 *
 * States of a ChildService: stopped → starting → running → (kill or stop) → stopped → starting …
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SoakAgent } from './config-file.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(ROOT, 'bin/caliper.js');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port nothing listens on now (the kernel's pick for port 0, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** VmRSS of a process in KiB, from /proc; null when it is gone. */
export function rssKib(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** One child process started again and again with the same argv; output appended to `logFile`. */
class ChildService {
  private child: ChildProcess | null = null;
  private tail = '';
  private exited: Promise<void> = Promise.resolve();
  starts = 0;

  constructor(
    private readonly argv: string[],
    private readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
  ) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last 4 KB of output of the current (or last) process. */
  output(): string {
    return this.tail;
  }

  protected spawnChild(): ChildProcess {
    if (this.running) throw new Error(`${this.logFile}: already running`);
    this.starts++;
    this.tail = '';
    const log = fs.openSync(this.logFile, 'a');
    fs.writeSync(log, `\n=== start ${this.starts} at ${new Date().toISOString()} ===\n`);
    const child = spawn(process.execPath, [CLI, ...this.argv], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      fs.writeSync(log, d);
      this.tail = (this.tail + d.toString()).slice(-4096);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        fs.writeSync(log, `=== exit ${code ?? signal} at ${new Date().toISOString()} ===\n`);
        fs.closeSync(log);
        resolve();
      }),
    );
    this.child = child;
    return child;
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `graceMs` if it is still there). */
  async stop(signal: NodeJS.Signals, graceMs = 60_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(signal);
    const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      child.kill('SIGKILL');
      await this.exited;
    }
  }
}

export class MasterProcess extends ChildService {
  url = '';

  constructor(configFile: string, port: number, dbUrl: string, logFile: string) {
    super(['start', '--config', configFile, '--port', String(port), '--db', dbUrl], process.env, logFile);
  }

  /** Starts the master and waits for its "at http://…" line. */
  async start(timeoutMs = 60_000): Promise<void> {
    const child = this.spawnChild();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(this.output());
      if (m?.[1]) {
        this.url = m[1];
        return;
      }
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`the master exited while starting (${child.exitCode ?? child.signalCode}):\n${this.output()}`);
      if (Date.now() > deadline) throw new Error(`the master did not start within ${timeoutMs} ms:\n${this.output()}`);
      await sleep(50);
    }
  }
}

export class AgentProcess extends ChildService {
  constructor(
    readonly name: string,
    token: string,
    masterPort: number,
    workdir: string,
    logFile: string,
  ) {
    super(
      ['agent', '--master', `ws://127.0.0.1:${masterPort}/agents`, '--name', name, '--workdir', workdir],
      { ...process.env, CALIPER_AGENT_TOKEN: token },
      logFile,
    );
  }

  start(): void {
    this.spawnChild();
  }
}

export function agentProcesses(agents: SoakAgent[], masterPort: number, dir: string): AgentProcess[] {
  return agents.map((a) => {
    const workdir = path.join(dir, 'agents', a.name);
    fs.mkdirSync(workdir, { recursive: true });
    return new AgentProcess(a.name, a.token, masterPort, workdir, path.join(dir, `agent-${a.name}.log`));
  });
}
