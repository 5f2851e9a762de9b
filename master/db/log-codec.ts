/**
 * How a log chunk's bytes are kept at rest (the `codec` column of `logchunks`, migration 0016).
 * New chunks are compressed with brotli on worker threads (log-compressor.ts), so the event loop never
 * waits on it; a chunk too small to gain, or one that would not shrink, is kept `raw`, as every
 * chunk written before 0016 is. Reading undoes the codec, so what the API serves is byte-exact.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { CompressSettings, LogCompressor } from './log-compressor.ts';

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

/** What the log compressor (log-compressor.ts) is given for log chunks. */
export const LOG_COMPRESS_SETTINGS: CompressSettings = { quality: QUALITY };

const brotliDecompress = promisify(zlib.brotliDecompress);

/** `content` as it is kept at rest: compressed by `compressor` (on its worker threads) when that pays. */
export async function encodeLogChunk(content: Buffer, compressor: LogCompressor): Promise<StoredChunk> {
  if (content.length < MIN_COMPRESS_BYTES) return { codec: 'raw', content };
  const packed = await compressor.compress(content);
  return packed === null ? { codec: 'raw', content } : { codec: 'br', content: packed };
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
