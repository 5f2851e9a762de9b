/**
 * One run on an agent, seen from the master: a command, an upload or a download, with where its
 * incoming bytes go, how far its output got (seq, acks, what is not stored yet), and which session
 * carries it now. Runs outlive sessions: a run moves to the agent's next session when the agent
 * reconnects within the grace period (agent-session.ts holds the session side, and the states of
 * both are listed there).
 * A run:  started -> (output*) -> exited | lost | cancelled, through exit(), lose() and cancel(),
 * which check the state they leave and throw InvalidStateError when it is wrong.
 */
import { randomUUID } from 'node:crypto';
import { InvalidStateError } from '../../core/errors/invalid-state-error.ts';
import type { MasterMessage } from '../../protocol/messages.ts';
import type { CommandExit } from './agent-connection.ts';
import type { DownloadSender } from './download-sender.ts';

/** What a run needs of the session carrying it (AgentSession). */
export interface RunCarrier {
  readonly name: string;
  readonly isOpen: boolean;
  send(message: MasterMessage): void;
}

const LOST: CommandExit = { code: null, signal: null, killed: null, durationMs: 0, lost: true, error: null };

/** What a run does: a command (output comes back), an upload (file bytes come back), a download (bytes go out). */
export type RunKind = 'command' | 'upload' | 'download';

/** Where a run's incoming bytes go: a command's output into its log, an upload's into its file. */
export interface RunSink {
  output(stream: 'stdout' | 'stderr' | 'file', data: Buffer): Promise<void>;
}

export const RunStates = { started: 'started', exited: 'exited', lost: 'lost', cancelled: 'cancelled' } as const;
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
  /** Output of this run received and not yet stored, with UNSTORED_FRAME_COST per frame (flow control). */
  unstoredBytes = 0;
  /** An ack answering replays is waiting for the stored output: later replays need no other. */
  replayAckQueued = false;
  /** The highest seq stored and not acked yet (acks are cumulative: see ackStored()). */
  private ackDue: number | null = null;
  /** A cancel was asked for: if the session closes before the run ends, it ends cancelled then. */
  private cancelRequested = false;
  private readonly startedAt = Date.now();
  private readonly resolve: (exit: CommandExit) => void;
  private current: RunState = RunStates.started;
  private storeFailure: string | null = null;
  private carrier: RunCarrier;

  /** A download's sender, which the agent's acks pace; null for other kinds. */
  sender: DownloadSender | null = null;

  constructor(
    readonly sink: RunSink,
    session: RunCarrier,
    readonly kind: RunKind = 'command',
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
  get session(): RunCarrier {
    return this.carrier;
  }

  /** Why storing output failed; once set, the run is cancelled and nothing more is stored or acked. */
  get storeFailed(): string | null {
    return this.storeFailure;
  }

  /** A started run goes on in the agent's next session. */
  moveTo(session: RunCarrier): void {
    if (this.current !== RunStates.started) throw this.refused('move to another session');
    this.carrier = session;
  }

  /** Records the first failure to store output (there is no second: nothing is stored after it). */
  failStore(reason: string): void {
    if (this.storeFailure !== null) throw this.refused('fail storing output again');
    this.storeFailure = reason;
  }

  /** started -> exited: the agent's exit frame. `onStored` runs, then the command resolves, once all output is stored. */
  exit(
    frame: Pick<CommandExit, 'code' | 'signal' | 'killed' | 'durationMs' | 'bytes' | 'sha256' | 'resources' | 'skipped'>,
    onStored: () => void,
  ): void {
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

  /**
   * Asks for the command to end. While its session is open the agent is told (it kills the command
   * and reports the exit). While the agent is away: started -> cancelled, the command ends here once
   * the output received is stored, and the agent kills it when back (its next session does not
   * resume it). A run that has ended already has nothing to stop.
   */
  cancel(): void {
    if (this.current !== RunStates.started) return;
    this.cancelRequested = true;
    // Sent if the socket is open still; if the session closes before the exit, `wasCancelled` ends it then.
    if (this.carrier.isOpen) return this.carrier.send({ type: 'cancel', run: this.id });
    this.enter(RunStates.cancelled, 'be cancelled');
    const exit: CommandExit = {
      code: null,
      signal: null,
      killed: 'cancel',
      durationMs: Date.now() - this.startedAt,
      lost: false,
      error: null,
    };
    void this.stored.then(() => this.resolve(exit));
  }

  /**
   * Acks `seq` (stored, as is everything before it) at the end of this turn of the event loop. Acks
   * are cumulative, and one database write stores many frames: one ack for them all, not a frame
   * (and a system call) each.
   */
  ackStored(seq: number): void {
    const scheduled = this.ackDue !== null;
    this.ackDue = seq;
    if (!scheduled) setImmediate(() => this.flushAck());
  }

  /** Sends the ack that is due, if any (the exit's ack must not overtake it). */
  flushAck(): void {
    const seq = this.ackDue;
    this.ackDue = null;
    if (seq !== null && this.storeFailure === null) this.carrier.send({ type: 'ack', run: this.id, seq });
  }

  /** Whether a cancel was asked for, which the agent may not have heard. */
  get wasCancelled(): boolean {
    return this.cancelRequested;
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
