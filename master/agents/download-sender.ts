/**
 * The master's side of a download (protocol 3): pulls the bytes from their source and sends them as
 * numbered `data` frames, then `end` with the size and sha256. The agent acks each frame once it is
 * written; the sender keeps what is unacked (to resend after a reconnect) and pulls nothing more
 * while TRANSFER_WINDOW_BYTES are unacked, so however large the file, the master holds at most the
 * window of it in memory.
 *
 * States: sending -> ended (`end` sent; waiting for the agent's exit)
 *         sending | ended -> stopped (the run ended: exit, lost, cancelled; the source is closed)
 * The session calls ack() for the agent's acks and resume() when a reconnected agent's new session
 * adopts the run: everything unacked is sent again (the agent drops what it already wrote).
 */
import { createHash } from 'node:crypto';
import { MAX_TRANSFER_CHUNK, TRANSFER_WINDOW_BYTES, type MasterMessage } from '../../protocol/messages.ts';

export class DownloadSender {
  private state: 'sending' | 'ended' | 'stopped' = 'sending';
  private seq = 0;
  private readonly unacked: { seq: number; bytes: number; message: MasterMessage }[] = [];
  private unackedBytes = 0;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  /** Wakes the pump when acks free the window (or the sender stops). */
  private wake: (() => void) | null = null;

  constructor(
    private readonly run: string,
    private readonly source: AsyncIterable<Buffer>,
    /** Sends on the session carrying the run now (dropped while the agent is away; resent on resume). */
    private readonly send: (message: MasterMessage) => void,
    /** Reading the source failed: the run is cancelled with this reason. */
    private readonly onSourceError: (reason: string) => void,
    private readonly windowBytes = TRANSFER_WINDOW_BYTES,
  ) {}

  /** The most bytes ever unacked at once (for the tests of flow control). */
  peakUnackedBytes = 0;

  start(): void {
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for await (const chunk of this.source) {
        for (let off = 0; off < chunk.length; off += MAX_TRANSFER_CHUNK) {
          while (this.state === 'sending' && this.unackedBytes >= this.windowBytes) await new Promise<void>((r) => (this.wake = r));
          // Returning ends the for-await, which closes the source (a file's stream is destroyed).
          if (this.state !== 'sending') return;
          const part = chunk.subarray(off, off + MAX_TRANSFER_CHUNK);
          this.hash.update(part);
          this.bytes += part.length;
          this.push({ type: 'data', run: this.run, seq: this.seq, data: part.toString('base64') }, part.length);
        }
      }
      if (this.state !== 'sending') return;
      this.push({ type: 'end', run: this.run, seq: this.seq, bytes: this.bytes, sha256: this.hash.digest('hex') }, 0);
      this.state = 'ended';
    } catch (e) {
      if (this.state === 'sending') this.onSourceError(`reading what to send failed: ${e instanceof Error ? e.message : String(e)}`);
      this.stop();
    }
  }

  private push(message: MasterMessage, bytes: number): void {
    this.unacked.push({ seq: this.seq++, bytes, message });
    this.unackedBytes += bytes;
    this.peakUnackedBytes = Math.max(this.peakUnackedBytes, this.unackedBytes);
    this.send(message);
  }

  /** The agent wrote everything up to `seq`. */
  ack(seq: number): void {
    while (this.unacked[0] !== undefined && this.unacked[0].seq <= seq) {
      this.unackedBytes -= this.unacked[0].bytes;
      this.unacked.shift();
    }
    if (this.unackedBytes < this.windowBytes) this.wakeUp();
  }

  /** A new session carries the run: send again what the agent has not acked. */
  resume(): void {
    if (this.state === 'stopped') return;
    for (const u of this.unacked) this.send(u.message);
  }

  /** The run ended: nothing more is sent, and the source is closed. */
  stop(): void {
    this.state = 'stopped';
    this.unacked.length = 0;
    this.unackedBytes = 0;
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
