/**
 * One authenticated agent connection, seen from the master, and the runs (commands) it carries.
 *
 * A session:  open -> closed (terminal; the socket closed, whoever closed it).
 * Runs outlive a session: when it closes, its runs still started are handed to `onClosed` listeners
 * (the agent handle keeps them for the grace period) and can be adopted by the agent's next session,
 * which continues them where they stopped. A closed session adopts nothing and takes no listener.
 * A run:  started -> (output*) -> exited (all output before it stored; exit acked)
 *         started -> lost (its agent went away past the grace period, or was gone when it started)
 * Output must arrive in seq order: a seq already seen is a replay (after a reconnect) and is dropped
 * and re-acked once stored; a seq past the next expected is a gap, a protocol error that closes the
 * connection. The exit is acked with its own seq, so the agent can forget the run.
 * Transitions go through methods that check the state they leave (Run.exit(), Run.lose(),
 * Run.moveTo(), AgentSession's close handling) and throw InvalidStateError when it is wrong.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Logger } from '../../core/logger.ts';
import { InvalidStateError } from '../../core/errors/invalid-state-error.ts';
import type { CommandExit, CommandSink, CommandSpec, RunningCommand } from './agent-connection.ts';
import { closeReason } from '../../protocol/close-reason.ts';
import { parseAgentMessage, type AgentMessage, type MasterMessage } from '../../protocol/messages.ts';

export const CLOSE_PROTOCOL_ERROR = 1008;
const LOST: CommandExit = { code: null, signal: null, killed: null, durationMs: 0, lost: true, error: null };

export const RunStates = { started: 'started', exited: 'exited', lost: 'lost' } as const;
export type RunState = (typeof RunStates)[keyof typeof RunStates];

/** One command the master asked an agent to run: where its output goes, how far it got, who carries it. */
export class Run {
  readonly id = randomUUID();
  /** Resolves with how the command ended: once, after everything received before the end is stored. */
  readonly done: Promise<CommandExit>;
  /** The seq the next new output must carry. */
  nextSeq = 0;
  /** Resolves when everything received so far is stored. */
  stored: Promise<void> = Promise.resolve();
  /** What the agent reported going wrong (an `error` frame); given with the exit. */
  error: string | null = null;
  private readonly resolve: (exit: CommandExit) => void;
  private current: RunState = RunStates.started;
  private storeFailure: string | null = null;
  private carrier: AgentSession;

  constructor(
    readonly sink: CommandSink,
    session: AgentSession,
  ) {
    let resolve!: (exit: CommandExit) => void;
    this.done = new Promise<CommandExit>((r) => (resolve = r));
    this.resolve = resolve;
    this.carrier = session;
  }

  get state(): RunState {
    return this.current;
  }

  /** The session that carries the run now (changes when the agent reconnects). */
  get session(): AgentSession {
    return this.carrier;
  }

  /** Why storing output failed; once set, the run is cancelled and nothing more is stored or acked. */
  get storeFailed(): string | null {
    return this.storeFailure;
  }

  /** A started run goes on in the agent's next session. */
  moveTo(session: AgentSession): void {
    if (this.current !== RunStates.started) throw this.refused('move to another session');
    this.carrier = session;
  }

  /** Records the first failure to store output (there is no second: nothing is stored after it). */
  failStore(reason: string): void {
    if (this.storeFailure !== null) throw this.refused('fail storing output again');
    this.storeFailure = reason;
  }

  /** started -> exited: the agent's exit frame. `onStored` runs, then the command resolves, once all output is stored. */
  exit(frame: Pick<CommandExit, 'code' | 'signal' | 'killed' | 'durationMs'>, onStored: () => void): void {
    this.enter(RunStates.exited, 'exit');
    void this.stored.then(() => {
      onStored();
      this.resolve({ ...frame, lost: false, error: this.storeFailure ?? this.error });
    });
  }

  /** started -> lost: the agent is gone for good; the command resolves as lost once stored output is. */
  lose(): void {
    this.enter(RunStates.lost, 'be lost');
    void this.stored.then(() => this.resolve(LOST));
  }

  private enter(to: RunState, action: string): void {
    if (this.current !== RunStates.started) throw this.refused(action);
    this.current = to;
  }

  private refused(action: string): InvalidStateError {
    const state = this.storeFailure === null ? this.current : `${this.current} (storing failed)`;
    return new InvalidStateError(`run ${this.id} on agent ${this.carrier.name}`, state, action);
  }
}

export const SessionStates = { open: 'open', closed: 'closed' } as const;
export type SessionState = (typeof SessionStates)[keyof typeof SessionStates];

export class AgentSession {
  /** Runs this session carries: started, or exited and waiting for their output to be stored. */
  private readonly runs = new Map<string, Run>();
  private current: SessionState = SessionStates.open;
  private lastHeard = Date.now();
  private readonly heartbeatTimer: NodeJS.Timeout;
  private readonly closeListeners: ((orphans: Run[]) => void)[] = [];

  constructor(
    readonly name: string,
    private readonly ws: WebSocket,
    private readonly log: Logger,
    heartbeatMs: number,
    missedHeartbeats: number,
  ) {
    ws.on('message', (data, isBinary) => this.onFrame(isBinary ? null : data.toString()));
    ws.on('close', () => this.onClose());
    ws.on('error', (e) => this.log.warn('agent socket error', { agent: name, error: e.message }));
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > heartbeatMs * missedHeartbeats) {
        this.log.warn('agent missed heartbeats; dropping the connection', { agent: name });
        ws.terminate();
        return;
      }
      this.send({ type: 'ping' });
    }, heartbeatMs);
  }

  get state(): SessionState {
    return this.current;
  }

  get isOpen(): boolean {
    return this.current === SessionStates.open;
  }

  /** Called with the runs still going when the connection closes. Only while open: a closed session never calls it. */
  onClosed(listener: (orphans: Run[]) => void): void {
    if (this.current !== SessionStates.open) throw this.refused('take a close listener');
    this.closeListeners.push(listener);
  }

  /** Sends the command to the agent; on a closed session it ends at once as lost, sending nothing. */
  start(spec: CommandSpec, sink: CommandSink): RunningCommand {
    const run = new Run(sink, this);
    if (this.current === SessionStates.closed) {
      run.lose();
      return { done: run.done, cancel: () => {} };
    }
    this.runs.set(run.id, run);
    const { argv, shell, ...rest } = spec;
    this.send({ type: 'run', run: run.id, ...(argv ? { argv } : {}), ...(shell ? { shell } : {}), ...rest });
    return { done: run.done, cancel: () => run.session.send({ type: 'cancel', run: run.id }) };
  }

  /** Takes over runs of an earlier connection of the same agent; the agent resends what was not acked. */
  adopt(runs: Run[]): void {
    if (this.current !== SessionStates.open) throw this.refused('adopt runs');
    for (const run of runs) {
      run.moveTo(this);
      this.runs.set(run.id, run);
    }
  }

  /** Asks the socket to close (the session becomes closed when it has); nothing to do if it is closed. */
  close(reason: string): void {
    if (this.current === SessionStates.open) this.ws.close(CLOSE_PROTOCOL_ERROR, closeReason(reason));
  }

  /** Sends if open; a frame for a closed session is dropped (a cancel racing a disconnect, say). */
  send(message: MasterMessage): void {
    if (this.current === SessionStates.open && this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }

  private refused(action: string): InvalidStateError {
    return new InvalidStateError(`session of agent ${this.name}`, this.current, action);
  }

  private protocolError(reason: string): void {
    this.log.warn('agent protocol error; closing', { agent: this.name, reason });
    this.close(reason);
  }

  private onFrame(raw: string | null): void {
    this.lastHeard = Date.now();
    if (raw === null) return this.protocolError('binary frames are not part of the protocol');
    const parsed = parseAgentMessage(raw);
    if (!parsed.ok) return this.protocolError(parsed.error);
    this.onMessage(parsed.message);
  }

  private onMessage(m: AgentMessage): void {
    switch (m.type) {
      case 'pong':
        return;
      case 'hello':
        return this.protocolError('hello after authentication');
      case 'output': {
        const run = this.runs.get(m.run);
        if (!run || run.state !== RunStates.started) return this.protocolError(`output for unknown run ${m.run}`);
        if (m.seq > run.nextSeq) return this.protocolError(`output seq ${m.seq} for run ${m.run}, expected ${run.nextSeq}`);
        if (m.seq < run.nextSeq) {
          // A replay: re-ack what is stored, but only once it is (the original may still be in flight).
          const upTo = run.nextSeq - 1;
          run.stored = run.stored.then(() => {
            if (run.storeFailed === null) run.session.send({ type: 'ack', run: m.run, seq: upTo });
          });
          return;
        }
        run.nextSeq++;
        const seq = m.seq;
        // Hand the bytes over at once (the sink keeps order and batches); only the acks wait, in order.
        const stored = run.storeFailed === null ? run.sink.output(m.stream, Buffer.from(m.data, 'base64')) : Promise.resolve();
        stored.catch(() => {}); // handled below, in order
        run.stored = run.stored.then(async () => {
          if (run.storeFailed !== null) return;
          try {
            await stored;
            run.session.send({ type: 'ack', run: m.run, seq });
          } catch (e) {
            run.failStore(`storing output failed: ${String(e)}`);
            this.log.error('storing output failed; cancelling the command', { agent: this.name, run: m.run, error: String(e) });
            run.session.send({ type: 'cancel', run: m.run });
          }
        });
        return;
      }
      case 'error': {
        const run = this.runs.get(m.run);
        if (!run) return this.protocolError(`error for unknown run ${m.run}`);
        run.error = m.message;
        return;
      }
      case 'exit': {
        const run = this.runs.get(m.run);
        if (!run || run.state !== RunStates.started) return this.protocolError(`exit for unknown run ${m.run}`);
        if (m.seq !== run.nextSeq) return this.protocolError(`exit after seq ${m.seq} for run ${m.run}, received up to ${run.nextSeq}`);
        run.exit({ code: m.code, signal: m.signal, killed: m.killed, durationMs: m.durationMs }, () => {
          this.runs.delete(m.run);
          // Acking the exit's own seq tells the agent it may forget the run.
          run.session.send({ type: 'ack', run: m.run, seq: m.seq });
        });
        return;
      }
      default: {
        const never: never = m;
        return this.protocolError(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }

  /** open -> closed, on the socket's close event (which ws emits once). */
  private onClose(): void {
    if (this.current !== SessionStates.open) throw this.refused('close again');
    this.current = SessionStates.closed;
    clearInterval(this.heartbeatTimer);
    const orphans = [...this.runs.values()].filter((r) => r.session === this && r.state === RunStates.started);
    this.runs.clear();
    if (this.closeListeners.length === 0) orphans.forEach((r) => r.lose());
    for (const listener of this.closeListeners) {
      // One listener's bug must not keep the others (the handle, the registry) from hearing of the close.
      try {
        listener(orphans);
      } catch (e) {
        this.log.error('a close listener of an agent session failed', { agent: this.name, error: String(e) });
      }
    }
  }
}
