/**
 * One authenticated agent connection, seen from the master.
 *
 * States: open -> closed (terminal). Runs outlive a connection: when it closes, its runs are handed
 * to `onClosed` listeners (the agent handle keeps them for the grace period) and can be adopted by
 * the agent's next session, which continues them where they stopped.
 * A run:  started -> (output*) -> exited (all output before it stored; exit acked) | lost
 * Output must arrive in seq order: a seq already seen is a replay (after a reconnect) and is dropped
 * and re-acked once stored; a seq past the next expected is a gap, a protocol error that closes the
 * connection. The exit is acked with its own seq, so the agent can forget the run.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Logger } from '../../core/logger.ts';
import type { CommandExit, CommandSink, CommandSpec, RunningCommand } from './agent-connection.ts';
import { closeReason } from '../../protocol/close-reason.ts';
import { parseAgentMessage, type AgentMessage, type MasterMessage } from '../../protocol/messages.ts';

export interface Run {
  id: string;
  sink: CommandSink;
  nextSeq: number;
  /** Resolves when everything received so far is stored. */
  stored: Promise<void>;
  resolve(exit: CommandExit): void;
  error: string | null;
  /** Storing output failed: the run is cancelled and nothing more from it is stored or acked. */
  storeFailed: string | null;
  finished: boolean;
  /** The session that carries the run now (changes when the agent reconnects). */
  session: AgentSession;
}

export const CLOSE_PROTOCOL_ERROR = 1008;
const LOST: CommandExit = { code: null, signal: null, killed: null, durationMs: 0, lost: true, error: null };

export function loseRun(run: Run): void {
  void run.stored.then(() => run.resolve(LOST));
}

export class AgentSession {
  private readonly runs = new Map<string, Run>();
  private closed = false;
  private lastHeard = Date.now();
  private heartbeat: NodeJS.Timeout | null = null;
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
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastHeard > heartbeatMs * missedHeartbeats) {
        this.log.warn('agent missed heartbeats; dropping the connection', { agent: name });
        ws.terminate();
        return;
      }
      this.send({ type: 'ping' });
    }, heartbeatMs);
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Called with the runs still going when the connection closes. */
  onClosed(listener: (orphans: Run[]) => void): void {
    this.closeListeners.push(listener);
  }

  start(spec: CommandSpec, sink: CommandSink): RunningCommand {
    let resolve!: (exit: CommandExit) => void;
    const done = new Promise<CommandExit>((r) => (resolve = r));
    const run: Run = {
      id: randomUUID(),
      sink,
      nextSeq: 0,
      stored: Promise.resolve(),
      resolve,
      error: null,
      storeFailed: null,
      finished: false,
      session: this,
    };
    if (this.closed) {
      resolve(LOST);
      return { done, cancel: () => {} };
    }
    this.runs.set(run.id, run);
    const { argv, shell, ...rest } = spec;
    this.send({ type: 'run', run: run.id, ...(argv ? { argv } : {}), ...(shell ? { shell } : {}), ...rest });
    return { done, cancel: () => run.session.send({ type: 'cancel', run: run.id }) };
  }

  /** Takes over runs of an earlier connection of the same agent; the agent resends what was not acked. */
  adopt(runs: Run[]): void {
    for (const run of runs) {
      run.session = this;
      this.runs.set(run.id, run);
    }
  }

  close(reason: string): void {
    if (!this.closed) this.ws.close(CLOSE_PROTOCOL_ERROR, closeReason(reason));
  }

  send(message: MasterMessage): void {
    if (!this.closed && this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
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
        if (!run || run.finished) return this.protocolError(`output for unknown run ${m.run}`);
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
            run.storeFailed = `storing output failed: ${String(e)}`;
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
        if (!run || run.finished) return this.protocolError(`exit for unknown run ${m.run}`);
        if (m.seq !== run.nextSeq) return this.protocolError(`exit after seq ${m.seq} for run ${m.run}, received up to ${run.nextSeq}`);
        run.finished = true;
        void run.stored.then(() => {
          this.runs.delete(m.run);
          // Acking the exit's own seq tells the agent it may forget the run.
          run.session.send({ type: 'ack', run: m.run, seq: m.seq });
          const error = run.storeFailed ?? run.error;
          run.resolve({ code: m.code, signal: m.signal, killed: m.killed, durationMs: m.durationMs, lost: false, error });
        });
        return;
      }
      default: {
        const never: never = m;
        return this.protocolError(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    const orphans = [...this.runs.values()].filter((r) => r.session === this && !r.finished);
    this.runs.clear();
    if (this.closeListeners.length === 0) orphans.forEach(loseRun);
    for (const l of this.closeListeners) l(orphans);
  }
}
