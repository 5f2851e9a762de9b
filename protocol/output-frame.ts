/**
 * The binary `output` frame (protocol 4): a command's output as raw bytes in a binary WebSocket
 * frame, instead of base64 inside JSON. Same fields and rules as the JSON `output` message (run,
 * seq, stream, data); only the encoding differs, so acks, replays and flow control do not change.
 * Base64 made every byte a third larger on the wire, and the JSON text, its parse and the decoded
 * copy were large strings on the master's heap: most of its garbage collection for a big log.
 *
 * Layout (docs/agent-protocol.md, "Binary output frames"):
 *   byte 0       kind: 1 = output
 *   byte 1       stream: 0 stdout, 1 stderr, 2 file
 *   bytes 2..7   seq, unsigned 48-bit big-endian
 *   byte 8       n: the run id's length in bytes (1..255)
 *   bytes 9..    the run id (UTF-8), then the data (at most MAX_OUTPUT_CHUNK bytes)
 */
import { MAX_OUTPUT_CHUNK, type Parsed } from './messages.ts';

/** The first protocol whose agents send output as binary frames (and whose masters accept them). */
export const BINARY_OUTPUT_PROTOCOL_VERSION = 4;

export const OUTPUT_FRAME_KIND = 1;
const HEADER_BYTES = 9;
const STREAMS = ['stdout', 'stderr', 'file'] as const;
export type OutputStream = (typeof STREAMS)[number];
/** Largest seq a frame carries: 48 bits, far beyond any run's frame count. */
const MAX_SEQ = 2 ** 48 - 1;
/** As the JSON message's `run`: 1 to 64 characters. */
const MAX_RUN_CHARS = 64;

/** An `output` message as the master handles it, whichever encoding it came in: the bytes decoded. */
export interface OutputChunk {
  type: 'output';
  run: string;
  seq: number;
  stream: OutputStream;
  data: Buffer;
  /**
   * The agent's side only: the binary frame `data` is a view into, already encoded (it carries the
   * same run, seq and stream), so sending it again copies nothing.
   */
  frame?: Buffer;
}

/** The frame for one piece of output. Throws on a seq or run id the layout cannot carry (a bug of the caller). */
export function encodeOutputFrame(run: string, seq: number, stream: OutputStream, data: Buffer): Buffer {
  return encodeOutputFrameFrom(run, seq, stream, [data], data.length);
}

/**
 * The frame for the `bytes` bytes of `parts` (in order; the last may be longer, its excess is left
 * out), copied once straight into the frame: the agent builds its frames from the pipe's reads so
 * that a big log is not also concatenated into a buffer of its own first (each copy is memory that
 * waits for V8's garbage collector and stays in malloc's heap; docs/performance.md, "The agent").
 * The chunk's data is then `frame.subarray(outputFrameHeaderBytes(run))`. `into`, when given, is
 * where the frame is written (the agent's reused buffers, agent/frame-pool.ts): exactly the
 * frame's length, header included.
 */
export function encodeOutputFrameFrom(
  run: string,
  seq: number,
  stream: OutputStream,
  parts: readonly Buffer[],
  bytes: number,
  into?: Buffer,
): Buffer {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_SEQ) throw new RangeError(`output seq ${seq} does not fit a binary frame`);
  const header = outputFrameHeaderBytes(run);
  if (into && into.length !== header + bytes) {
    throw new RangeError(`output frame buffer of ${into.length} bytes, not the ${header + bytes} the frame takes`);
  }
  const frame = into ?? Buffer.allocUnsafe(header + bytes);
  frame[0] = OUTPUT_FRAME_KIND;
  frame[1] = STREAMS.indexOf(stream);
  frame.writeUIntBE(seq, 2, 6);
  frame[8] = header - HEADER_BYTES;
  frame.write(run, HEADER_BYTES, 'utf8');
  let at = header;
  for (const part of parts) {
    if (at === frame.length) break;
    at += part.copy(frame, at, 0, Math.min(part.length, frame.length - at));
  }
  if (at !== frame.length) throw new RangeError(`output parts hold ${at - header} bytes, fewer than the ${bytes} announced`);
  return frame;
}

/** Where a frame's data starts: the header and the run id. Throws on a run id the layout cannot carry. */
export function outputFrameHeaderBytes(run: string): number {
  const runBytes = Buffer.byteLength(run);
  if (runBytes < 1 || runBytes > 255) throw new RangeError(`run id of ${runBytes} bytes does not fit a binary frame`);
  return HEADER_BYTES + runBytes;
}

/** A binary frame read back, checked as the JSON message is; `data` is a view into `frame` (no copy). */
export function decodeOutputFrame(frame: Buffer): Parsed<OutputChunk> {
  const fail = (error: string): Parsed<OutputChunk> => ({ ok: false, error: `binary frame: ${error}` });
  if (frame.length < HEADER_BYTES) return fail(`${frame.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  if (frame[0] !== OUTPUT_FRAME_KIND) return fail(`unknown kind ${frame[0]} at byte 0 (1 = output)`);
  const stream = STREAMS[frame[1] as number];
  if (stream === undefined) return fail(`unknown stream ${frame[1]} at byte 1 (0 stdout, 1 stderr, 2 file)`);
  const seq = frame.readUIntBE(2, 6);
  const runBytes = frame[8] as number;
  if (runBytes === 0) return fail('empty run id (byte 8 is 0)');
  const dataStart = HEADER_BYTES + runBytes;
  if (frame.length < dataStart) return fail(`run id of ${runBytes} bytes runs past the frame's end (${frame.length} bytes)`);
  const run = frame.toString('utf8', HEADER_BYTES, dataStart);
  if (run.length > MAX_RUN_CHARS || Buffer.byteLength(run) !== runBytes) return fail('run id is not 1 to 64 characters of UTF-8');
  const data = frame.subarray(dataStart);
  if (data.length > MAX_OUTPUT_CHUNK) return fail(`data of ${data.length} bytes, more than ${MAX_OUTPUT_CHUNK}`);
  return { ok: true, message: { type: 'output', run, seq, stream, data } };
}
