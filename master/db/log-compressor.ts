/**
 * Compresses log chunks on worker threads, so the master's event loop hands a chunk over and gets its
 * bytes back and does nothing else for it.
 *
 * Why not node:zlib's async brotliCompress: it compresses in libuv's thread pool, but wraps each call
 * in a Transform stream whose plumbing (write, transform, flush, end, callbacks, buffer lists) runs on
 * the event loop. On the 50 MB log that plumbing and the garbage it leaves were about a third of the
 * master's main thread, more than the compressing itself (docs/performance.md, "The 50 MB log").
 * A worker calls brotliCompressSync, whose loop is all in the worker; the event loop's part is one
 * copy of the chunk into a transferable buffer and two messages.
 *
 * States of the pool:
 * - empty: no worker (at start, and after `idleMs` without a chunk: an idle master keeps no thread);
 * - running: 1..`size` workers; a chunk goes to the one with the fewest in flight, a second worker
 *   starts only while every running one is busy, and past MAX_IN_FLIGHT each the chunks wait;
 * - a worker that fails (throws while starting, dies, exits) is dropped and its chunks are
 *   compressed on libuv's pool instead (the fallback), so no chunk is lost or delayed by a retry
 *   loop; after `MAX_FAILURES` failures the pool stays on the fallback;
 * - closed (`close()`): each worker answers the chunks it has, then ends; later chunks use the fallback.
 * Workers are unref'd: they never keep a process alive.
 */
import os from 'node:os';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';

/** Brotli's settings for log chunks (log-codec.ts says why). */
export interface CompressSettings {
  quality: number;
}

/**
 * The encoder's output pieces in a worker: a log chunk (256 KiB) packs into one or a few, and each
 * call allocates one (1 MiB pieces cost as much CPU and 16 times the memory; 16 KiB ones more CPU).
 */
const WORKER_OUTPUT_BYTES = 64 * 1024;
/**
 * In the in-process fallback, one piece bigger than any chunk: node's stream plumbing around the
 * encoder then runs once per chunk, not once per 16 KiB of output.
 */
const FALLBACK_OUTPUT_BYTES = 1024 * 1024;

interface Job {
  resolve: (packed: Buffer | null) => void;
  reject: (e: unknown) => void;
  content: Buffer;
}

interface PoolWorker {
  worker: Worker;
  jobs: Map<number, Job>;
}

/**
 * Replies the worker sends: the packed bytes, or null when they would not be smaller; and always
 * the buffer the chunk came in, to carry the next one.
 */
type Reply = { id: number; input: ArrayBuffer } & ({ packed: Uint8Array | null } | { error: string });

const MAX_FAILURES = 3;
/** The buffers chunks travel to the workers in: at least this big, and at most SPARE_BUFFERS kept between chunks. */
const TRANSFER_BUFFER_BYTES = 256 * 1024;
const SPARE_BUFFERS = 8;
/**
 * Chunks sent to a worker and not answered yet, at most. Each sent chunk is a copy: the log writer
 * hands over a whole batch at once (up to the 16 MiB a run may have unstored), and copying all of
 * it at once doubled that in the master's memory; the rest wait here, uncopied.
 */
const MAX_IN_FLIGHT = 4;

/**
 * The worker's program, CommonJS evaluated as given: it needs nothing but node's own modules, and an
 * evaluated script runs the same from the TypeScript sources and from the compiled dist/.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const zlib = require('node:zlib');
const { BROTLI_PARAM_QUALITY, BROTLI_PARAM_SIZE_HINT, BROTLI_PARAM_MODE, BROTLI_MODE_TEXT } = zlib.constants;
parentPort.on('message', ({ id, input, length, close }) => {
  if (close) return parentPort.close(); // after the chunks sent before it: the thread then ends
  const content = new Uint8Array(input, 0, length);
  let reply;
  try {
    const packed = zlib.brotliCompressSync(content, {
      chunkSize: workerData.chunkSize,
      params: { [BROTLI_PARAM_QUALITY]: workerData.quality, [BROTLI_PARAM_SIZE_HINT]: length, [BROTLI_PARAM_MODE]: BROTLI_MODE_TEXT },
    });
    reply = { id, input, packed: packed.length < length ? new Uint8Array(packed) : null };
  } catch (e) {
    reply = { id, input, error: String((e && e.message) || e) };
  }
  // The input buffer goes back for the next chunk, and the packed bytes (a copy of their exact size) are moved, not cloned.
  parentPort.postMessage(reply, reply.packed ? [input, reply.packed.buffer] : [input]);
});
`;

const brotliCompress = promisify(zlib.brotliCompress);

export class LogCompressor {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;
  private failures = 0;
  private closed = false;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Buffers back from the workers, to carry the next chunks (see send()). */
  private spare: ArrayBuffer[] = [];
  /** Chunks not sent yet, oldest first: every worker has MAX_IN_FLIGHT already. */
  private waiting: Job[] = [];

  constructor(
    private readonly settings: CompressSettings,
    private readonly size = defaultPoolSize(),
    private readonly idleMs = 30_000,
  ) {}

  /** `content` compressed, or null when brotli would not make it smaller. */
  compress(content: Buffer): Promise<Buffer | null> {
    if (this.closed || this.failures >= MAX_FAILURES) return this.fallback(content);
    this.clearIdle();
    return new Promise<Buffer | null>((resolve, reject) => {
      this.waiting.push({ resolve, reject, content });
      this.dispatch();
    });
  }

  /** Sends waiting chunks to workers with room (MAX_IN_FLIGHT each); with no pool any more, to the fallback. */
  private dispatch(): void {
    while (this.waiting.length > 0) {
      if (this.closed || this.failures >= MAX_FAILURES) {
        for (const job of this.waiting.splice(0)) this.fallback(job.content).then(job.resolve, job.reject);
        return;
      }
      const target = this.pick();
      if (target.jobs.size >= MAX_IN_FLIGHT) return; // the next answer dispatches again
      this.send(target, this.waiting.shift() as Job);
    }
  }

  private send(target: PoolWorker, job: Job): void {
    const id = this.nextId++;
    // The chunk may be a view into a larger buffer, and its bytes are still needed here (the live
    // stream, the line counts): the worker gets a copy, in a buffer moved to it (not cloned) that
    // comes back with the answer and carries a later chunk. A fresh buffer per chunk was garbage in
    // the worker, whose few collections let 45-70 MiB of them pile up in a 50 MiB log.
    const input = this.takeBuffer(job.content.length);
    job.content.copy(new Uint8Array(input, 0, job.content.length));
    target.jobs.set(id, job);
    target.worker.postMessage({ id, input, length: job.content.length }, [input]);
  }

  /** Ends the workers once they have answered the chunks in flight; later chunks use the fallback. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearIdle();
    this.spare = [];
    this.dispatch(); // the waiting chunks, to the fallback
    await Promise.all([...this.workers].map((w) => this.retire(w)));
  }

  /** Workers running now (tests, and the idle linger). */
  get running(): number {
    return this.workers.length;
  }

  private pick(): PoolWorker {
    let least: PoolWorker | undefined;
    for (const w of this.workers) if (!least || w.jobs.size < least.jobs.size) least = w;
    if (least && (least.jobs.size === 0 || this.workers.length >= this.size)) return least;
    return this.start();
  }

  private start(): PoolWorker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { quality: this.settings.quality, chunkSize: WORKER_OUTPUT_BYTES },
    });
    worker.unref();
    const entry: PoolWorker = { worker, jobs: new Map() };
    this.workers.push(entry);
    worker.on('message', (reply: Reply) => this.settle(entry, reply));
    worker.on('error', () => this.fail(entry));
    worker.on('exit', () => this.fail(entry));
    return entry;
  }

  private settle(entry: PoolWorker, reply: Reply): void {
    const job = entry.jobs.get(reply.id);
    if (!job) return;
    entry.jobs.delete(reply.id);
    if (this.spare.length < SPARE_BUFFERS && !this.closed) this.spare.push(reply.input);
    if ('error' in reply) this.fallback(job.content).then(job.resolve, job.reject);
    else job.resolve(reply.packed === null ? null : Buffer.from(reply.packed.buffer, reply.packed.byteOffset, reply.packed.byteLength));
    this.dispatch();
    if (!this.closed && this.waiting.length === 0 && this.workers.every((w) => w.jobs.size === 0)) this.armIdle();
  }

  /** A worker died or exited: its chunks go to the fallback, and it is not used again. */
  private fail(entry: PoolWorker): void {
    const at = this.workers.indexOf(entry);
    if (at === -1) return; // retired on purpose, or already counted
    this.workers.splice(at, 1);
    this.failures++;
    this.handOver(entry);
    this.dispatch(); // what waited for it goes to a new worker (or, past MAX_FAILURES, the fallback)
  }

  /**
   * Ends a worker between two chunks: it answers those sent before, then its thread ends. Never
   * terminate(): node 20 aborts the whole process ("close before init") when a worker is terminated
   * while it is setting up a brotli encoder (caught by the suite: a master stopped mid-log).
   */
  private async retire(entry: PoolWorker): Promise<void> {
    const at = this.workers.indexOf(entry);
    if (at === -1) return;
    this.workers.splice(at, 1);
    const ended = new Promise((resolve) => entry.worker.once('exit', resolve));
    entry.worker.postMessage({ close: true });
    await ended;
    this.handOver(entry); // none left, unless it died first
  }

  private handOver(entry: PoolWorker): void {
    for (const job of entry.jobs.values()) this.fallback(job.content).then(job.resolve, job.reject);
    entry.jobs.clear();
  }

  private armIdle(): void {
    this.clearIdle();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      this.spare = [];
      for (const w of [...this.workers]) void this.retire(w);
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** A spare buffer that holds `bytes`, or a new one (never from the shared pool, which cannot be moved). */
  private takeBuffer(bytes: number): ArrayBuffer {
    const at = this.spare.findIndex((b) => b.byteLength >= bytes);
    if (at !== -1) return this.spare.splice(at, 1)[0] as ArrayBuffer;
    return new ArrayBuffer(Math.max(bytes, TRANSFER_BUFFER_BYTES));
  }

  /** In-process async brotli (libuv's pool): no worker, or none any more. */
  private async fallback(content: Buffer): Promise<Buffer | null> {
    const packed = await brotliCompress(content, {
      chunkSize: FALLBACK_OUTPUT_BYTES,
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: this.settings.quality,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: content.length,
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      },
    });
    // A view into the 1 MiB output buffer would keep all of it alive as long as the chunk: copied out.
    return packed.length >= content.length ? null : Buffer.from(packed);
  }
}

/** One worker per core beyond the event loop's, at most two: compressing a log is not worth more. */
function defaultPoolSize(): number {
  return Math.max(1, Math.min(2, os.availableParallelism() - 1));
}
