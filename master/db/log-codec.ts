/**
 * How a log chunk's bytes are kept at rest (the `codec` column of `logchunks`, migration 0016).
 * New chunks are compressed with brotli (node:zlib, in libuv's thread pool, so the event loop never
 * waits on it); a chunk too small to gain, or one that would not shrink, is kept `raw`, as every
 * chunk written before 0016 is. Reading undoes the codec, so what the API serves is byte-exact.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';

export const LOG_CODECS = ['raw', 'br'] as const;
export type LogCodec = (typeof LOG_CODECS)[number];

export interface StoredChunk {
  codec: LogCodec;
  content: Buffer;
}

/** Below this, brotli's few bytes of framing eat what it could save. */
const MIN_COMPRESS_BYTES = 128;
/**
 * Quality 1 of 11: log text still shrinks to about a fifth, at several times the speed of the
 * default (11) or of gzip 6, so a 50 MB log streams as fast as before (docs/operations.md).
 */
const QUALITY = 1;

/** The encoder's output buffer: bigger than any chunk the log writer makes (256 KiB). */
const OUTPUT_BUFFER_BYTES = 1024 * 1024;

const brotliCompress = promisify(zlib.brotliCompress);
const brotliDecompress = promisify(zlib.brotliDecompress);

export async function encodeLogChunk(content: Buffer): Promise<StoredChunk> {
  if (content.length < MIN_COMPRESS_BYTES) return { codec: 'raw', content };
  const packed = await brotliCompress(content, {
    // One output buffer the whole chunk fits in: node's stream plumbing around the encoder then runs
    // once per chunk instead of once per 16 KiB of output, and brotli takes its one-pass path (main
    // thread's time per 50 MiB: 50-60 -> 15-25 ms; docs/performance.md, "The 50 MB log").
    chunkSize: OUTPUT_BUFFER_BYTES,
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: QUALITY,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: content.length,
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
    },
  });
  if (packed.length >= content.length) return { codec: 'raw', content };
  // A view into that 1 MiB buffer would keep all of it alive as long as the chunk: copied out.
  return { codec: 'br', content: Buffer.from(packed) };
}

/** The chunk's bytes as written; `where` names the chunk in the error for a codec this master does not know. */
export async function decodeLogChunk(codec: string | null | undefined, stored: Buffer, where: string): Promise<Buffer> {
  switch (codec ?? 'raw') {
    case 'raw':
      return stored;
    case 'br':
      return brotliDecompress(stored);
    default:
      throw new Error(`${where} is stored with codec "${String(codec)}", which this master cannot read (known: ${LOG_CODECS.join(', ')})`);
  }
}
