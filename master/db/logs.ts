import type { DataSource, Repository } from 'typeorm';
import type { LogChunkRow, LogRow } from './entities.ts';
import { parseCollectionQuery, type FieldMap } from './collection-query.ts';
import { rawBool, rawCollectionQuery, type RawRow } from './raw-collection-query.ts';
import { transaction } from './transaction.ts';
import { groupCommit } from './group-commit.ts';
import { plainSql, type PlainSql } from './plain-sql.ts';
import { LogMovedError } from './log-moved-error.ts';
import { decodeLogChunk, encodeLogChunk, LOG_COMPRESS_SETTINGS, type StoredChunk } from './log-codec.ts';
import { LogCompressor } from './log-compressor.ts';

export const logFields: FieldMap = {
  logid: { column: 'id', type: 'int' },
  stepid: { column: 'stepid', type: 'int' },
  name: { column: 'name', type: 'string' },
  slug: { column: 'slug', type: 'string' },
  num_lines: { column: 'num_lines', type: 'int' },
  complete: { column: 'complete', type: 'bool' },
};

const LOG_COLUMNS = [
  'id',
  'stepid',
  'name',
  'slug',
  'type',
  'num_lines',
  'num_bytes',
  'complete',
  'expired_at',
] as const satisfies readonly (keyof LogRow)[];

/** A plain row of LOG_COLUMNS as a LogRow (num_bytes is a bigint column). */
function logRow(r: RawRow): LogRow {
  return {
    id: Number(r.id),
    stepid: Number(r.stepid),
    name: String(r.name),
    slug: String(r.slug),
    type: String(r.type),
    num_lines: Number(r.num_lines),
    num_bytes: Number(r.num_bytes),
    complete: rawBool(r.complete),
    expired_at: r.expired_at === null || r.expired_at === undefined ? null : Number(r.expired_at),
  };
}

export function slugify(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '_')
      .slice(0, 100) || 'log'
  );
}

/** One chunk to append: its bytes as written, and (optionally) as compressed already. */
export interface AppendedChunk {
  stream: 'o' | 'e' | 'h';
  content: Buffer;
  stored?: StoredChunk;
}

/** A chunk as read back: its bytes as written (so `codec` is 'raw'), whatever codec keeps them at rest. */
export type LogChunk = LogChunkRow & { codec: 'raw' };

/**
 * Logs are stored as ordered chunks of bytes, so a log is byte-exact and can be read in pages.
 * Chunks are compressed at rest (log-codec.ts); every read here hands back the bytes as written.
 */
export class LogsRepo {
  private readonly logs: Repository<LogRow>;
  private readonly chunks: Repository<LogChunkRow>;
  /** A log's create, chunks and finish: plain statements, one text each (see plain-sql.ts). */
  private readonly sql: PlainSql;
  /** Compresses chunks on worker threads (log-compressor.ts); they start with the first chunk. */
  private readonly compressor = new LogCompressor(LOG_COMPRESS_SETTINGS);
  constructor(private readonly source: DataSource) {
    this.logs = source.getRepository<LogRow>('Log');
    this.chunks = source.getRepository<LogChunkRow>('LogChunk');
    this.sql = plainSql(source);
  }

  /** A chunk's bytes as they will be kept at rest (log-codec.ts). */
  encode(content: Buffer): Promise<StoredChunk> {
    return encodeLogChunk(content, this.compressor);
  }

  /** Stops the compressing threads (the master's stop); a later chunk is compressed in process. */
  close(): Promise<void> {
    return this.compressor.close();
  }

  async create(stepid: number, name: string, type: 's' | 't'): Promise<LogRow> {
    const values = { stepid, name, slug: slugify(name), type, num_lines: 0, num_bytes: 0, complete: false, expired_at: null };
    // Group commit (group-commit.ts): the logs of steps starting together in several builds, one commit.
    const id = await groupCommit(this.source).run((em) => this.sql.insertReturningId('logs', values, em));
    return { ...values, id };
  }

  /** Appends one chunk and its counts: appendChunks() with one chunk. */
  async appendChunk(
    log: { id: number; num_lines: number; num_bytes: number },
    stream: 'o' | 'e' | 'h',
    content: Buffer,
    stored?: StoredChunk,
  ): Promise<void> {
    await this.appendChunks(log, [{ stream, content, ...(stored ? { stored } : {}) }]);
  }

  /**
   * Appends chunks and their counts in one transaction: a crash never leaves counts and chunks apart,
   * and a batch of chunks costs one commit, not one each (the log writer hands over what collected
   * while its last write was in flight).
   * Idempotent, keyed by where the batch starts in the log (the byte count `log` holds): the counts
   * move only from that count. When they have already moved by exactly this batch, an earlier try
   * landed but its answer was lost (the connection died during COMMIT), and nothing is written again.
   * Any other count means the log is not what this writer left (gone, or written by someone else):
   * LogMovedError, which no retry can help.
   * A chunk's `stored` is its `content` as encodeLogChunk() made it, when the caller compressed it
   * already (the log writer does, once, before its retries); else it is compressed here, before the
   * transaction. Returns the line each chunk starts on.
   */
  async appendChunks(log: { id: number; num_lines: number; num_bytes: number }, chunks: readonly AppendedChunk[]): Promise<number[]> {
    const atRest = await Promise.all(chunks.map((c) => c.stored ?? this.encode(c.content)));
    const firstLines: number[] = [];
    const rows: Omit<LogChunkRow, 'id'>[] = [];
    let lines = log.num_lines;
    let bytes = log.num_bytes;
    chunks.forEach((chunk, i) => {
      const { content, stream } = chunk;
      let newlines = 0;
      for (let at = content.indexOf(10); at !== -1; at = content.indexOf(10, at + 1)) newlines++;
      const stored = atRest[i] as StoredChunk;
      firstLines.push(lines);
      rows.push({ logid: log.id, first_line: lines, last_line: lines + newlines, stream, codec: stored.codec, content: stored.content });
      lines += newlines;
      bytes += content.length;
    });
    if (rows.length === 0) return firstLines;
    const after = { num_lines: lines, num_bytes: bytes };
    // Plain statements, one text each (plain-sql.ts): through TypeORM's builders these cost more of the
    // master's event loop than SQLite's own work on a busy log.
    const advance = this.sql.text(
      'logs:advance',
      (p) => `UPDATE "logs" SET "num_lines" = ${p(1)}, "num_bytes" = ${p(2)} WHERE "id" = ${p(3)} AND "num_bytes" = ${p(4)}`,
    );
    const insert = this.sql.text(
      'logchunks:insert',
      (p) =>
        `INSERT INTO "logchunks" ("logid", "first_line", "last_line", "stream", "codec", "content") VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)})`,
    );
    await transaction(this.source, async (em) => {
      const moved = await this.sql.run(advance, [after.num_lines, after.num_bytes, log.id, log.num_bytes], em);
      if (moved.affected === 0) {
        const row = await em.getRepository<LogRow>('Log').findOneBy({ id: log.id });
        if (row && row.num_bytes === after.num_bytes && row.num_lines === after.num_lines) return; // landed before
        throw new LogMovedError(log.id, log.num_bytes, row);
      }
      for (const r of rows) await this.sql.run(insert, [r.logid, r.first_line, r.last_line, r.stream, r.codec, r.content], em);
    });
    log.num_lines = after.num_lines;
    log.num_bytes = after.num_bytes;
    return firstLines;
  }

  /**
   * The log named `name` of a step, if there is one: what a create() whose answer was lost made.
   * By slug (unique per step) and then by name: another name with the same slug is not it.
   */
  async created(stepid: number, name: string): Promise<LogRow | undefined> {
    const row = await this.bySlug(stepid, slugify(name));
    return row && row.name === name ? row : undefined;
  }

  async finish(id: number, counts: { num_lines: number }): Promise<void> {
    await this.sql.updateById('logs', id, { complete: true, num_lines: counts.num_lines });
  }

  get(id: number): Promise<LogRow | null> {
    return this.logs.findOneBy({ id });
  }

  bySlug(stepid: number, slug: string): Promise<LogRow | null> {
    return this.logs.findOneBy({ stepid, slug });
  }

  /** The log's bytes in order, a page of chunks at a time (a 50 MB log is never held whole). */
  async *readChunks(logid: number, pageSize = 64): AsyncGenerator<LogChunk> {
    let after = 0;
    for (;;) {
      const page = await this.chunks
        .createQueryBuilder('c')
        .where('c.logid = :logid AND c.id > :after', { logid, after })
        .orderBy('c.id', 'ASC')
        .take(pageSize)
        .getMany();
      for (const chunk of page) {
        after = chunk.id;
        yield await decoded(chunk);
      }
      if (page.length < pageSize) return;
    }
  }

  /**
   * Lines [offset, offset + limit) of a log as bytes (without their newlines), reading only the chunks
   * that hold them; and the log's line count, an unterminated last line included.
   */
  async lines(log: LogRow, offset: number, limit: number): Promise<{ lines: Buffer[]; total: number }> {
    const stored = await this.chunks.findOne({ where: { logid: log.id }, order: { id: 'DESC' } });
    const last = stored && (await decoded(stored));
    const total = log.num_lines + (last && last.content.length > 0 && last.content[last.content.length - 1] !== 10 ? 1 : 0);
    const end = Math.min(offset + limit, total);
    const lines: Buffer[] = [];
    if (offset >= end) return { lines, total };
    const chunks = await this.chunks
      .createQueryBuilder('c')
      .where('c.logid = :logid AND c.last_line >= :offset AND c.first_line < :end', { logid: log.id, offset, end })
      .orderBy('c.id', 'ASC')
      .getMany();
    let partial: Buffer[] = [];
    for (const row of chunks) {
      const chunk = await decoded(row);
      let line = chunk.first_line;
      let start = 0;
      // A chunk starting mid-line continues a line whose start lies in an earlier chunk, outside the window.
      for (let i = chunk.content.indexOf(10); i !== -1; i = chunk.content.indexOf(10, start)) {
        if (line >= offset && line < end) lines.push(Buffer.concat([...partial, chunk.content.subarray(start, i)]));
        partial = [];
        start = i + 1;
        line++;
      }
      if (start < chunk.content.length) partial.push(chunk.content.subarray(start));
      if (line >= end) break;
    }
    if (partial.length > 0 && lines.length < end - offset) lines.push(Buffer.concat(partial));
    return { lines, total };
  }

  /** A page of logs (the API's collection query), read as plain rows. */
  async query(raw: Record<string, unknown>, scope: { stepid?: number } = {}): Promise<{ rows: LogRow[]; total: number }> {
    const q = parseCollectionQuery(raw, logFields);
    const page = await rawCollectionQuery(this.source, 'logs', LOG_COLUMNS, logFields, q, { field: 'logid', desc: false }, scope);
    return { rows: page.rows.map(logRow), total: page.total };
  }
}

async function decoded(row: LogChunkRow): Promise<LogChunk> {
  return { ...row, codec: 'raw', content: await decodeLogChunk(row.codec, row.content, `chunk ${row.id} of log ${row.logid}`) };
}
