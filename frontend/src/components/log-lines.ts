/**
 * Pure helpers of the log viewer: cleaning a line for display, reading a page of `/contents`, and
 * fitting live `log.appended` chunks onto the lines already shown.
 *
 * The master's numbering: a log's `num_lines` counts its newlines; line i (from 0) is the text after
 * the i-th newline; text after the last newline is the line still being written (the "partial" line).
 * `/contents` answers lines joined with "\n", and its `meta.total` counts the partial line too when
 * there is one. A chunk's `first_line` is the number of newlines stored before it, so it continues
 * line `first_line`. Chunks are stored atomically with the counts, which makes the checks exact.
 */
import type { LogChunk } from '../../../protocol/api-types.ts';

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
export const MAX_LINE_CHARS = 10_000;

/** Display text of one raw line: no ANSI escapes, `\r` overwrites as on a terminal, capped in length. */
export function cleanLine(raw: string): string {
  let line = raw.replace(ANSI, '');
  if (line.endsWith('\r')) line = line.slice(0, -1);
  const cr = line.lastIndexOf('\r');
  if (cr !== -1) line = line.slice(cr + 1);
  if (line.length > MAX_LINE_CHARS)
    line = `${line.slice(0, MAX_LINE_CHARS)} … [${(line.length - MAX_LINE_CHARS).toLocaleString()} more characters: see raw]`;
  return line;
}

export function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

export interface LinesPage {
  /** Index of the first line in `lines`. */
  first: number;
  /** The lines read, raw; the last may be the partial line. */
  lines: string[];
  /** Lines in the log when it was read, the partial one included (`meta.total`). */
  total: number;
}

export function readPage(chunks: LogChunk[], offset: number, total: number): LinesPage {
  const first = chunks[0]?.firstline ?? offset;
  const content = chunks.map((c) => c.content).join('\n');
  const lines = chunks.length === 0 ? [] : content.split('\n');
  return { first, lines, total: Math.max(total, first + lines.length) };
}

export interface Chunk {
  first_line: number;
  text: string;
}

/** Lines a chunk leaves in the log, counting a partial last line as `meta.total` does. */
export function totalAfter(chunk: Chunk): number {
  return chunk.first_line + countNewlines(chunk.text) + (chunk.text.endsWith('\n') ? 0 : 1);
}

export const ChunkFit = { append: 'append', duplicate: 'duplicate', gap: 'gap' } as const;
export type ChunkFit = (typeof ChunkFit)[keyof typeof ChunkFit];

/** Where a chunk goes when `complete` lines are shown: right after them, already shown, or a gap. */
export function fitChunk(complete: number, chunk: Chunk): ChunkFit {
  if (chunk.first_line === complete) return ChunkFit.append;
  if (chunk.first_line < complete && chunk.first_line + countNewlines(chunk.text) <= complete) return ChunkFit.duplicate;
  return ChunkFit.gap;
}

export interface SettledTail {
  /** Complete lines when the page was read; lines from there on in the page form the partial line. */
  complete: number;
  partial: string;
  /** Chunks written after the page was read, to apply in order. */
  rest: Chunk[];
}

/**
 * Lines the tail read shows, given the chunks that arrived since before it was started (`buffered`,
 * oldest first) and `known`, the log's `num_lines` read just before. The chunks the page contains
 * are a prefix of `buffered`; which prefix is found from `total` (exact across newlines) and, among
 * chunks that only extend the partial line, from the text the page ends with.
 * Null when nothing fits (events were missed): read the tail again.
 */
export function settleTail(page: LinesPage, buffered: Chunk[], known: number): SettledTail | null {
  const { lines, total, first } = page;
  if (first + lines.length < total) return null; // the page did not reach the end
  const settle = (complete: number, k: number): SettledTail => ({
    complete,
    partial: complete < first + lines.length ? lines.slice(complete - first).join('\n') : '',
    rest: buffered.slice(k),
  });
  const m = buffered.length;
  if (m === 0) {
    // Nothing written since `known` was read: num_lines is still `known`.
    if (total === known || total === known + 1) return settle(known, 0);
    return null;
  }
  const text = lines.join('\n');
  const candidates: { k: number; complete: number }[] = [];
  const b0 = buffered[0] as Chunk;
  if (total === b0.first_line || total === b0.first_line + 1) candidates.push({ k: 0, complete: b0.first_line });
  let included = '';
  for (let k = 1; k <= m; k++) {
    const last = buffered[k - 1] as Chunk;
    included += last.text;
    if (totalAfter(last) !== total) continue;
    const complete = last.first_line + countNewlines(last.text);
    const next = buffered[k];
    if (next && next.first_line !== complete) continue;
    // The page must end with the text of the chunks it contains (its own text has no final newline).
    const full = last.text.endsWith('\n') ? `${text}\n` : text;
    if (!(included.length <= full.length ? full.endsWith(included) : included.endsWith(full))) continue;
    candidates.push({ k, complete });
  }
  const best = candidates[candidates.length - 1];
  return best ? settle(best.complete, best.k) : null;
}
