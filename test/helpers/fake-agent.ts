/**
 * An in-memory AgentConnection for unit tests of the build logic: no process, no socket, no timer
 * unless a behaviour asks for a delay. Each command is matched against scripted rules and acts
 * out a behaviour; everything started is recorded, so a test asserts on what the build asked for.
 *
 *   const agent = new FakeAgentConnection();
 *   agent.on('make', { output: [stdout('ok\n')], exit: 0 });            // shell string, exactly
 *   agent.on(['git', 'rev-parse', 'HEAD'], { output: [stdout('abc\n')] }); // argv, exactly
 *   agent.on(/^sleep/, { hang: true });                                 // until cancel()
 *   agent.on((spec) => spec.env.CI === '1', { lost: true }, { exit: 0 }); // lost once, then succeeds
 *
 * Rules are tried in the order they were added; the first that matches wins. A rule with several
 * behaviours acts them out one per start, the last one again for every later start. A command no
 * rule matches exits 0 without output (pass `otherwise` to change that).
 *
 * A run: started -> (output chunks, handed to the sink in order and each awaited in order, as the
 * real session acks them) -> (delay | hang) -> exited. cancel() before the exit ends the run at once
 * with killed 'cancel' (as the agent reports a killed process group); after the exit it does nothing.
 * A sink that rejects ends the run as the session does: killed 'cancel', error 'storing output failed'.
 * `lost`, `error`, `killed` and `signal` are reported as given; the fake does not time anything
 * itself (a `killed: 'timeout'` is what the agent would say after the timeout).
 */
import type {
  AgentConnection,
  CommandExit,
  CommandSink,
  CommandSpec,
  RunningCommand,
  TransferSpec,
} from '../../master/agents/agent-connection.ts';

export interface FakeChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export const stdout = (data: string | Buffer): FakeChunk => ({ stream: 'stdout', data: Buffer.from(data) });
export const stderr = (data: string | Buffer): FakeChunk => ({ stream: 'stderr', data: Buffer.from(data) });

/** What a command does. Every field is optional: `{}` exits 0 at once without output. */
export interface FakeBehaviour {
  output?: FakeChunk[];
  /** Exit code; default 0, or null when the run was killed, lost, failed to start or ended by a signal. */
  exit?: number | null;
  signal?: string;
  killed?: 'timeout' | 'maxTime' | 'cancel';
  /** The agent went away before the command ended (after the output, if any). */
  lost?: boolean;
  /** The agent could not run the command (e.g. program not found). */
  error?: string;
  /** Waits this long (a real timer) after the output before exiting; cancel() cuts it short. */
  delayMs?: number;
  /** Never exits on its own: only cancel() ends it (killed 'cancel'). */
  hang?: boolean;
  /** The duration reported; default `delayMs` or 0. */
  durationMs?: number;
}

export type FakeMatcher = string | string[] | RegExp | ((spec: CommandSpec) => boolean);
/** A fixed behaviour, or one computed from the spec (to echo an environment variable, say). */
export type FakeScript = FakeBehaviour | ((spec: CommandSpec) => FakeBehaviour);

/** One command the build started, as the fake saw it. */
export interface StartedCommand {
  spec: CommandSpec;
  /** The shell string, or the argv joined with spaces: what matchers by string and RegExp read. */
  command: string;
  cancelled: boolean;
  /** Set once the run ended. */
  exit: CommandExit | null;
}

interface Rule {
  matches: (spec: CommandSpec) => boolean;
  scripts: FakeScript[];
  used: number;
}

const sameArgv = (a: string[], b: string[] | undefined) => b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);

export function commandText(spec: CommandSpec): string {
  return spec.shell ?? (spec.argv ?? []).join(' ');
}

function matcher(m: FakeMatcher): (spec: CommandSpec) => boolean {
  if (typeof m === 'function') return m;
  if (m instanceof RegExp) return (spec) => m.test(commandText(spec));
  if (Array.isArray(m)) return (spec) => sameArgv(m, spec.argv);
  return (spec) => spec.shell === m;
}

export class FakeAgentConnection implements AgentConnection {
  readonly started: StartedCommand[] = [];
  private readonly rules: Rule[] = [];
  private readonly startWaiters: { matches: (spec: CommandSpec) => boolean; resolve: (c: StartedCommand) => void }[] = [];

  constructor(
    readonly name = 'fake-agent',
    private readonly otherwise: FakeScript = {},
  ) {}

  /** Scripts the commands `match` selects: one behaviour per start, the last repeated. */
  on(match: FakeMatcher, first: FakeScript, ...then: FakeScript[]): this {
    this.rules.push({ matches: matcher(match), scripts: [first, ...then], used: 0 });
    return this;
  }

  /** The shell strings / argvs started so far, in order. */
  get commands(): string[] {
    return this.started.map((c) => c.command);
  }

  /** Resolves with the first command `match` selects, once it has started (at once if it already has). */
  whenStarted(match: FakeMatcher): Promise<StartedCommand> {
    const matches = matcher(match);
    const seen = this.started.find((c) => matches(c.spec));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.startWaiters.push({ matches, resolve }));
  }

  start(spec: CommandSpec, sink: CommandSink): RunningCommand {
    const record: StartedCommand = { spec, command: commandText(spec), cancelled: false, exit: null };
    this.started.push(record);
    const cancellation = new AbortController();
    const done = actOut(this.behaviourFor(spec), sink, cancellation.signal).then((exit) => {
      record.exit = exit;
      return exit;
    });
    for (const w of this.startWaiters.filter((x) => x.matches(spec))) {
      this.startWaiters.splice(this.startWaiters.indexOf(w), 1);
      w.resolve(record);
    }
    return {
      done,
      cancel: () => {
        if (record.exit !== null) return;
        record.cancelled = true;
        cancellation.abort();
      },
    };
  }

  /** File transfers are not faked: they need a real agent (test/integration/file-transfer.test.ts). */
  transfer(spec: TransferSpec): RunningCommand {
    const error = `the in-memory fake agent does not transfer files (${spec.kind} of ${spec.path})`;
    return { done: Promise.resolve({ code: null, signal: null, killed: null, durationMs: 0, lost: false, error }), cancel: () => {} };
  }

  private behaviourFor(spec: CommandSpec): FakeBehaviour {
    const rule = this.rules.find((r) => r.matches(spec));
    const script = rule ? (rule.scripts[Math.min(rule.used++, rule.scripts.length - 1)] ?? {}) : this.otherwise;
    return typeof script === 'function' ? script(spec) : script;
  }
}

async function actOut(b: FakeBehaviour, sink: CommandSink, cancelled: AbortSignal): Promise<CommandExit> {
  // A real command takes a moment to run: a cancel() right after start() still reaches it.
  await Promise.resolve();
  // Handed over at once, in order; awaited in order: what the real session does with a burst of frames.
  const stored = (b.output ?? []).map((c) => sink.output(c.stream, c.data));
  let storeFailed: string | null = null;
  for (const s of stored) {
    try {
      await s;
    } catch (e) {
      storeFailed ??= `storing output failed: ${String(e)}`;
    }
  }
  // The real session cancels a run whose output could not be stored; the agent reports it killed.
  if (storeFailed !== null || (await ending(b, cancelled)) === 'cancel') {
    return { code: null, signal: null, killed: 'cancel', durationMs: b.durationMs ?? 0, lost: false, error: storeFailed };
  }
  const abnormal = b.killed !== undefined || b.lost === true || b.error !== undefined || b.signal !== undefined;
  return {
    code: b.exit !== undefined ? b.exit : abnormal ? null : 0,
    signal: b.signal ?? null,
    killed: b.killed ?? null,
    durationMs: b.durationMs ?? b.delayMs ?? 0,
    lost: b.lost ?? false,
    error: storeFailed ?? b.error ?? null,
  };
}

/** How the run ends: 'cancel' once cancelled (even while its output was being stored), else after the delay. */
function ending(b: FakeBehaviour, cancelled: AbortSignal): Promise<'exit' | 'cancel'> {
  if (cancelled.aborted) return Promise.resolve('cancel');
  if (!b.hang && (b.delayMs ?? 0) <= 0) return Promise.resolve('exit');
  return new Promise((resolve) => {
    const timer = b.hang ? undefined : setTimeout(() => resolve('exit'), b.delayMs);
    cancelled.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve('cancel');
    });
  });
}
