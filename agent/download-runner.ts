/**
 * One download on the agent (protocol 3): `data` frames written in seq order to a temporary file
 * beside the destination, each acked once written (so the master never has more than its window in
 * flight, and this agent holds no more than a frame); at `end` the size and sha256 are checked, the
 * mode applied and the file renamed into place: a destination is whole or absent, never partial.
 *
 * States: preparing -> receiving -> reported
 * preparing: the destination's real path is checked (it must stay in the builder's directory) and
 *   the temporary file opened; frames that arrive meanwhile queue behind it.
 * receiving: a data frame of the next seq is written and acked; one already written (a resend after
 *   a reconnect) is acked again; one past the next is a gap, which fails the transfer. More bytes
 *   than maxsize fail it (too_large).
 * reported: `exit` sent (code 0 with bytes and sha256; null after an error or a cancel, the temporary
 *   file removed); kept until the master acks it, resent after a reconnect.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { commandErrorMessage, type AgentMessage, type DownloadMessage, type MasterMessage } from '../protocol/messages.ts';
import { CommandErrorCode } from '../protocol/reject-codes.ts';
import { resolveDestination, tempNameFor, TransferError, transferFailure, type AgentRun } from './file-transfer.ts';
import type { TransferRunnerOptions } from './upload-runner.ts';

type DataMessage = Extract<MasterMessage, { type: 'data' }>;
type EndMessage = Extract<MasterMessage, { type: 'end' }>;

export class DownloadRunner implements AgentRun {
  private state: 'preparing' | 'receiving' | 'reported' = 'preparing';
  /** The seq the next data frame must carry. */
  private expected = 0;
  /** Writes in order; each step checks the state, so nothing is written after a failure. */
  private work: Promise<void>;
  private file: fs.promises.FileHandle | null = null;
  private target = '';
  private temp = '';
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private exitMessage: AgentMessage | null = null;
  private abandoned = false;
  private readonly started = Date.now();
  private markFinished!: () => void;
  readonly finished = new Promise<void>((resolve) => (this.markFinished = resolve));

  constructor(
    private readonly msg: DownloadMessage,
    private readonly options: TransferRunnerOptions,
  ) {
    this.work = this.prepare().catch((e: unknown) => this.fail(transferFailure(e)));
  }

  /** A download sends no output: its exit's seq is always 0. */
  get nextSeq(): number {
    return 0;
  }

  private async prepare(): Promise<void> {
    this.target = await resolveDestination(this.options.basedir, this.msg.root, this.msg.path);
    this.temp = tempNameFor(this.target, this.msg.run);
    const file = await fs.promises.open(this.temp, 'w');
    if (this.state !== 'preparing') {
      await file.close();
      await fs.promises.rm(this.temp, { force: true });
      return;
    }
    this.file = file;
    this.state = 'receiving';
  }

  data(m: DataMessage): void {
    if (this.state === 'reported') return;
    if (m.seq < this.expected) return this.send({ type: 'ack', run: this.msg.run, seq: this.expected - 1 });
    if (m.seq > this.expected)
      return this.fail(new TransferError(CommandErrorCode.IoError, `data seq ${m.seq}, expected ${this.expected}`));
    this.expected++;
    const chunk = Buffer.from(m.data, 'base64');
    this.work = this.work.then(async () => {
      if (this.state !== 'receiving' || !this.file) return;
      this.bytes += chunk.length;
      if (this.msg.maxsize !== null && this.bytes > this.msg.maxsize)
        return this.fail(new TransferError(CommandErrorCode.TooLarge, `${this.msg.path}: more than maxsize ${this.msg.maxsize} bytes`));
      this.hash.update(chunk);
      try {
        await this.file.write(chunk);
      } catch (e) {
        return this.fail(transferFailure(e));
      }
      this.send({ type: 'ack', run: this.msg.run, seq: m.seq });
    });
  }

  end(m: EndMessage): void {
    if (this.state === 'reported' || m.seq < this.expected) return;
    if (m.seq > this.expected)
      return this.fail(new TransferError(CommandErrorCode.IoError, `end at seq ${m.seq}, expected ${this.expected}`));
    this.expected++; // a resent end is dropped
    this.work = this.work.then(() => this.complete(m));
  }

  private async complete(m: EndMessage): Promise<void> {
    if (this.state !== 'receiving' || !this.file) return;
    const sha256 = this.hash.digest('hex');
    if (m.bytes !== this.bytes || m.sha256 !== sha256)
      return this.fail(
        new TransferError(
          CommandErrorCode.ChecksumMismatch,
          `received ${this.bytes} bytes with sha256 ${sha256}; the master sent ${m.bytes} bytes with sha256 ${m.sha256}`,
        ),
      );
    try {
      if (this.msg.mode !== null) await this.file.chmod(this.msg.mode);
      await this.file.close();
      this.file = null;
      await fs.promises.rename(this.temp, this.target);
    } catch (e) {
      return this.fail(transferFailure(e));
    }
    this.report(0, null, sha256);
  }

  resend(): void {
    if (this.exitMessage) this.send(this.exitMessage);
  }

  ack(seq: number): void {
    if (this.state === 'reported' && this.exitMessage && seq >= 0) {
      this.exitMessage = null;
      this.options.onDone(this.msg.run);
    }
  }

  cancel(): void {
    if (this.state === 'reported') return;
    this.report(null, 'cancel');
    this.discard();
  }

  abandon(): void {
    this.abandoned = true;
    this.cancel();
    void this.finished.then(() => this.options.onDone(this.msg.run));
  }

  /** Reports the failure (once) and queues the removal of the temporary file: nothing partial stays. */
  private fail(e: TransferError): void {
    if (this.state !== 'reported') {
      this.send(commandErrorMessage(this.msg.run, e.code, e.message));
      this.report(null);
    }
    this.discard();
  }

  /** Queued behind the writes (never awaited inside them): closes and removes the temporary file. */
  private discard(): void {
    this.work = this.work.then(async () => {
      const file = this.file;
      this.file = null;
      await file?.close().catch(() => {});
      if (this.temp) await fs.promises.rm(this.temp, { force: true }).catch(() => {});
    });
  }

  private send(message: AgentMessage): void {
    if (!this.abandoned) this.options.send(message);
  }

  private report(code: 0 | null, killed: 'cancel' | null = null, sha256?: string): void {
    if (this.state === 'reported') return;
    this.state = 'reported';
    this.exitMessage = {
      type: 'exit',
      run: this.msg.run,
      seq: 0,
      code,
      signal: null,
      durationMs: Date.now() - this.started,
      killed,
      ...(code === 0 && sha256 ? { bytes: this.bytes, sha256 } : {}),
    };
    this.send(this.exitMessage);
    this.markFinished();
  }
}
