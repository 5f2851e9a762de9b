/**
 * Streams one log into the database: appends are buffered briefly and written as chunks, so a chatty
 * command does not cost one transaction per line, and output is still visible within `flushMs`.
 * `append` resolves once its bytes are stored (the agent is acked only then).
 */
import type { EventBus } from '../events/event-bus.ts';
import type { LogsRepo } from '../db/logs.ts';
import type { LogRow } from '../db/entities.ts';

export type Stream = 'o' | 'e' | 'h';

export class LogWriter {
  private buffer: Buffer[] = [];
  private bufferedBytes = 0;
  private bufferedStream: Stream = 'o';
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private failed: unknown = null;

  constructor(
    readonly log: LogRow,
    private readonly repo: LogsRepo,
    private readonly bus: EventBus,
    private readonly options: { flushMs: number; chunkBytes: number } = { flushMs: 100, chunkBytes: 64 * 1024 },
  ) {}

  append(stream: Stream, data: Buffer): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    if (data.length === 0) return Promise.resolve();
    if (this.bufferedBytes > 0 && stream !== this.bufferedStream) void this.flush();
    this.bufferedStream = stream;
    this.buffer.push(data);
    this.bufferedBytes += data.length;
    const stored = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.bufferedBytes >= this.options.chunkBytes) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
    return stored;
  }

  /** Writes whatever is buffered now; resolves when it and everything before it is stored. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.bufferedBytes > 0) {
      const content = Buffer.concat(this.buffer, this.bufferedBytes);
      const stream = this.bufferedStream;
      const waiters = this.waiters;
      this.buffer = [];
      this.bufferedBytes = 0;
      this.waiters = [];
      this.chain = this.chain.then(async () => {
        // Once a write failed, nothing later is stored either: the log would have a hole.
        if (this.failed !== null) {
          for (const w of waiters) w.reject(this.failed);
          return;
        }
        const first = this.log.num_lines;
        try {
          await this.repo.appendChunk(this.log, stream, content);
        } catch (e) {
          this.failed = e;
          for (const w of waiters) w.reject(e);
          return;
        }
        this.bus.publish('log.appended', { logid: this.log.id, stepid: this.log.stepid, stream, data: content, first_line: first });
        for (const w of waiters) w.resolve();
      });
    }
    return this.chain;
  }

  async finish(): Promise<void> {
    await this.flush();
    if (this.failed !== null) throw this.failed;
    await this.repo.finish(this.log.id, { num_lines: this.log.num_lines });
    this.log.complete = true;
  }
}
