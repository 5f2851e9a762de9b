/**
 * Streams one log into the database as chunks. Group commit: when no write is in flight, what was
 * appended is written at once (after the current tick, so a burst lands together); while a write is
 * in flight, appends collect and go in the next write. So a quiet command's line is stored within
 * one database write, and a chatty one costs one transaction per batch, not per line.
 * `append` resolves once its bytes are stored (the agent is acked only then) and rejects if they
 * could not be; after a failed write every later append rejects too.
 *
 * A database that blinks (restarting, failing over, locked by another connection) fails no write:
 * each is tried again through the outage (master/db/outage-write.ts, up to two minutes), in order,
 * while later appends collect behind it. Their acks wait, so the agent keeps its output and, past its
 * window, pauses its command's pipes: backpressure, nothing lost. A chunk whose COMMIT answer was
 * lost is not written twice (LogsRepo.appendChunks is keyed by the log's byte count).
 *
 * A batch is every chunk that collected (up to `chunkBytes` each, one stream each), written in one
 * transaction (LogsRepo.appendChunks): a busy log costs one commit per batch, not one per chunk.
 * Its chunks are compressed together before it is written (master/db/log-codec.ts: brotli on worker
 * threads, off the event loop), not once per retry; appends that arrive
 * meanwhile collect into the next batch as they do during a write.
 */
import type { EventBus } from '../events/event-bus.ts';
import type { AppendedChunk, LogsRepo } from '../db/logs.ts';
import type { LogRow } from '../db/entities.ts';
import { writeThroughOutage, type OutageWriteOptions } from '../db/outage-write.ts';

export type Stream = 'o' | 'e' | 'h';

export interface LogWriterOptions {
  chunkBytes: number;
  maxBytes?: number;
  /** How writes ride through an outage (defaults: core/retry.ts's); tests shorten it. */
  outage?: Pick<OutageWriteOptions<void>, 'maxMs' | 'backoff' | 'onRetry'>;
}

interface Pending {
  stream: Stream;
  parts: Buffer[];
  bytes: number;
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

export class LogWriter {
  /** Runs of consecutive appends to the same stream, oldest first. */
  private pending: Pending[] = [];
  private writing = false;
  private scheduled = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: (() => void) | null = null;
  private failed: unknown = null;
  /** Past maxBytes: the marker is stored and later output is acknowledged but not kept. */
  private truncated = false;

  constructor(
    readonly log: LogRow,
    private readonly repo: LogsRepo,
    private readonly bus: EventBus,
    private readonly options: LogWriterOptions = { chunkBytes: 256 * 1024 },
  ) {}

  append(stream: Stream, data: Buffer): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    if (data.length === 0) return Promise.resolve();
    const tail = this.pending[this.pending.length - 1];
    const run: Pending =
      tail && tail.stream === stream && tail.bytes < this.options.chunkBytes ? tail : { stream, parts: [], bytes: 0, waiters: [] };
    if (run !== tail) this.pending.push(run);
    run.parts.push(data);
    run.bytes += data.length;
    const stored = new Promise<void>((resolve, reject) => run.waiters.push({ resolve, reject }));
    this.schedule();
    return stored;
  }

  /** Resolves when everything appended so far is stored (or failed). */
  flush(): Promise<void> {
    return this.pending.length === 0 && !this.writing ? Promise.resolve() : this.idle;
  }

  async finish(): Promise<void> {
    await this.flush();
    if (this.failed !== null) throw this.failed;
    await writeThroughOutage(() => this.repo.finish(this.log.id, { num_lines: this.log.num_lines }), this.options.outage);
    this.log.complete = true;
  }

  private schedule(): void {
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    if (!this.markIdle) this.idle = new Promise((resolve) => (this.markIdle = resolve));
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    this.writing = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      await this.write(batch);
    }
    this.writing = false;
    const done = this.markIdle;
    this.markIdle = null;
    done?.();
  }

  private async write(batch: Pending[]): Promise<void> {
    const waiters = batch.flatMap((run) => run.waiters);
    // Once a write failed, nothing later is stored either: the log would have a hole.
    if (this.failed !== null) {
      for (const w of waiters) w.reject(this.failed);
      return;
    }
    const chunks: AppendedChunk[] = [];
    const max = this.options.maxBytes ?? Infinity;
    let bytes = this.log.num_bytes;
    let overflow = false;
    for (const run of batch) {
      if (this.truncated || overflow) break;
      const [first] = run.parts;
      let content = first !== undefined && run.parts.length === 1 ? first : Buffer.concat(run.parts, run.bytes);
      const room = max - bytes;
      overflow = content.length > room;
      if (overflow) content = content.subarray(0, Math.max(0, room));
      if (content.length > 0) chunks.push({ stream: run.stream, content });
      bytes += content.length;
    }
    if (overflow)
      chunks.push({
        stream: 'h',
        content: Buffer.from(`\n[caliper] log truncated at ${max} bytes (logs.maxBytes); later output was discarded\n`),
      });
    try {
      if (chunks.length > 0) await this.store(chunks);
      if (overflow) this.truncated = true;
    } catch (e) {
      this.failed = e;
      for (const w of waiters) w.reject(e);
      return;
    }
    for (const w of waiters) w.resolve();
  }

  private async store(chunks: AppendedChunk[]): Promise<void> {
    const stored = await Promise.all(
      chunks.map(async (c): Promise<AppendedChunk> => ({ ...c, stored: await this.repo.encode(c.content) })),
    );
    const firstLines = await writeThroughOutage(() => this.repo.appendChunks(this.log, stored), this.options.outage);
    chunks.forEach((c, i) =>
      this.bus.publish('log.appended', {
        logid: this.log.id,
        stepid: this.log.stepid,
        stream: c.stream,
        data: c.content,
        first_line: firstLines[i] ?? 0,
      }),
    );
  }
}
