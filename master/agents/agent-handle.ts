/**
 * The master's lasting view of one agent across its connections: what builds run commands on.
 *
 * States: gone (no session yet, or grace over) -> connected (a session attached)
 *   connected -> detached (the session closed: its runs wait up to `graceMs`)
 *   detached -> connected (the agent came back within grace: the runs it still has are adopted and
 *     continue, the rest are lost) | gone (grace over, or the master closes: the runs are lost, so
 *     their steps end RETRY)
 * A command started while detached waits for the agent to come back, up to the grace period; one
 * started while gone is lost at once.
 * Transitions go through attach(), detach() and expire(), which check the state they leave and
 * throw InvalidStateError when it is wrong: a second session while one is connected, a session
 * already closed, a close of a session that is not the connected one.
 */
import type { AgentConnection, CommandExit, CommandSink, CommandSpec, RunningCommand } from './agent-connection.ts';
import type { AgentSession, Run } from './agent-session.ts';
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

  /**
   * gone | detached -> connected: a new, open connection of this agent. Returns the ids of the runs
   * in `agentRuns` it should resume (the agent kills the rest).
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
        resume = agentRuns.flatMap((id) => waitingRuns.get(id) ?? []);
        // Runs the agent no longer has ended while nobody listened: they are lost.
        for (const run of waitingRuns.values()) if (!resume.includes(run)) run.lose();
        break;
      }
      case HandleModes.gone:
        break; // nothing waits: runs the agent still has are unknown here, so it kills them
      default: {
        const never: never = this.state;
        throw this.refused(`attach in unknown state ${JSON.stringify(never)}`);
      }
    }
    session.adopt(resume);
    this.state = { mode: HandleModes.connected, session };
    session.onClosed((orphans) => this.detach(session, orphans));
    for (const wake of this.sessionWaiters.splice(0)) wake(session);
    return resume.map((run) => run.id);
  }

  start(spec: CommandSpec, sink: CommandSink): RunningCommand {
    if (this.state.mode === HandleModes.connected && this.state.session.isOpen) return this.state.session.start(spec, sink);
    let cancelled = false;
    let inner: RunningCommand | null = null;
    const done = (async (): Promise<CommandExit> => {
      const session = await this.waitForSession();
      if (cancelled) return CANCELLED;
      if (!session) return LOST;
      inner = session.start(spec, sink);
      return inner.done;
    })();
    return {
      done,
      cancel: () => {
        cancelled = true;
        inner?.cancel();
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
    for (const run of waitingRuns.values()) run.lose();
    for (const wake of this.sessionWaiters.splice(0)) wake(null);
  }

  private refused(action: string): InvalidStateError {
    return new InvalidStateError(`handle of agent ${this.name}`, this.state.mode, action);
  }
}
