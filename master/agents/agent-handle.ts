/**
 * The master's lasting view of one agent across its connections: what builds run commands on.
 *
 * States: gone (no session yet, or grace over) -> connected (a session attached)
 *   connected -> detached (the session closed: its runs wait up to `graceMs`)
 *   detached -> connected (the agent came back within grace: the runs it still has are adopted and
 *     continue, the rest are lost) | gone (grace over, or the master closes: the runs are lost, so
 *     their steps end RETRY)
 * A command started while detached waits for the agent to come back, up to the grace period; one
 * started while gone is lost at once. A cancel never waits for the agent: a command waiting for it,
 * or a run it left behind, ends cancelled at once, and is not resumed when the agent is back (so the
 * agent kills it).
 * Transitions go through attach(), detach() and expire(), which check the state they leave and
 * throw InvalidStateError when it is wrong: a second session while one is connected, a session
 * already closed, a close of a session that is not the connected one.
 */
import type { AgentConnection, CommandExit, CommandSink, CommandSpec, RunningCommand, TransferSpec } from './agent-connection.ts';
import { RunStates, type AgentSession, type Run } from './agent-session.ts';
import { InvalidStateError } from '../../core/errors/invalid-state-error.ts';

export const HandleModes = { connected: 'connected', detached: 'detached', gone: 'gone' } as const;
export type HandleMode = (typeof HandleModes)[keyof typeof HandleModes];

/** Each mode with what it holds: the session while connected, the waiting runs while detached. */
type HandleState =
  | { mode: typeof HandleModes.connected; session: AgentSession }
  | { mode: typeof HandleModes.detached; waitingRuns: Map<string, Run>; graceTimer: NodeJS.Timeout }
  | { mode: typeof HandleModes.gone };

const LOST: CommandExit = { code: null, signal: null, killed: null, durationMs: 0, lost: true, error: null };
const CANCELLED: CommandExit = { code: null, signal: null, killed: 'cancel', durationMs: 0, lost: false, error: null };

export class AgentHandle implements AgentConnection {
  private state: HandleState = { mode: HandleModes.gone };
  /** Commands started while detached, waiting for a session (or null: the agent is gone). */
  private sessionWaiters: ((session: AgentSession | null) => void)[] = [];

  constructor(
    readonly name: string,
    private readonly graceMs: number,
  ) {}

  get mode(): HandleMode {
    return this.state.mode;
  }

  get connected(): boolean {
    return this.state.mode === HandleModes.connected && this.state.session.isOpen;
  }

  /** The open session while connected (for diagnostics and tests: its flow control), else null. */
  get session(): AgentSession | null {
    return this.state.mode === HandleModes.connected && this.state.session.isOpen ? this.state.session : null;
  }

  /**
   * gone | detached -> connected: a new, open connection of this agent. Returns the ids of the runs
   * in `agentRuns` it should resume (the agent kills the rest). Synchronous, so that nothing the
   * agent does (a close, another hello) comes between the hello and its session being attached.
   */
  attach(session: AgentSession, agentRuns: string[]): string[] {
    if (!session.isOpen) throw this.refused('attach a session that is already closed');
    let resume: Run[] = [];
    switch (this.state.mode) {
      case HandleModes.connected:
        throw this.refused('attach a second session');
      case HandleModes.detached: {
        clearTimeout(this.state.graceTimer);
        const { waitingRuns } = this.state;
        // Runs cancelled while the agent was away have ended here: the agent is not asked to resume them.
        resume = agentRuns.flatMap((id) => {
          const run = waitingRuns.get(id);
          return run?.state === RunStates.started ? [run] : [];
        });
        // Runs the agent no longer has ended while nobody listened: they are lost.
        for (const run of waitingRuns.values()) if (run.state === RunStates.started && !resume.includes(run)) run.lose();
        break;
      }
      case HandleModes.gone:
        break; // nothing waits: runs the agent still has are unknown here, so it kills them
      default: {
        const never: never = this.state;
        throw this.refused(`attach in unknown state ${JSON.stringify(never)}`);
      }
    }
    const resumed = new Set<string>(resume.map((run) => run.id));
    session.adopt(
      resume,
      agentRuns.filter((id) => !resumed.has(id)),
    );
    this.state = { mode: HandleModes.connected, session };
    session.onClosed((orphans) => this.detach(session, orphans));
    for (const wake of this.sessionWaiters.splice(0)) wake(session);
    return resume.map((run) => run.id);
  }

  start(spec: CommandSpec, sink: CommandSink): RunningCommand {
    return this.startOnSession((session) => session.start(spec, sink));
  }

  /** Only on the connected session, and only after a command of that session: else null (see AgentConnection). */
  startAfter(before: RunningCommand, spec: CommandSpec, sink: CommandSink): RunningCommand | null {
    if (this.state.mode !== HandleModes.connected || !this.state.session.isOpen || before.run === undefined) return null;
    return this.state.session.startAfter(before.run, spec, sink);
  }

  /** A file transfer, waiting for the agent as a command does. */
  transfer(spec: TransferSpec): RunningCommand {
    return this.startOnSession((session) => session.startTransfer(spec));
  }

  private startOnSession(begin: (session: AgentSession) => RunningCommand): RunningCommand {
    if (this.state.mode === HandleModes.connected && this.state.session.isOpen) return begin(this.state.session);
    // Waits for the agent; a cancel meanwhile ends the command at once (nothing was sent).
    let settle!: (exit: CommandExit) => void;
    const done = new Promise<CommandExit>((resolve) => (settle = resolve));
    let cancelled = false;
    let inner: RunningCommand | null = null;
    void this.waitForSession().then((session) => {
      if (cancelled) return;
      if (!session) return settle(LOST);
      inner = begin(session);
      void inner.done.then(settle);
    });
    return {
      done,
      cancel: () => {
        if (inner) return inner.cancel();
        if (cancelled) return;
        cancelled = true;
        settle(CANCELLED);
      },
    };
  }

  /** Master shutting down: nothing will come back, so runs waiting for the agent are lost now. */
  close(): void {
    switch (this.state.mode) {
      case HandleModes.detached:
        return this.expire();
      case HandleModes.connected: // its session closes with the server, then grace applies
      case HandleModes.gone:
        return;
      default: {
        const never: never = this.state;
        throw this.refused(`close in unknown state ${JSON.stringify(never)}`);
      }
    }
  }

  private waitForSession(): Promise<AgentSession | null> {
    switch (this.state.mode) {
      case HandleModes.connected:
        // Open, or closing right now: then the handle is detached next and the waiter waits for grace.
        if (this.state.session.isOpen) return Promise.resolve(this.state.session);
        return new Promise((resolve) => this.sessionWaiters.push(resolve));
      case HandleModes.detached:
        return new Promise((resolve) => this.sessionWaiters.push(resolve));
      case HandleModes.gone:
        return Promise.resolve(null);
      default: {
        const never: never = this.state;
        throw this.refused(`wait in unknown state ${JSON.stringify(never)}`);
      }
    }
  }

  /** connected -> detached: the session closed; its runs wait for the agent up to the grace period. */
  private detach(session: AgentSession, orphans: Run[]): void {
    if (this.state.mode !== HandleModes.connected || this.state.session !== session) {
      orphans.forEach((run) => run.lose()); // nobody else will end them
      throw this.refused('detach a session that is not the connected one');
    }
    const waitingRuns = new Map(orphans.map((run) => [run.id, run]));
    this.state = { mode: HandleModes.detached, waitingRuns, graceTimer: setTimeout(() => this.expire(), this.graceMs) };
  }

  /** detached -> gone: grace over (or the master closes); the waiting runs and commands are lost. */
  private expire(): void {
    if (this.state.mode !== HandleModes.detached) throw this.refused('expire the grace period');
    clearTimeout(this.state.graceTimer);
    const { waitingRuns } = this.state;
    this.state = { mode: HandleModes.gone };
    for (const run of waitingRuns.values()) if (run.state === RunStates.started) run.lose();
    for (const wake of this.sessionWaiters.splice(0)) wake(null);
  }

  private refused(action: string): InvalidStateError {
    return new InvalidStateError(`handle of agent ${this.name}`, this.state.mode, action);
  }
}
