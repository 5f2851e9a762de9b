/**
 * The master's lasting view of one agent across its connections: what builds run commands on.
 *
 * States: connected (a session) -> detached (no session: its runs wait up to `graceMs`) ->
 *   connected (the agent came back within grace: the runs it still has are adopted and continue) |
 *   gone (grace over: the runs are lost, so their steps end RETRY) -> connected (a later connection).
 * A command started while detached waits for the agent to come back, up to the grace period.
 */
import type { AgentConnection, CommandExit, CommandSink, CommandSpec, RunningCommand } from './agent-connection.ts';
import { loseRun, type AgentSession, type Run } from './agent-session.ts';

type HandleState = 'connected' | 'detached' | 'gone';

export class AgentHandle implements AgentConnection {
  private state: HandleState = 'gone';
  private session: AgentSession | null = null;
  private detached = new Map<string, Run>();
  private graceTimer: NodeJS.Timeout | null = null;
  private waiters: ((session: AgentSession | null) => void)[] = [];

  constructor(
    readonly name: string,
    private readonly graceMs: number,
  ) {}

  get connected(): boolean {
    return this.state === 'connected' && this.session !== null && this.session.isOpen;
  }

  /** A new connection of this agent; returns the ids of the runs it should resume (the rest it kills). */
  attach(session: AgentSession, agentRuns: string[]): string[] {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    const resume = agentRuns.filter((id) => this.detached.has(id));
    session.adopt(resume.map((id) => this.detached.get(id) as Run));
    // Runs the agent no longer has ended while nobody listened: they are lost.
    for (const [id, run] of this.detached) if (!resume.includes(id)) loseRun(run);
    this.detached.clear();
    this.session = session;
    this.state = 'connected';
    session.onClosed((orphans) => this.detach(session, orphans));
    for (const w of this.waiters.splice(0)) w(session);
    return resume;
  }

  start(spec: CommandSpec, sink: CommandSink): RunningCommand {
    if (this.connected) return (this.session as AgentSession).start(spec, sink);
    let cancelled = false;
    let inner: RunningCommand | null = null;
    const done = (async (): Promise<CommandExit> => {
      const session = await this.waitForSession();
      if (cancelled) return { code: null, signal: null, killed: 'cancel', durationMs: 0, lost: false, error: null };
      if (!session) return { code: null, signal: null, killed: null, durationMs: 0, lost: true, error: null };
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

  private waitForSession(): Promise<AgentSession | null> {
    if (this.connected) return Promise.resolve(this.session);
    if (this.state === 'gone') return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private detach(session: AgentSession, orphans: Run[]): void {
    if (this.session !== session) {
      orphans.forEach(loseRun);
      return;
    }
    this.session = null;
    this.state = 'detached';
    for (const run of orphans) this.detached.set(run.id, run);
    this.graceTimer = setTimeout(() => this.expire(), this.graceMs);
  }

  private expire(): void {
    this.graceTimer = null;
    this.state = 'gone';
    for (const run of this.detached.values()) loseRun(run);
    this.detached.clear();
    for (const w of this.waiters.splice(0)) w(null);
  }

  /** Master shutting down: nothing will come back. */
  close(): void {
    if (this.graceTimer) this.expire();
  }
}
