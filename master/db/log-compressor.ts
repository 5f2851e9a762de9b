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
 * - running: 1..`size` workers; a chunk goes to the one with the fewest in flight, and a second
 *   worker starts only while every running one is busy;
 * - a worker that fails (throws while starting, dies, exits) is dropped and its chunks are
 *   compressed on libuv's pool instead (the fallback), so no chunk is lost or delayed by a retry
 *   loop; after `MAX_FAILURES` failures the pool stays on the fallback;
 * - closed (`close()`): workers terminated; later chunks use the fallback.
 * Workers are unref'd: they never keep a process alive.
 */
import os from 'node:os';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';

/** Brotli's settings for log chunks (log-codec.ts says why). */
export interface CompressSettings {
  quality: number;
  /** The encoder's output buffer, bytes. */
  chunkSize: number;
}

interface Job {
  resolve: (packed: Buffer | null) => void;
  reject: (e: unknown) => void;
  content: Buffer;
}

interface PoolWorker {
  worker: Worker;
  jobs: Map<number, Job>;
}

/** Replies the worker sends: the packed bytes, or null when they would not be smaller. */
type Reply = { id: number; packed: Uint8Array | null } | { id: number; error: string };

const MAX_FAILURES = 3;

/**
 * The worker's program, CommonJS evaluated as given: it needs nothing but node's own modules, and an
 * evaluated script runs the same from the TypeScript sources and from the compiled dist/.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const zlib = require('node:zlib');
const { BROTLI_PARAM_QUALITY, BROTLI_PARAM_SIZE_HINT, BROTLI_PARAM_MODE, BROTLI_MODE_TEXT } = zlib.constants;
parentPort.on('message', ({ id, content }) => {
  try {
    const packed = zlib.brotliCompressSync(content, {
      chunkSize: workerData.chunkSize,
      params: { [BROTLI_PARAM_QUALITY]: workerData.quality, [BROTLI_PARAM_SIZE_HINT]: content.length, [BROTLI_PARAM_MODE]: BROTLI_MODE_TEXT },
    });
    if (packed.length >= content.length) return parentPort.postMessage({ id, packed: null });
    const exact = new Uint8Array(packed); // its own buffer of the exact size, moved (not copied) back
    parentPort.postMessage({ id, packed: exact }, [exact.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.message) || e) });
  }
});
`;

const brotliCompress = promisify(zlib.brotliCompress);

export class LogCompressor {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;
  private failures = 0;
  private closed = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly settings: CompressSettings,
    private readonly size = defaultPoolSize(),
    private readonly idleMs = 30_000,
  ) {}

  /** `content` compressed, or null when brotli would not make it smaller. */
  compress(content: Buffer): Promise<Buffer | null> {
    const target = this.closed || this.failures >= MAX_FAILURES ? null : this.pick();
    if (target === null) return this.fallback(content);
    this.clearIdle();
    const id = this.nextId++;
    // The chunk may be a view into a larger buffer, and its bytes are still needed here (the live
    // stream, the line counts): the worker gets a copy it owns, moved rather than cloned.
    // allocUnsafeSlow: a buffer of its own (never the shared pool, which cannot be moved), not zeroed.
    const copy = Buffer.allocUnsafeSlow(content.length);
    content.copy(copy);
    return new Promise<Buffer | null>((resolve, reject) => {
      target.jobs.set(id, { resolve, reject, content });
      target.worker.postMessage({ id, content: copy }, [copy.buffer as ArrayBuffer]);
    });
  }

  /** Terminates the workers; chunks in flight finish on the fallback. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearIdle();
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
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: this.settings });
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
    if ('error' in reply) this.fallback(job.content).then(job.resolve, job.reject);
    else job.resolve(reply.packed === null ? null : Buffer.from(reply.packed.buffer, reply.packed.byteOffset, reply.packed.byteLength));
    if (this.workers.every((w) => w.jobs.size === 0)) this.armIdle();
  }

  /** A worker died or exited: its chunks go to the fallback, and it is not used again. */
  private fail(entry: PoolWorker): void {
    const at = this.workers.indexOf(entry);
    if (at === -1) return; // retired on purpose, or already counted
    this.workers.splice(at, 1);
    this.failures++;
    this.handOver(entry);
  }

  private async retire(entry: PoolWorker): Promise<void> {
    const at = this.workers.indexOf(entry);
    if (at !== -1) this.workers.splice(at, 1);
    this.handOver(entry);
    await entry.worker.terminate();
  }

  private handOver(entry: PoolWorker): void {
    for (const job of entry.jobs.values()) this.fallback(job.content).then(job.resolve, job.reject);
    entry.jobs.clear();
  }

  private armIdle(): void {
    this.clearIdle();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      for (const w of [...this.workers]) void this.retire(w);
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** In-process async brotli (libuv's pool): no worker, or none any more. */
  private async fallback(content: Buffer): Promise<Buffer | null> {
    const packed = await brotliCompress(content, {
      chunkSize: this.settings.chunkSize,
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
