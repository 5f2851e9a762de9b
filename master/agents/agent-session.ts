/**
 * One authenticated agent connection, seen from the master, and the runs (commands) it carries.
 *
 * A session:  open -> closed (terminal; the socket closed, whoever closed it).
 * Runs outlive a session: when it closes, its runs still started are handed to `onClosed` listeners
 * (the agent handle keeps them for the grace period) and can be adopted by the agent's next session,
 * which continues them where they stopped. A closed session adopts nothing and takes no listener.
 * A run:  started -> (output*) -> exited (all output before it stored; exit acked)
 *         started -> lost (its agent went away past the grace period, or was gone when it started)
 *         started -> cancelled (cancelled while its agent was away, or its session closed after a
 *           cancel the agent may not have heard: it ends here at once, and the agent, when back, is
 *           not asked to resume it, so it kills the command)
 * Output must arrive in seq order: a seq already seen is a replay (after a reconnect) and is dropped
 * and re-acked once stored; a seq past the next expected is a gap, a protocol error that closes the
 * connection. The exit is acked with its own seq, so the agent can forget the run.
 * Flow control, whatever the agent does: output received but not yet stored is counted per session
 * and per run; past MAX_UNSTORED_BYTES (or MAX_UNSTORED_BYTES_PER_RUN for one run) the session
 * stops reading its socket (reading: flowing -> paused), and reads again once stored output is down
 * to half of both (paused -> flowing). An agent that ignores acks is slowed to the store's pace.
 * Transitions go through methods that check the state they leave (Run.exit(), Run.lose(),
 * Run.cancel(), Run.moveTo(), AgentSession's close handling) and throw InvalidStateError when it is wrong.
 * File transfers (protocol 3) are runs too, of another kind: an upload's bytes come as `output` of
 * stream `file` (acked, replayed and flow-controlled as a command's output); a download's go the other
 * way, through its DownloadSender (download-sender.ts), which the agent's `ack` frames pace. A session
 * of a protocol 2 agent ends every transfer at once with an error saying to upgrade the agent.
 */
import type { Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../../core/logger.ts';
import { InvalidStateError } from '../../core/errors/invalid-state-error.ts';
import type { CommandSink, CommandSpec, RunningCommand } from './agent-connection.ts';
import { closeReason } from '../../protocol/close-reason.ts';
import {
  AHEAD_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  TRANSFER_PROTOCOL_VERSION,
  parseAgentMessage,
  type AgentMessage,
  type MasterMessage,
} from '../../protocol/messages.ts';
import type { TransferSpec } from './agent-connection.ts';
import { DownloadSender } from './download-sender.ts';
import { Run, RunStates } from './agent-run.ts';
import { BINARY_OUTPUT_PROTOCOL_VERSION, decodeOutputFrame, type OutputChunk } from '../../protocol/output-frame.ts';
import { HeartbeatWheel } from './heartbeat-wheel.ts';

export const CLOSE_PROTOCOL_ERROR = 1008;

/**
 * Output received from one agent connection and not yet stored, past which the master stops reading
 * that connection until half of it is stored (docs/agent-protocol.md, "Flow control"): four times
 * the agent's window (8 MiB per command), so it bounds the master's memory per agent whatever the
 * agent sends, and a well-behaved agent is slowed only when its commands together outrun the store.
 */
export const MAX_UNSTORED_BYTES = 32 * 1024 * 1024;
/** The same bound for one run: twice the agent's window, which a well-behaved agent never exceeds. */
export const MAX_UNSTORED_BYTES_PER_RUN = 16 * 1024 * 1024;
/** What an output frame costs besides its bytes (its bookkeeping until stored): a flood of empty frames is bounded too. */
export const UNSTORED_FRAME_COST = 1024;

/**
 * How long the ack of a command's exit may wait for a frame to follow (docs/agent-protocol.md, "Acks"):
 * the exit's ack tells the agent only that it may forget the run, so it is sent after the next frame
 * to that agent (the next step's `run`) rather than before it, where its write would delay the next
 * command; when no frame follows, it goes on its own after this long.
 */
export const EXIT_ACK_DELAY_MS = 5;
const PING: MasterMessage = { type: 'ping' };

export { Run, RunStates, type RunKind, type RunSink, type RunState } from './agent-run.ts';

export const SessionStates = { open: 'open', closed: 'closed' } as const;
export type SessionState = (typeof SessionStates)[keyof typeof SessionStates];

/** What the session needs of its TCP socket: holding writes back until uncorked, then one write for all. */
export type Corkable = Pick<Writable, 'cork' | 'uncork'>;

export class AgentSession {
  /** Runs this session carries: started, or exited and waiting for their output to be stored. */
  private readonly runs = new Map<string, Run>();
  private current: SessionState = SessionStates.open;
  /**
   * Frames for the agent before its welcome: a command that waited for the agent is started the
   * moment the session is attached, but an agent still handshaking drops what precedes its welcome.
   * Null once welcomed.
   */
  private beforeWelcome: MasterMessage[] | null = [];
  private lastHeard = Date.now();
  /** Takes the session off the heartbeat wheel (on close). */
  private readonly leaveHeartbeats: () => void;
  private readonly closeListeners: ((orphans: Run[]) => void)[] = [];
  /** Runs of the agent's hello this master does not follow: the agent kills them, and what it still says of them is dropped. */
  private readonly forgotten = new Set<string>();
  private unstored = 0;
  private peakUnstored = 0;
  private pauses = 0;
  private readingPaused = false;
  /** Acks of exits not sent yet (see EXIT_ACK_DELAY_MS), and the timer that sends them if no frame goes first. */
  private exitAcks: MasterMessage[] = [];
  private exitAckTimer: NodeJS.Timeout | null = null;
  /** Commands sent to start after another (startAfter), for diagnostics and tests. */
  private sentAheadCount = 0;

  constructor(
    readonly name: string,
    private readonly ws: WebSocket,
    private readonly log: Logger,
    heartbeatMs: number,
    missedHeartbeats: number,
    /** The protocol the agent's hello named (older agents are welcomed too: see agent-server.ts). */
    readonly protocol: number = PROTOCOL_VERSION,
    /** The master's wheel, shared by its sessions (see heartbeat-wheel.ts); by default one of its own. */
    heartbeats: HeartbeatWheel = new HeartbeatWheel(heartbeatMs),
    /** The connection's TCP socket under `ws` (the upgrade's): a frame and the acks after it go out in one write. */
    private readonly socket: Corkable | null = null,
  ) {
    ws.on('message', (data, isBinary) => (isBinary ? this.onBinaryFrame(data) : this.onFrame(data.toString())));
    ws.on('close', () => this.onClose());
    ws.on('error', (e) => this.log.warn('agent socket error', { agent: name, error: e.message }));
    const silenceMs = heartbeatMs * missedHeartbeats;
    this.leaveHeartbeats = heartbeats.add({
      beat: () => {
        // While paused the silence is ours (we do not read), not the agent's.
        if (!this.readingPaused && Date.now() - this.lastHeard > silenceMs) {
          this.log.warn('agent missed heartbeats; dropping the connection', { agent: name });
          ws.terminate();
          return;
        }
        this.send(PING);
      },
    });
  }

  get state(): SessionState {
    return this.current;
  }

  get isOpen(): boolean {
    return this.current === SessionStates.open;
  }

  /** Flow control as it stands: output received and not stored now, the most ever, and how often reading paused. */
  get flow(): { unstoredBytes: number; peakUnstoredBytes: number; pauses: number; paused: boolean } {
    return { unstoredBytes: this.unstored, peakUnstoredBytes: this.peakUnstored, pauses: this.pauses, paused: this.readingPaused };
  }

  /** Called with the runs still going when the connection closes. Only while open: a closed session never calls it. */
  onClosed(listener: (orphans: Run[]) => void): void {
    if (this.current !== SessionStates.open) throw this.refused('take a close listener');
    this.closeListeners.push(listener);
  }

  /** Sends the command to the agent; on a closed session it ends at once as lost, sending nothing. */
  start(spec: CommandSpec, sink: CommandSink): RunningCommand {
    return this.startCommand(spec, sink, null);
  }

  /**
   * Sends a command the agent starts when run `before` exits with code 0 (protocol 5; see
   * AgentConnection.startAfter). Null, sending nothing, for an older agent, a closed session, or a
   * `before` this session no longer carries or that has exited here already.
   */
  startAfter(before: string, spec: CommandSpec, sink: CommandSink): RunningCommand | null {
    if (this.protocol < AHEAD_PROTOCOL_VERSION || this.current !== SessionStates.open) return null;
    if (this.runs.get(before)?.state !== RunStates.started) return null;
    this.sentAheadCount++;
    return this.startCommand(spec, sink, before);
  }

  /** Commands this session sent to start after another (startAfter). */
  get sentAhead(): number {
    return this.sentAheadCount;
  }

  private startCommand(spec: CommandSpec, sink: CommandSink, after: string | null): RunningCommand {
    const run = new Run(
      { output: (stream, data) => (stream === 'file' ? Promise.reject(new Error('file bytes')) : sink.output(stream, data)) },
      this,
    );
    if (this.current === SessionStates.closed) {
      run.lose();
      return { done: run.done, cancel: () => {} };
    }
    this.runs.set(run.id, run);
    const { argv, shell, ...rest } = spec;
    this.send({ type: 'run', run: run.id, ...(argv ? { argv } : {}), ...(shell ? { shell } : {}), ...rest, ...(after ? { after } : {}) });
    return { done: run.done, cancel: () => run.cancel(), run: run.id };
  }

  /**
   * Starts a file transfer (protocol 3). An upload's bytes go to `spec.write`; a download's are pulled
   * from `spec.source` as the agent acks them. On a closed session it is lost at once; on an agent of
   * protocol 2 it ends at once with an error: that agent would close the connection on the frame.
   */
  startTransfer(spec: TransferSpec): RunningCommand {
    if (this.protocol < TRANSFER_PROTOCOL_VERSION) {
      const error = `agent ${this.name} speaks protocol ${this.protocol}; file transfer needs ${TRANSFER_PROTOCOL_VERSION} — upgrade the agent`;
      return { done: Promise.resolve({ code: null, signal: null, killed: null, durationMs: 0, lost: false, error }), cancel: () => {} };
    }
    const write = spec.kind === 'upload' ? spec.write : () => Promise.reject(new Error('a download receives no bytes'));
    const run = new Run({ output: (_stream, data) => write(data) }, this, spec.kind);
    if (this.current === SessionStates.closed) {
      run.lose();
      return { done: run.done, cancel: () => {} };
    }
    this.runs.set(run.id, run);
    const { root, path, maxsize } = spec;
    if (spec.kind === 'upload') {
      this.send({ type: 'upload', run: run.id, root, path, directory: spec.directory, compress: spec.compress, maxsize });
    } else {
      this.send({ type: 'download', run: run.id, root, path, mode: spec.mode, maxsize });
      const sender = new DownloadSender(
        run.id,
        spec.source,
        (m) => run.session.send(m),
        (reason) => {
          run.error = reason;
          run.cancel();
        },
      );
      run.sender = sender;
      void run.done.then(() => sender.stop());
      sender.start();
    }
    return { done: run.done, cancel: () => run.cancel() };
  }

  /**
   * Takes over runs of an earlier connection of the same agent (the agent resends what was not
   * acked), and forgets the other runs its hello listed: the agent kills those, and their output or
   * exit still on the way is dropped rather than taken for a protocol error.
   */
  adopt(runs: Run[], forgotten: string[] = []): void {
    if (this.current !== SessionStates.open) throw this.refused('adopt runs');
    for (const run of runs) {
      run.moveTo(this);
      this.runs.set(run.id, run);
      run.sender?.resume(); // after the welcome: what the agent has not acked of a download, again
    }
    for (const id of forgotten) this.forgotten.add(id);
  }

  /** Asks the socket to close (the session becomes closed when it has); nothing to do if it is closed. */
  close(reason: string): void {
    if (this.current === SessionStates.open) this.ws.close(CLOSE_PROTOCOL_ERROR, closeReason(reason));
  }

  /** Sends if open; a frame for a closed session is dropped (a cancel racing a disconnect, say). */
  send(message: MasterMessage): void {
    // The exit acks waiting for this frame join it in one write (corked): each write to the agent
    // costs the master a syscall and wakes the agent, about 0.1 ms apiece on a loaded machine.
    const withAcks = this.exitAcks.length > 0 && message.type !== 'ack';
    if (withAcks) this.socket?.cork();
    try {
      if (this.beforeWelcome !== null) this.beforeWelcome.push(message);
      else if (this.current === SessionStates.open && this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
      if (withAcks) this.sendExitAcks();
    } finally {
      if (withAcks) this.socket?.uncork();
    }
  }

  /** The ack of a run's exit, sent after the next frame to the agent or after EXIT_ACK_DELAY_MS, whichever comes first. */
  private ackExit(message: MasterMessage): void {
    this.exitAcks.push(message);
    this.exitAckTimer ??= setTimeout(() => this.sendExitAcks(), EXIT_ACK_DELAY_MS);
  }

  private sendExitAcks(): void {
    if (this.exitAckTimer) clearTimeout(this.exitAckTimer);
    this.exitAckTimer = null;
    const acks = this.exitAcks;
    this.exitAcks = [];
    for (const ack of acks) this.send(ack);
  }

  /** Sends the welcome, then what was held for after it, in order. Once. */
  welcome(message: Extract<MasterMessage, { type: 'welcome' }>): void {
    const held = this.beforeWelcome;
    if (held === null) throw this.refused('welcome twice');
    this.beforeWelcome = null;
    this.send(message);
    for (const m of held) this.send(m);
  }

  private refused(action: string): InvalidStateError {
    return new InvalidStateError(`session of agent ${this.name}`, this.current, action);
  }

  private protocolError(reason: string): void {
    this.log.warn('agent protocol error; closing', { agent: this.name, reason });
    this.close(reason);
  }

  private onFrame(raw: string): void {
    this.lastHeard = Date.now();
    const parsed = parseAgentMessage(raw);
    if (!parsed.ok) return this.protocolError(parsed.error);
    this.onMessage(parsed.message);
  }

  /** Protocol 4: a command's output as a binary frame (protocol/output-frame.ts); before it, not part of the protocol. */
  private onBinaryFrame(data: WebSocket.RawData): void {
    this.lastHeard = Date.now();
    if (this.protocol < BINARY_OUTPUT_PROTOCOL_VERSION || !Buffer.isBuffer(data))
      return this.protocolError(`binary frames are not part of protocol ${this.protocol}`);
    const parsed = decodeOutputFrame(data);
    if (!parsed.ok) return this.protocolError(parsed.error);
    this.onMessage(parsed.message);
  }

  private onMessage(m: AgentMessage | OutputChunk): void {
    switch (m.type) {
      case 'pong':
        return;
      case 'hello':
        return this.protocolError('hello after authentication');
      case 'output': {
        const run = this.runs.get(m.run);
        if (!run && this.forgotten.has(m.run)) return;
        if (!run || run.state !== RunStates.started) return this.protocolError(`output for unknown run ${m.run}`);
        if (run.kind === 'download' || (m.stream === 'file') !== (run.kind === 'upload'))
          return this.protocolError(`output of stream ${m.stream} for a ${run.kind} run ${m.run}`);
        if (m.seq > run.nextSeq) return this.protocolError(`output seq ${m.seq} for run ${m.run}, expected ${run.nextSeq}`);
        if (m.seq < run.nextSeq) {
          // A replay: re-ack what is stored, but only once it is (the original may still be in flight).
          // One such ack at a time covers every replay before it, so a flood of replays holds nothing.
          if (run.replayAckQueued) return;
          run.replayAckQueued = true;
          const upTo = run.nextSeq - 1;
          run.stored = run.stored.then(() => {
            run.replayAckQueued = false;
            if (run.storeFailed === null) run.session.send({ type: 'ack', run: m.run, seq: upTo });
          });
          return;
        }
        run.nextSeq++;
        const seq = m.seq;
        // Hand the bytes over at once (the sink keeps order and batches); only the acks wait, in order.
        let stored: Promise<void> = Promise.resolve();
        if (run.storeFailed === null) {
          const data = typeof m.data === 'string' ? Buffer.from(m.data, 'base64') : m.data;
          const cost = data.length + UNSTORED_FRAME_COST;
          this.holdUnstored(run, cost);
          stored = run.sink.output(m.stream, data);
          const release = () => this.releaseUnstored(run, cost);
          stored.then(release, release);
        }
        stored.catch(() => {}); // handled below, in order
        run.stored = run.stored.then(async () => {
          if (run.storeFailed !== null) return;
          try {
            await stored;
            run.ackStored(seq);
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
        if (!run && this.forgotten.has(m.run)) return;
        if (!run) return this.protocolError(`error for unknown run ${m.run}`);
        run.error = m.message;
        return;
      }
      case 'exit': {
        const run = this.runs.get(m.run);
        if (!run && this.forgotten.delete(m.run)) return; // its last word
        if (!run || run.state !== RunStates.started) return this.protocolError(`exit for unknown run ${m.run}`);
        if (m.seq !== run.nextSeq) return this.protocolError(`exit after seq ${m.seq} for run ${m.run}, received up to ${run.nextSeq}`);
        const moved = m.bytes !== undefined && m.sha256 !== undefined ? { bytes: m.bytes, sha256: m.sha256 } : {};
        const measured = m.resources ? { resources: m.resources } : {};
        const skipped = m.skipped ? { skipped: true } : {};
        run.exit({ code: m.code, signal: m.signal, killed: m.killed, durationMs: m.durationMs, ...moved, ...measured, ...skipped }, () => {
          this.runs.delete(m.run);
          // Acking the exit's own seq tells the agent it may forget the run: after every output's ack.
          run.flushAck();
          const ack: MasterMessage = { type: 'ack', run: m.run, seq: m.seq };
          // A run moved to the agent's next session meanwhile is acked there at once.
          if (run.session === this) this.ackExit(ack);
          else run.session.send(ack);
        });
        return;
      }
      case 'ack': {
        // A download's data written on the agent: its sender may send more.
        const run = this.runs.get(m.run);
        if (!run && this.forgotten.has(m.run)) return;
        if (!run?.sender) return this.protocolError(`ack for unknown download ${m.run}`);
        run.sender.ack(m.seq);
        return;
      }
      default: {
        const never: never = m;
        return this.protocolError(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }

  /** Counts output handed to the store; past the bounds, reading stops (flowing -> paused). */
  private holdUnstored(run: Run, cost: number): void {
    run.unstoredBytes += cost;
    this.unstored += cost;
    this.peakUnstored = Math.max(this.peakUnstored, this.unstored);
    if (this.readingPaused || (this.unstored <= MAX_UNSTORED_BYTES && run.unstoredBytes <= MAX_UNSTORED_BYTES_PER_RUN)) return;
    this.readingPaused = true;
    this.pauses++;
    this.log.warn('agent output outruns the store; reading from the agent paused', { agent: this.name, unstoredBytes: this.unstored });
    // ws's documented pause(): the socket is not read, so TCP pushes back on the agent.
    this.ws.pause();
  }

  /** Output stored (or failed to be); once half of both bounds is free again, reading goes on (paused -> flowing). */
  private releaseUnstored(run: Run, cost: number): void {
    run.unstoredBytes -= cost;
    this.unstored -= cost;
    if (!this.readingPaused || this.unstored > MAX_UNSTORED_BYTES / 2) return;
    for (const r of this.runs.values()) if (r.unstoredBytes > MAX_UNSTORED_BYTES_PER_RUN / 2) return;
    this.readingPaused = false;
    this.lastHeard = Date.now(); // what the agent sent meanwhile is waiting unread: it was not silent
    this.ws.resume();
  }

  /** open -> closed, on the socket's close event (which ws emits once). */
  private onClose(): void {
    if (this.current !== SessionStates.open) throw this.refused('close again');
    this.current = SessionStates.closed;
    this.leaveHeartbeats();
    // Acks that can no longer be sent: the agent sends those exits again and is told then.
    if (this.exitAckTimer) clearTimeout(this.exitAckTimer);
    this.exitAcks = [];
    const carried = [...this.runs.values()].filter((r) => r.session === this && r.state === RunStates.started);
    // A cancel the agent may not have heard (the socket was closing, or dropped before it arrived)
    // ends its run now; the agent, when back, is not asked to resume it, so it kills the command.
    for (const run of carried) if (run.wasCancelled) run.cancel();
    const orphans = carried.filter((r) => r.state === RunStates.started);
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
