/**
 * One upload on the agent (protocol 3): a file, or a directory as a tar, sent to the master as
 * numbered `output` frames of stream `file`, then an `exit` with the bytes sent and their sha256.
 *
 * States: preparing -> sending -> reported
 * preparing: the source's real path is checked (it must stay in the builder's directory), its type
 *   and, for a file, its size against maxsize.
 * sending: chunks are sent and kept until the master acks them; past TRANSFER_WINDOW_BYTES unacked
 *   the source is paused (flow control), so a 100 MB file never sits in memory. More bytes than
 *   maxsize (a growing directory) ends it: `error` too_large, then `exit` with code null.
 * reported: `exit` sent (code 0 with bytes and sha256; null after an error or a cancel); kept until
 *   the master acks its seq. Unacked frames survive a lost connection and are resent after it.
 * Only report() enters reported; a cancel or failure in preparing or sending goes there at once.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { MAX_TRANSFER_CHUNK, commandErrorMessage, type AgentMessage, type UploadMessage } from '../protocol/messages.ts';
import { CommandErrorCode } from '../protocol/reject-codes.ts';
import { resolveSource, TransferError, transferFailure, type AgentRun } from './file-transfer.ts';

export interface TransferRunnerOptions {
  basedir: string;
  windowBytes: number;
  send(message: AgentMessage): void;
  onDone(run: string): void;
}

export class UploadRunner implements AgentRun {
  private state: 'preparing' | 'sending' | 'reported' = 'preparing';
  private seq = 0;
  private readonly unacked: { seq: number; bytes: number; message: AgentMessage }[] = [];
  private unackedBytes = 0;
  private exitMessage: AgentMessage | null = null;
  private paused = false;
  private abandoned = false;
  private source: Readable | null = null;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private readonly started = Date.now();
  private markFinished!: () => void;
  readonly finished = new Promise<void>((resolve) => (this.markFinished = resolve));

  constructor(
    private readonly msg: UploadMessage,
    private readonly options: TransferRunnerOptions,
  ) {}

  get nextSeq(): number {
    return this.seq;
  }

  start(): void {
    this.prepare().catch((e: unknown) => this.fail(transferFailure(e)));
  }

  private async prepare(): Promise<void> {
    const { msg } = this;
    const source = await resolveSource(this.options.basedir, msg.root, msg.path, msg.directory);
    if (this.state !== 'preparing') return; // cancelled meanwhile
    let stream: Readable;
    if (msg.directory) {
      // Loaded on demand: an agent that never uploads a directory never loads tar.
      const tar = await import('tar');
      const pack = tar.create({ cwd: source, gzip: msg.compress, portable: true }, ['.']);
      // Through a Node stream, so that pause() and destroy() act as on a file's stream.
      const through = new PassThrough({ highWaterMark: MAX_TRANSFER_CHUNK });
      pack.on('error', (e: unknown) => through.destroy(e instanceof Error ? e : new Error(String(e))));
      through.on('close', () => pack.destroyed || pack.destroy());
      stream = pack.pipe(through);
    } else {
      const size = (await fs.promises.stat(source)).size;
      if (msg.maxsize !== null && size > msg.maxsize)
        throw new TransferError(CommandErrorCode.TooLarge, `${msg.path} is ${size} bytes, more than maxsize ${msg.maxsize}`);
      stream = fs.createReadStream(source, { highWaterMark: MAX_TRANSFER_CHUNK });
    }
    if (this.state !== 'preparing') return void stream.destroy();
    this.state = 'sending';
    this.source = stream;
    stream.on('data', (chunk: Buffer) => this.chunk(chunk));
    stream.on('end', () => this.report(0));
    stream.on('error', (e: Error) => this.fail(transferFailure(e)));
  }

  private chunk(data: Buffer): void {
    if (this.state !== 'sending') return;
    this.bytes += data.length;
    if (this.msg.maxsize !== null && this.bytes > this.msg.maxsize) {
      return this.fail(new TransferError(CommandErrorCode.TooLarge, `${this.msg.path}: more than maxsize ${this.msg.maxsize} bytes`));
    }
    this.hash.update(data);
    for (let off = 0; off < data.length; off += MAX_TRANSFER_CHUNK) {
      const part = data.subarray(off, off + MAX_TRANSFER_CHUNK);
      const seq = this.seq++;
      const message: AgentMessage = { type: 'output', run: this.msg.run, seq, stream: 'file', data: part.toString('base64') };
      this.unacked.push({ seq, bytes: part.length, message });
      this.unackedBytes += part.length;
      this.send(message);
    }
    if (!this.paused && this.unackedBytes > this.options.windowBytes) {
      this.paused = true;
      this.source?.pause();
    }
  }

  resend(): void {
    for (const u of this.unacked) this.send(u.message);
    if (this.exitMessage) this.send(this.exitMessage);
  }

  ack(seq: number): void {
    if (this.state === 'reported' && this.exitMessage && seq >= this.seq) {
      this.exitMessage = null;
      this.options.onDone(this.msg.run);
      return;
    }
    while (this.unacked[0] !== undefined && this.unacked[0].seq <= seq) {
      this.unackedBytes -= this.unacked[0].bytes;
      this.unacked.shift();
    }
    if (this.paused && this.unackedBytes <= this.options.windowBytes / 2) {
      this.paused = false;
      this.source?.resume();
    }
  }

  cancel(): void {
    if (this.state === 'reported') return;
    this.stopSource();
    this.report(null, 'cancel');
  }

  abandon(): void {
    this.abandoned = true;
    this.cancel();
    void this.finished.then(() => this.options.onDone(this.msg.run));
  }

  private stopSource(): void {
    const s = this.source;
    this.source = null;
    s?.destroy();
  }

  private fail(e: TransferError): void {
    if (this.state === 'reported') return;
    this.stopSource();
    this.send(commandErrorMessage(this.msg.run, e.code, e.message));
    this.report(null);
  }

  private send(message: AgentMessage): void {
    if (!this.abandoned) this.options.send(message);
  }

  private report(code: 0 | null, killed: 'cancel' | null = null): void {
    if (this.state === 'reported') return;
    this.state = 'reported';
    this.source = null;
    this.exitMessage = {
      type: 'exit',
      run: this.msg.run,
      seq: this.seq,
      code,
      signal: null,
      durationMs: Date.now() - this.started,
      killed,
      ...(code === 0 ? { bytes: this.bytes, sha256: this.hash.digest('hex') } : {}),
    };
    this.send(this.exitMessage);
    this.markFinished();
  }
}
