/**
 * The log compressor (master/db/log-compressor.ts): brotli on worker threads, byte-exact, with the
 * in-process fallback when a worker dies or the pool is closed, and no thread left when idle.
 */
import { randomBytes } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { LogCompressor } from '../../master/db/log-compressor.ts';
import { LOG_COMPRESS_SETTINGS } from '../../master/db/log-codec.ts';

const text = (n: number, seed = 0): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => `[${i + seed}] cc -c src/module_${(i * 7) % 97}.c -o obj/module_${i % 97}.o\n`).join(''));

/** The pool's workers, reached past `private` to kill one as a crash would. */
const workersOf = (c: LogCompressor): { worker: Worker; jobs: Map<number, unknown> }[] =>
  (c as unknown as { workers: { worker: Worker; jobs: Map<number, unknown> }[] }).workers;

describe('LogCompressor', () => {
  const made: LogCompressor[] = [];
  const compressor = (size?: number, idleMs?: number): LogCompressor => {
    const c = new LogCompressor(LOG_COMPRESS_SETTINGS, size, idleMs);
    made.push(c);
    return c;
  };
  afterEach(async () => {
    await Promise.all(made.splice(0).map((c) => c.close()));
  });

  it('compresses on a worker, byte-exact, and leaves the caller its bytes (a view into a larger buffer)', async () => {
    const c = compressor(1);
    const whole = Buffer.concat([Buffer.from('prefix that is not part of the chunk\n'), text(3000), Buffer.from('suffix')]);
    const chunk = whole.subarray(37, whole.length - 6);
    const before = Buffer.from(chunk);
    const packed = await c.compress(chunk);
    expect(c.running).toBe(1);
    expect(packed).not.toBeNull();
    expect(packed!.length).toBeLessThan(chunk.length / 3);
    expect(zlib.brotliDecompressSync(packed!).equals(before)).toBe(true);
    expect(chunk.equals(before)).toBe(true); // not detached, not changed
  });

  it('carries chunk after chunk in the same few buffers, moved to the worker and back', async () => {
    const c = compressor(1);
    const spare = (): ArrayBuffer[] => (c as unknown as { spare: ArrayBuffer[] }).spare;
    await c.compress(text(3000));
    const [first] = spare();
    expect(first?.byteLength).toBeGreaterThanOrEqual(256 * 1024);
    for (let i = 0; i < 20; i++) expect(zlib.brotliDecompressSync((await c.compress(text(3000, i)))!).equals(text(3000, i))).toBe(true);
    expect(spare()).toEqual([first]); // the same one each time, back from the worker
  });

  it('sends a worker at most four chunks at a time (each is a copy); the rest wait, uncopied, in order', async () => {
    const c = compressor(1);
    const chunks = Array.from({ length: 40 }, (_, i) => text(3000, i));
    const pending = chunks.map((b) => c.compress(b));
    expect(workersOf(c)[0]!.jobs.size).toBe(4);
    const packed = await Promise.all(pending);
    packed.forEach((p, i) => expect(zlib.brotliDecompressSync(p!).equals(chunks[i]!)).toBe(true));
    expect(workersOf(c)[0]!.jobs.size).toBe(0);
  });

  it('answers null for bytes brotli cannot shrink', async () => {
    expect(await compressor(1).compress(randomBytes(64 * 1024))).toBeNull();
  });

  it('starts a second worker only while the first is busy, and matches every answer to its chunk', async () => {
    const c = compressor(2);
    const chunks = Array.from({ length: 12 }, (_, i) => text(2000, i * 1000));
    const packed = await Promise.all(chunks.map((b) => c.compress(b)));
    expect(c.running).toBe(2);
    packed.forEach((p, i) => expect(zlib.brotliDecompressSync(p!).equals(chunks[i]!)).toBe(true));
  });

  it('finishes the chunks of a worker that dies on the fallback, and sends the rest to a new worker', async () => {
    const c = compressor(1);
    await c.compress(text(10)); // the worker is up
    // A message its program cannot take (a negative length) throws outside its try: the worker dies
    // of an uncaught exception before it reads the chunks sent after it, as a crash would end it.
    const { worker } = workersOf(c)[0]!;
    const died = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage({ id: -1, input: new ArrayBuffer(8), length: -1 });
    const chunks = Array.from({ length: 6 }, (_, i) => text(4000, i));
    const pending = chunks.map((b) => c.compress(b));
    await died;
    const packed = await Promise.all(pending);
    packed.forEach((p, i) => expect(zlib.brotliDecompressSync(p!).equals(chunks[i]!)).toBe(true));
    expect(c.running).toBe(1); // a new worker took the chunks that were still waiting to be sent
    const again = await c.compress(chunks[0]!);
    expect(c.running).toBe(1);
    expect(zlib.brotliDecompressSync(again!).equals(chunks[0]!)).toBe(true);
  });

  it('answers the chunks in flight at close(), then compresses in process', async () => {
    const c = compressor(1);
    const chunk = text(5000);
    const inFlight = Array.from({ length: 8 }, () => c.compress(chunk));
    await c.close();
    expect(c.running).toBe(0);
    const packed = await Promise.all([...inFlight, c.compress(chunk)]);
    for (const p of packed) expect(zlib.brotliDecompressSync(p!).equals(chunk)).toBe(true);
    expect(c.running).toBe(0);
  });

  it('survives close() at any moment of a compress (node aborts the process if a worker is terminated then)', async () => {
    // Small chunks: setting up each encoder is most of the work, so close() often lands there.
    const chunk = text(20);
    for (let round = 0; round < 100; round++) {
      const c = compressor(2);
      await c.compress(chunk); // the workers are up
      const pending = Array.from({ length: 50 }, () => c.compress(chunk));
      await new Promise((r) => (round % 2 ? setImmediate(r) : setTimeout(r, round % 3)));
      await c.close();
      for (const p of await Promise.all(pending)) expect(zlib.brotliDecompressSync(p!).equals(chunk)).toBe(true);
    }
  });

  it('ends its workers after idleMs without a chunk', async () => {
    const c = compressor(1, 50);
    await c.compress(text(100));
    expect(c.running).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(c.running).toBe(0);
  });

  it('rejects a chunk that neither a worker nor the fallback can compress (bad settings), naming the cause', async () => {
    const c = new LogCompressor({ quality: 'high' as unknown as number }, 1); // as a wrong setting from JavaScript would be
    made.push(c);
    await expect(c.compress(text(100))).rejects.toThrow(/must be of type number/);
  });
});
