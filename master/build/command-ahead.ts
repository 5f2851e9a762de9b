/**
 * Steps' commands sent to the agent while the steps before them run (protocol 5, `run` with
 * `after`): the agent starts each the moment the one before exits 0, so a build of short commands
 * does not pay a round trip through the master (its frame, its step bookkeeping, the reply) between
 * each two; the master follows a few steps behind, storing as the commands end.
 *
 * The build runner sends a step's command ahead only when every step before it, back to the one
 * running, cannot end otherwise than SUCCESS on exit 0 and cannot change what the command renders
 * (`planAhead` below); up to AHEAD_DEPTH commands ahead. When a step starts, its runtime
 * adopts the command if the one it asks for is the same (step-runtime.ts); the output the agent sent
 * meanwhile waits here, in order, and goes into the step's log then. Commands the build does not
 * adopt (a stop, a step ending otherwise than planned) are cancelled and their output dropped: the
 * agent kills those that started.
 */
import type { AgentConnection, CommandExit, CommandSink, CommandSpec, RunningCommand } from '../agents/agent-connection.ts';
import type { Step } from '../../steps/step.ts';
import type { PropertyReader } from '../../steps/properties/interpolate.ts';
import { agentWorkdir, commandSpec } from './step-runtime.ts';

/** How many commands may be sent ahead of the step running. */
export const AHEAD_DEPTH = 4;

/**
 * The commands to send ahead while step `running` runs: those of the steps after `last` (the last
 * sent already, or `running`), up to AHEAD_DEPTH past `running`, for as long as each step before
 * cannot end otherwise than SUCCESS on exit 0 nor change a property (the step after it then runs, as
 * rendered now) and each step runs whatever comes (no doStepIf, not an alwaysRun step, whose place
 * after a stop differs) with a command known before it starts. `dirname`: the builder's directory.
 */
export async function planAhead(
  steps: readonly Step[],
  dirname: string,
  running: number,
  last: number,
  props: PropertyReader,
): Promise<CommandAhead[]> {
  const plans: CommandAhead[] = [];
  for (let i = last + 1; i <= running + AHEAD_DEPTH; i++) {
    const before = steps[i - 1];
    const step = steps[i];
    if (!before?.succeedsOnExitZero() || !step || step.alwaysRun) break;
    if (step.options.doStepIf !== undefined && step.options.doStepIf !== true) break;
    const request = await step.requestAhead(props).catch(() => null); // its own run() renders it again, and reports the error
    if (!request) break;
    plans.push(new CommandAhead(i, commandSpec(request, agentWorkdir({ dirname }, request))));
  }
  return plans;
}

/** Output of a command not adopted yet: held, in order, until a sink takes it or it is dropped. */
class HeldSink implements CommandSink {
  private target: CommandSink | null = null;
  private dropped = false;
  private held: { stream: 'stdout' | 'stderr'; data: Buffer; stored: (p: Promise<void>) => void }[] = [];
  /** Whether any output came: the command surely started. */
  heardFrom = false;

  output(stream: 'stdout' | 'stderr', data: Buffer): Promise<void> {
    this.heardFrom = true;
    if (this.target) return this.target.output(stream, data);
    if (this.dropped) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.held.push({ stream, data, stored: (p) => p.then(resolve, reject) }));
  }

  /** Hands what is held to `sink`, in order, and from now on what comes. */
  attach(sink: CommandSink): void {
    this.target = sink;
    for (const { stream, data, stored } of this.held.splice(0)) stored(sink.output(stream, data));
  }

  /** Forgets what is held (its acks go out, as if stored) and what comes. */
  drop(): void {
    this.dropped = true;
    for (const { stored } of this.held.splice(0)) stored(Promise.resolve());
  }
}

const CANCELLED: CommandExit = { code: null, signal: null, killed: 'cancel', durationMs: 0, lost: false, error: null };

export class CommandAhead {
  private readonly held = new HeldSink();
  private sent: RunningCommand | null = null;
  private settled = false;
  private taken = false;

  /** `spec`: step `index`'s command, rendered before the steps before it ran. */
  constructor(
    readonly index: number,
    readonly spec: CommandSpec,
  ) {}

  /** Whether its step took it (adopt()). */
  get adopted(): boolean {
    return this.taken;
  }

  /** The command on the agent, once sent. */
  get running(): RunningCommand | null {
    return this.sent;
  }

  /** Sends the command to start after `before` on `agent`; false if it could not be (nothing was sent). */
  send(agent: AgentConnection, before: RunningCommand): boolean {
    this.sent = agent.startAfter?.(before, this.spec, this.held) ?? null;
    return this.sent !== null;
  }

  /**
   * The step asks for `spec`: the command sent ahead if it is that one (its output so far into
   * `sink`), or null (it is cancelled then, and the step starts its own). Should the agent have
   * skipped it (the command before did not exit 0, but the build went on), or be lost with it before
   * any output (it went away between the steps, as it could have before this command was sent: a
   * command lost after its output began ends its step RETRY, as any command), `startAgain` starts
   * the command now (waiting for the agent as any command does), or gives null when the step was
   * stopped meanwhile. Once.
   */
  adopt(spec: CommandSpec, sink: CommandSink, startAgain: () => RunningCommand | null): RunningCommand | null {
    const running = this.sent;
    if (!running || this.settled) return null;
    if (JSON.stringify(spec) !== JSON.stringify(this.spec)) {
      this.drop();
      return null;
    }
    this.settled = true;
    this.taken = true;
    this.held.attach(sink);
    let current = running;
    const done = running.done.then((exit) => {
      // Lost having said nothing: it may never have started (the agent went away between the steps).
      if (!exit.skipped && !(exit.lost && !this.held.heardFrom)) return exit;
      const again = startAgain();
      if (!again) return CANCELLED;
      current = again;
      return again.done;
    });
    return { done, cancel: () => current.cancel(), ...(running.run !== undefined ? { run: running.run } : {}) };
  }

  /** Not wanted (the build stopped, or went another way): cancelled on the agent, its output dropped. Idempotent. */
  drop(): void {
    if (this.settled) return;
    this.settled = true;
    this.sent?.cancel();
    this.held.drop();
  }
}

/**
 * The commands of a build sent ahead, in step order, each after the one before (or after the
 * command of the step running). A step takes the first when it is that step's; any other turn of the
 * build (a step skipped, a stop, a halt) drops them all.
 */
export class CommandPipeline {
  private readonly queued: CommandAhead[] = [];

  /** Step `index`'s command if it is the first sent ahead; otherwise none, and every command sent ahead is dropped. */
  take(index: number): CommandAhead | null {
    if (this.queued[0]?.index === index) return this.queued.shift() ?? null;
    this.dropAll();
    return null;
  }

  /** The step after which planning goes on: the last sent ahead's, or `running` (the step now running) when none is. */
  lastIndex(running: number): number {
    return this.queued.at(-1)?.index ?? running;
  }

  /**
   * Sends `plans` in order, the first after the last sent ahead (or after `running`, the command of
   * step `runningIndex`, when none is); stops at one that cannot be sent. Plans that do not follow on
   * (those sent ahead were dropped since they were made) are not sent: they would skip steps.
   */
  send(plans: CommandAhead[], running: RunningCommand, runningIndex: number, agent: AgentConnection): void {
    let before = this.queued.at(-1)?.running ?? running;
    let index = this.lastIndex(runningIndex);
    for (const plan of plans) {
      if (plan.index !== ++index) return;
      if (!plan.send(agent, before) || !plan.running) return;
      this.queued.push(plan);
      before = plan.running;
    }
  }

  dropAll(): void {
    for (const ahead of this.queued.splice(0)) ahead.drop();
  }
}
