/**
 * Commands forked by a small resident process instead of the agent: spawn-helper.pl, run by perl.
 *
 * Why: fork() copies the page tables of the process that calls it, so its cost grows with that
 * process's memory. Node's spawn from the agent (about 50 MB resident) took 1.3–2 ms of every
 * step's time, where perl (5 MB, most of it shared) forks and execs in 0.4–0.8 ms on the same
 * machine (docs/performance.md, "The agent"). The helper is also the orphan guard: when its stdin
 * closes, however the agent ended, it SIGKILLs every command's process group still running.
 *
 * It runs while there is work: started with the first command, ended once no command has run for
 * `lingerMs`, so an idle agent holds no second process. Its start costs the first command about
 * 2 ms. Without perl (`perlPath` null) the agent falls back to Node's spawn (process-launcher.ts).
 *
 * Output comes back framed on the helper's stdout (spawn-helper.pl says how): a command's bytes are
 * handed on as views of the pipe's reads, no copy. Flow control pauses one command's pipes in the
 * helper (`P id`), not the helper's stdout, which every command shares.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { LaunchSpec, LaunchedProcess, ProcessEvents, ProcessLauncher } from './process-launcher.ts';

/** Beside this module in the sources and in dist/ (npm run build copies it). */
export const SPAWN_HELPER_SCRIPT = fileURLToPath(new URL('./spawn-helper.pl', import.meta.url));

/** How long the helper outlives the last command. */
export const HELPER_LINGER_MS = 60_000;

const HEADER_BYTES = 9;

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: gone already.
  }
}

/** perl's path on PATH, or null: the agent then forks its commands itself. */
export function findPerl(envPath = process.env.PATH ?? ''): string | null {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'perl');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** A byte string as the helper reads it: `x` and its bytes in hex (never empty, never a space). */
const field = (s: string) => `x${Buffer.from(s).toString('hex')}`;

function envFields(env: Record<string, string | undefined>): string {
  const pairs = Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined && !kv[0].includes('='));
  return [String(pairs.length), ...pairs.map(([k, v]) => field(`${k}=${v}`))].join(' ');
}

const signalNames = new Map<number, NodeJS.Signals>(Object.entries(os.constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));
const errnoNames = new Map<number, string>(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));

/** The helper's `F` reply as Node's spawn would report it: an error with the errno's name as `code`. */
function startError(file: string, reply: string): NodeJS.ErrnoException {
  const [errno, stage] = reply.split(' ');
  const code = errnoNames.get(Number(errno)) ?? `errno ${errno}`;
  const e: NodeJS.ErrnoException = new Error(`spawn ${file} ${code}${stage === 'exec' ? '' : ` (${stage})`}`);
  e.code = code;
  e.errno = -Number(errno);
  e.syscall = stage === 'exec' ? 'spawn' : stage;
  return e;
}

interface Command {
  file: string;
  /** Once started. */
  pid: number | null;
  events: ProcessEvents;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
}

/** One helper process and the commands it runs; made again when it ended (idle, or lost). */
class HelperProcess {
  readonly commands = new Map<number, Command>();
  private readonly child: ChildProcess;
  /** A reply's header split across reads, or a control reply's bytes so far. */
  private header = Buffer.alloc(HEADER_BYTES);
  private headerBytes = 0;
  private current: { type: string; id: number; left: number; parts: Buffer[] } | null = null;
  ended = false;
  /** Set once the agent closed the helper's stdin: its exit is then expected. */
  private closing = false;

  constructor(
    perl: string,
    baseEnv: NodeJS.ProcessEnv,
    private readonly onEnd: (helper: HelperProcess, why: string | null) => void,
  ) {
    // Its environment is the commands' base (no agent token); `B` sets it again, exactly, for them.
    this.child = spawn(perl, [SPAWN_HELPER_SCRIPT], { detached: true, env: baseEnv, stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.on('error', (e) => this.end(`cannot start perl: ${e.message}`));
    this.child.on('exit', (code, signal) => this.end(this.closing ? null : `helper exited (${signal ?? `code ${code}`})`));
    this.child.stdin?.on('error', () => undefined);
    this.child.stdout?.on('data', (d: Buffer) => this.read(d));
    // Neither the helper nor its pipes keep the agent's process alive, but a command running does.
    this.child.unref();
    if (this.child.stdin instanceof Socket) this.child.stdin.unref();
    this.holdOpen(false);
    this.write(`B ${envFields(baseEnv)}\n`);
  }

  /** While commands run, the helper's stdout keeps the agent's event loop going. */
  holdOpen(hold: boolean): void {
    const out = this.child.stdout;
    if (!(out instanceof Socket)) return;
    if (hold) out.ref();
    else out.unref();
  }

  write(line: string): void {
    if (!this.ended) this.child.stdin?.write(line);
  }

  /** Ends the helper: it kills what still runs and exits. */
  close(): void {
    this.closing = true;
    this.child.stdin?.end();
  }

  private end(why: string | null): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this, why);
  }

  /**
   * Replies as they come in the helper's stdout, whose reads do not keep to its replies: a reply's
   * pieces (views of the reads, no copy) are handed on together once it is whole. Output split
   * across two reads would otherwise go out as two frames, the first often a few bytes.
   */
  private read(data: Buffer): void {
    let at = 0;
    while (at < data.length) {
      if (!this.current) {
        const take = Math.min(HEADER_BYTES - this.headerBytes, data.length - at);
        data.copy(this.header, this.headerBytes, at, at + take);
        this.headerBytes += take;
        at += take;
        if (this.headerBytes < HEADER_BYTES) return;
        this.headerBytes = 0;
        const type = String.fromCharCode(this.header[0] as number);
        this.current = { type, id: this.header.readUInt32BE(1), left: this.header.readUInt32BE(5), parts: [] };
      }
      const current = this.current;
      const take = Math.min(current.left, data.length - at);
      const piece = data.subarray(at, at + take);
      at += take;
      current.left -= take;
      if (take > 0) current.parts.push(piece);
      if (current.left === 0) {
        this.current = null;
        this.reply(current.type, current.id, current.parts);
      }
    }
  }

  private reply(type: string, id: number, parts: Buffer[]): void {
    const command = this.commands.get(id);
    if (!command) return;
    const { events } = command;
    if (type === 'O' || type === 'E') {
      for (const part of parts) events.output(type === 'O' ? 'stdout' : 'stderr', part);
      return;
    }
    const text = Buffer.concat(parts).toString();
    switch (type) {
      case 'S':
        command.pid = Number(text);
        return events.started(command.pid);
      case 'F':
        this.commands.delete(id);
        return events.failed(startError(command.file, text));
      case 'X': {
        const [code, signal, user, system] = text.split(' ').map(Number) as [number, number, number, number];
        command.exit = { code: code >= 0 ? code : null, signal: signal >= 0 ? (signalNames.get(signal) ?? null) : null };
        return events.exited({ userSeconds: user, systemSeconds: system });
      }
      case 'D':
        this.commands.delete(id);
        return events.closed(command.exit?.code ?? null, command.exit?.signal ?? null);
      case 'N':
        this.commands.delete(id);
        return events.notStarted?.();
    }
  }
}

export class SpawnHelper implements ProcessLauncher {
  private helper: HelperProcess | null = null;
  private nextId = 1;
  /** Which helper launched a command, and its id there: what launchAfter names. */
  private readonly launched = new WeakMap<LaunchedProcess, { helper: HelperProcess; id: number }>();
  private lingerTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly perl: string,
    private readonly baseEnv: NodeJS.ProcessEnv,
    private readonly log: (line: string) => void,
    private readonly lingerMs = HELPER_LINGER_MS,
  ) {}

  /** Nothing to do before the first command: the helper starts with it. */
  start(): void {}

  stop(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.helper?.close();
    this.helper = null;
  }

  /** The helper's pid while it runs (tests). */
  get helperRunning(): boolean {
    return this.helper !== null;
  }

  launch(spec: LaunchSpec, events: ProcessEvents): LaunchedProcess {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.helper ??= new HelperProcess(this.perl, this.baseEnv, (h, why) => this.ended(h, why));
    return this.request(this.helper, spec, events);
  }

  /** The helper itself starts it when `before` is done with code 0 and unsignalled (`A`, spawn-helper.pl). */
  launchAfter(before: LaunchedProcess, spec: LaunchSpec, events: ProcessEvents): LaunchedProcess | null {
    const known = this.launched.get(before);
    if (!known || known.helper !== this.helper || known.helper.ended) return null;
    return this.request(known.helper, spec, events, known.id);
  }

  /** `R` (start now), or `A` when `after` names the command it waits for. */
  private request(helper: HelperProcess, spec: LaunchSpec, events: ProcessEvents, after?: number): LaunchedProcess {
    const id = this.nextId++;
    if (helper.commands.size === 0) helper.holdOpen(true);
    helper.commands.set(id, { file: spec.file, pid: null, events: this.untilDone(helper, events), exit: null });
    const argv = [spec.file, ...spec.args];
    const head = after === undefined ? `R ${id}` : `A ${id} ${after}`;
    helper.write(`${head} ${field(spec.cwd)} ${argv.length} ${argv.map(field).join(' ')} ${envFields(spec.env)}\n`);
    const launched: LaunchedProcess = {
      pause: () => helper.write(`P ${id}\n`),
      resume: () => helper.write(`C ${id}\n`),
      signal: (signal) => helper.write(`K ${id} ${os.constants.signals[signal]}\n`),
      withdraw: () => helper.write(`W ${id}\n`),
    };
    this.launched.set(launched, { helper, id });
    return launched;
  }

  /** The events, with the helper's linger started once its last command is done. */
  private untilDone(helper: HelperProcess, events: ProcessEvents): ProcessEvents {
    const done = () => {
      if (helper.commands.size > 0) return;
      helper.holdOpen(false);
      if (helper === this.helper) this.linger();
    };
    return {
      started: (pid) => events.started(pid),
      output: (stream, data) => events.output(stream, data),
      exited: (cpu) => events.exited(cpu),
      closed: (code, signal) => {
        events.closed(code, signal);
        done();
      },
      failed: (e) => {
        events.failed(e);
        done();
      },
      notStarted: () => {
        events.notStarted?.();
        done();
      },
    };
  }

  private linger(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      if (this.helper?.commands.size === 0) this.stop();
    }, this.lingerMs);
    this.lingerTimer.unref();
  }

  /** The helper ended: an idle close, or lost with commands in flight (they end without a result). */
  private ended(helper: HelperProcess, why: string | null): void {
    if (this.helper === helper) this.helper = null;
    if (why === null) return;
    this.log(`spawn helper lost: ${why}`);
    for (const [id, command] of helper.commands) {
      helper.commands.delete(id);
      // Its pipes went with the helper: what it runs could only block or die of SIGPIPE.
      if (command.pid !== null) killGroup(command.pid);
      const e: NodeJS.ErrnoException = new Error(`spawn ${command.file}: the spawn helper was lost (${why})`);
      e.code = 'EHELPERLOST';
      command.events.failed(e);
    }
  }
}
