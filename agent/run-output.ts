/**
 * A run's output on its way to the master: what the pipes give in one turn of the event loop (often
 * several 64 KiB reads of a busy writer) goes out as one frame of up to MAX_OUTPUT_CHUNK, numbered
 * from 0 across both streams, and is kept until the master acks it (resent after a reconnect). The
 * runner (command-runner.ts) pauses the pipes when too much is unacked.
 *
 * Each frame is encoded once, straight from the pipe's reads (no concatenation first), into a reused
 * buffer when it is big (frame-pool.ts), and kept as it is until acked: the data held is a view into
 * the frame sent.
 */
import { MAX_OUTPUT_CHUNK } from '../protocol/messages.ts';
import { encodeOutputFrameFrom, outputFrameHeaderBytes, type OutputChunk } from '../protocol/output-frame.ts';
import type { FrameLease, FramePool } from './frame-pool.ts';

/** The parts' bytes after the first `skip` of them, as views (no copy). */
function after(parts: readonly Buffer[], skip: number): Buffer[] {
  const rest: Buffer[] = [];
  for (const part of parts) {
    if (skip >= part.length) skip -= part.length;
    else {
      rest.push(skip > 0 ? part.subarray(skip) : part);
      skip = 0;
    }
  }
  return rest;
}

export class RunOutput {
  private seq = 0;
  /** Output sent and not acked yet, in seq order, each with the buffer its frame lives in. */
  private readonly unacked: { chunk: OutputChunk; lease: FrameLease | null }[] = [];
  private unackedCount = 0;
  /** Output read from the pipes this turn of the event loop, not yet sent: one stream's, in order. */
  private pending: { stream: 'stdout' | 'stderr'; parts: Buffer[]; bytes: number } | null = null;
  private flushScheduled = false;

  constructor(
    private readonly run: string,
    private readonly frames: FramePool | null,
    /** Sends a frame (or sends nothing, for a run the master forgot). */
    private readonly send: (chunk: OutputChunk, lease: FrameLease | null) => void,
  ) {}

  /** The seq of the next frame: the number sent so far, what the run's `exit` carries. */
  get nextSeq(): number {
    return this.seq;
  }

  /** Bytes read from the pipes and not acked yet (collected or sent). */
  get unackedBytes(): number {
    return this.unackedCount;
  }

  /**
   * Collects what the pipes give until the end of this turn of the event loop; full frames go at
   * once, and what is left over waits for the turn's end with what comes after it (reads that do not
   * divide MAX_OUTPUT_CHUNK, as the spawn helper's, would otherwise leave a few bytes in a frame of their own).
   */
  add(stream: 'stdout' | 'stderr', data: Buffer): void {
    if (this.pending && this.pending.stream !== stream) this.flush();
    this.pending ??= { stream, parts: [], bytes: 0 };
    this.pending.parts.push(data);
    this.pending.bytes += data.length;
    this.unackedCount += data.length;
    if (this.pending.bytes >= MAX_OUTPUT_CHUNK) this.flush(true);
    if (this.pending && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /**
   * Sends what was collected, in frames of at most MAX_OUTPUT_CHUNK (`wholeFramesOnly`: full frames
   * only, the rest stays collected). Its bytes are counted as unacked already.
   */
  flush(wholeFramesOnly = false): void {
    const pending = this.pending;
    if (!pending) return;
    const sending = wholeFramesOnly ? pending.bytes - (pending.bytes % MAX_OUTPUT_CHUNK) : pending.bytes;
    const kept = pending.bytes - sending;
    this.pending = kept > 0 ? { stream: pending.stream, parts: after(pending.parts, sending), bytes: kept } : null;
    const header = outputFrameHeaderBytes(this.run);
    let parts = pending.parts;
    for (let left = sending; left > 0;) {
      const bytes = Math.min(left, MAX_OUTPUT_CHUNK);
      const seq = this.seq++;
      const lease = this.frames?.take(header + bytes) ?? null;
      const frame = encodeOutputFrameFrom(this.run, seq, pending.stream, parts, bytes, lease?.frame);
      const chunk: OutputChunk = { type: 'output', run: this.run, seq, stream: pending.stream, data: frame.subarray(header), frame };
      this.unacked.push({ chunk, lease });
      this.send(chunk, lease);
      left -= bytes;
      if (left > 0) parts = after(parts, bytes);
    }
  }

  /** The master stored every frame up to `seq`: they are let go. */
  ack(seq: number): void {
    while (this.unacked[0] !== undefined && this.unacked[0].chunk.seq <= seq) {
      const done = this.unacked.shift();
      this.unackedCount -= done?.chunk.data.length ?? 0;
      done?.lease?.release();
    }
  }

  /** Sends again what the master has not acked: after a reconnect. */
  resend(): void {
    for (const u of this.unacked) this.send(u.chunk, u.lease);
  }

  /** The run is over (or dropped): the frames still held go back to the pool. */
  release(): void {
    for (const u of this.unacked.splice(0)) u.lease?.release();
    this.unackedCount = 0;
  }
}
