import { describe, expect, it } from 'vitest';
import { FramePool, MIN_POOLED_FRAME } from '../../agent/frame-pool.ts';
import { decodeOutputFrame, encodeOutputFrameFrom, outputFrameHeaderBytes } from '../../protocol/output-frame.ts';

describe('FramePool', () => {
  it('gives a slab back only once the frame is both released and sent, then reuses it', () => {
    const pool = new FramePool(1024 * 1024);
    const a = pool.take(100_000);
    expect(a.frame.length).toBe(100_000);
    expect(pool.heldBytes).toBe(128 * 1024);
    const sent = a.sending();
    a.release();
    // Still being written: a new frame must not get the same memory.
    const b = pool.take(100_000);
    expect(b.frame.buffer).not.toBe(a.frame.buffer);
    sent();
    sent(); // twice is once
    const c = pool.take(90_000);
    expect(c.frame.buffer).toBe(a.frame.buffer);
    expect(pool.heldBytes).toBe(2 * 128 * 1024);
  });

  it('allocates small frames and frames past its bound on their own', () => {
    const pool = new FramePool(300 * 1024);
    expect(pool.take(MIN_POOLED_FRAME - 1).frame.length).toBe(MIN_POOLED_FRAME - 1);
    expect(pool.heldBytes).toBe(0);
    pool.take(256 * 1024 + 100);
    const over = pool.take(200_000);
    expect(over.frame.length).toBe(200_000);
    expect(pool.heldBytes).toBeLessThanOrEqual(300 * 1024);
  });

  it('drops free slabs on trim', () => {
    const pool = new FramePool(1024 * 1024);
    pool.take(20_000).release();
    expect(pool.heldBytes).toBe(32 * 1024);
    pool.trim();
    expect(pool.heldBytes).toBe(0);
  });
});

describe('encodeOutputFrameFrom into a given buffer', () => {
  it('writes the frame there, and refuses a buffer of the wrong length', () => {
    const run = 'run-1';
    const data = Buffer.from('hello world');
    const into = Buffer.alloc(outputFrameHeaderBytes(run) + data.length, 0xff);
    const frame = encodeOutputFrameFrom(run, 7, 'stdout', [data], data.length, into);
    expect(frame).toBe(into);
    const decoded = decodeOutputFrame(frame);
    expect(decoded.ok && decoded.message.data.toString()).toBe('hello world');
    expect(() => encodeOutputFrameFrom(run, 7, 'stdout', [data], data.length, Buffer.alloc(3))).toThrow(
      'output frame buffer of 3 bytes, not the 25 the frame takes',
    );
  });
});
