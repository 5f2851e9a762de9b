/**
 * The binary output frame of protocol 4 (protocol/output-frame.ts): what goes in comes out byte for
 * byte, and a malformed frame is refused with an error naming what is wrong and where.
 */
import { describe, expect, it } from 'vitest';
import { MAX_OUTPUT_CHUNK } from '../../protocol/messages.ts';
import { decodeOutputFrame, encodeOutputFrame, encodeOutputFrameFrom, outputFrameHeaderBytes } from '../../protocol/output-frame.ts';

const RUN = '5d1e0c4e-8a37-4a5e-9d7a-2b1f3c4d5e6f';

function errorOf(frame: Buffer): string {
  const parsed = decodeOutputFrame(frame);
  if (parsed.ok) throw new Error('expected the frame to be refused');
  return parsed.error;
}

describe('binary output frame', () => {
  it.each([
    ['stdout', 0, Buffer.from('hello\n')],
    ['stderr', 1, Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x80])],
    ['file', 2 ** 40, Buffer.alloc(0)],
    ['stdout', 7, Buffer.alloc(MAX_OUTPUT_CHUNK, 0x61)],
  ] as const)('carries %s, seq %d, bytes exact', (stream, seq, data) => {
    const parsed = decodeOutputFrame(encodeOutputFrame(RUN, seq, stream, data));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.message).toEqual({ type: 'output', run: RUN, seq, stream, data });
    expect(parsed.message.data.equals(data)).toBe(true);
  });

  it('costs 9 bytes and the run id beside the data (base64 in JSON cost a third more)', () => {
    expect(encodeOutputFrame(RUN, 3, 'stdout', Buffer.alloc(1000)).length).toBe(9 + RUN.length + 1000);
  });

  it('refuses a malformed frame, saying what and where', () => {
    const good = encodeOutputFrame(RUN, 3, 'stdout', Buffer.from('x'));
    const with_ = (at: number, byte: number) => Buffer.from(good).fill(byte, at, at + 1);
    expect(errorOf(good.subarray(0, 5))).toBe('binary frame: 5 bytes, shorter than the 9-byte header');
    expect(errorOf(with_(0, 2))).toBe('binary frame: unknown kind 2 at byte 0 (1 = output)');
    expect(errorOf(with_(1, 3))).toBe('binary frame: unknown stream 3 at byte 1 (0 stdout, 1 stderr, 2 file)');
    expect(errorOf(with_(8, 0))).toBe('binary frame: empty run id (byte 8 is 0)');
    expect(errorOf(with_(8, 200))).toBe(`binary frame: run id of 200 bytes runs past the frame's end (${good.length} bytes)`);
    expect(errorOf(encodeOutputFrame('r'.repeat(65), 0, 'stdout', Buffer.alloc(0)))).toBe(
      'binary frame: run id is not 1 to 64 characters of UTF-8',
    );
    expect(errorOf(encodeOutputFrame(RUN, 0, 'stdout', Buffer.alloc(MAX_OUTPUT_CHUNK + 1)))).toBe(
      `binary frame: data of ${MAX_OUTPUT_CHUNK + 1} bytes, more than ${MAX_OUTPUT_CHUNK}`,
    );
  });

  it('encodes straight from several reads: their first bytes, in order, the same frame as from one buffer', () => {
    const parts = [Buffer.from('abc'), Buffer.alloc(0), Buffer.from('defg'), Buffer.from('hij')];
    const frame = encodeOutputFrameFrom(RUN, 9, 'stderr', parts, 8);
    expect(frame.equals(encodeOutputFrame(RUN, 9, 'stderr', Buffer.from('abcdefgh')))).toBe(true);
    expect(frame.subarray(outputFrameHeaderBytes(RUN)).toString()).toBe('abcdefgh');
    expect(() => encodeOutputFrameFrom(RUN, 9, 'stderr', parts, 11)).toThrow('output parts hold 10 bytes, fewer than the 11 announced');
  });

  it('will not encode what the layout cannot carry', () => {
    expect(() => encodeOutputFrame(RUN, -1, 'stdout', Buffer.alloc(0))).toThrow(/seq -1/);
    expect(() => encodeOutputFrame(RUN, 2 ** 48, 'stdout', Buffer.alloc(0))).toThrow(/seq/);
    expect(() => encodeOutputFrame('', 0, 'stdout', Buffer.alloc(0))).toThrow(/run id of 0 bytes/);
  });
});
