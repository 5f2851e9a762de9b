import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogWriter } from '../../master/build/log-writer.ts';
import { EventBus, type DomainEvents } from '../../master/events/event-bus.ts';
import type { Database } from '../../master/db/data-source.ts';
import type { Repositories } from '../../master/db/repositories.ts';
import type { LogChunkRow, LogRow } from '../../master/db/entities.ts';
import { createStepRow, memoryDb } from './helpers.ts';

type Appended = DomainEvents['log.appended'];

let db: Database;
let repos: Repositories;
let log: LogRow;
let bus: EventBus;
let events: Appended[];

beforeEach(async () => {
  ({ db, repos } = await memoryDb());
  const { step } = await createStepRow(repos);
  log = await repos.logs.create(step.id, 'stdio', 's');
  bus = new EventBus();
  events = [];
  bus.subscribe('log.appended', (e) => events.push(e));
});

afterEach(async () => {
  await db.close();
});

function writer(options: { chunkBytes: number } = { chunkBytes: 64 * 1024 }): LogWriter {
  return new LogWriter(log, repos.logs, bus, options);
}

async function chunks(logid = log.id): Promise<LogChunkRow[]> {
  const out: LogChunkRow[] = [];
  for await (const c of repos.logs.readChunks(logid)) out.push(c);
  return out;
}

const text = (rows: { content: Buffer }[]) => rows.map((r) => r.content.toString());

describe('LogWriter', () => {
  it('coalesces appends made in the same tick into one chunk', async () => {
    const w = writer();
    await Promise.all([w.append('o', Buffer.from('one\n')), w.append('o', Buffer.from('two\n')), w.append('o', Buffer.from('three\n'))]);
    const rows = await chunks();
    expect(text(rows)).toEqual(['one\ntwo\nthree\n']);
    expect(rows[0]?.stream).toBe('o');
  });

  it('starts a new chunk when the stream changes', async () => {
    const w = writer();
    await Promise.all([
      w.append('o', Buffer.from('a')),
      w.append('o', Buffer.from('b')),
      w.append('e', Buffer.from('c')),
      w.append('o', Buffer.from('d')),
    ]);
    const rows = await chunks();
    expect(rows.map((r) => [r.stream, r.content.toString()])).toEqual([
      ['o', 'ab'],
      ['e', 'c'],
      ['o', 'd'],
    ]);
  });

  it('resolves an append only once its bytes are readable from the database', async () => {
    const w = writer();
    await w.append('o', Buffer.from('first'));
    expect(text(await chunks())).toEqual(['first']);
    await w.append('e', Buffer.from('second'));
    expect(text(await chunks())).toEqual(['first', 'second']);
  });

  it('collects appends made while a write is in flight into the next write (group commit)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let writes = 0;
    const slow = Object.create(repos.logs) as typeof repos.logs;
    slow.appendChunks = async (...args: Parameters<typeof repos.logs.appendChunks>) => {
      if (++writes === 1) await gate;
      return repos.logs.appendChunks(...args);
    };
    const w = new LogWriter(log, slow, bus);
    let firstStored = false;
    const first = w.append('o', Buffer.from('1')).then(() => (firstStored = true));
    await new Promise((r) => setTimeout(r, 20));
    const later = [w.append('o', Buffer.from('2')), w.append('o', Buffer.from('3'))];
    expect(firstStored).toBe(false);
    release();
    await Promise.all([first, ...later]);
    expect(text(await chunks())).toEqual(['1', '23']);
    expect(writes).toBe(2);
  });

  it('writes the chunks that collected during a write together, in one transaction', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batches: number[] = [];
    const slow = Object.create(repos.logs) as typeof repos.logs;
    slow.appendChunks = async (...args: Parameters<typeof repos.logs.appendChunks>) => {
      batches.push(args[1].length);
      if (batches.length === 1) await gate;
      return repos.logs.appendChunks(...args);
    };
    const w = new LogWriter(log, slow, bus, { chunkBytes: 4 });
    const first = w.append('o', Buffer.from('1\n'));
    await new Promise((r) => setTimeout(r, 20));
    const later = [w.append('o', Buffer.from('2222')), w.append('e', Buffer.from('3\n')), w.append('o', Buffer.from('44'))];
    release();
    await Promise.all([first, ...later]);
    expect(batches).toEqual([1, 3]);
    expect(text(await chunks())).toEqual(['1\n', '2222', '3\n', '44']);
    expect(events.map((e) => [e.stream, e.first_line])).toEqual([
      ['o', 0],
      ['o', 1],
      ['e', 1],
      ['o', 2],
    ]);
    expect(await repos.logs.get(log.id)).toMatchObject({ num_lines: 2, num_bytes: 10 });
  });

  it('writes at once when the buffer reaches chunkBytes', async () => {
    const w = writer({ chunkBytes: 8 });
    await w.append('o', Buffer.from('0123456789'));
    expect(text(await chunks())).toEqual(['0123456789']);
  });

  it('writes nothing for an empty append', async () => {
    const w = writer();
    await w.append('o', Buffer.alloc(0));
    await w.flush();
    expect(await chunks()).toEqual([]);
    expect(events).toEqual([]);
  });

  it('stores bytes exactly: invalid UTF-8, NUL, CR, a split multi-byte character', async () => {
    const euro = Buffer.from('€');
    const parts = [
      Buffer.from([0x66, 0x6f, 0xff, 0xfe, 0x00, 0x00, 0x0d, 0x0a]),
      euro.subarray(0, 1),
      euro.subarray(1),
      Buffer.from([0x80, 0xc3]),
    ];
    const w = writer();
    await Promise.all(parts.map((p) => w.append('o', p)));
    await w.append('e', Buffer.from([0x00]));
    const rows = await chunks();
    expect(Buffer.concat(rows.filter((r) => r.stream === 'o').map((r) => r.content)).equals(Buffer.concat(parts))).toBe(true);
    expect(rows.find((r) => r.stream === 'e')?.content.equals(Buffer.from([0x00]))).toBe(true);
    expect((await repos.logs.get(log.id))?.num_bytes).toBe(Buffer.concat(parts).length + 1);
  });

  it('counts lines by newlines and numbers each chunk from the line it starts on', async () => {
    const w = writer();
    await w.append('o', Buffer.from('l1\nl2\npartial'));
    await w.append('o', Buffer.from(' end\nl4\n'));
    await w.append('e', Buffer.from('no newline'));
    const rows = await chunks();
    expect(rows.map((r) => [r.first_line, r.last_line])).toEqual([
      [0, 2],
      [2, 4],
      [4, 4],
    ]);
    expect(w.log.num_lines).toBe(4);
    expect((await repos.logs.get(log.id))?.num_lines).toBe(4);
  });

  it('finish() stores what is buffered and marks the log complete', async () => {
    const w = writer({ chunkBytes: 64 * 1024 });
    void w.append('o', Buffer.from('a\nb\n'));
    expect((await repos.logs.get(log.id))?.complete).toBe(false);
    await w.finish();
    const row = await repos.logs.get(log.id);
    expect(row).toMatchObject({ complete: true, num_lines: 2, num_bytes: 4 });
    expect(w.log.complete).toBe(true);
    expect(text(await chunks())).toEqual(['a\nb\n']);
  });

  it('publishes log.appended once per chunk, after it is stored', async () => {
    const stored: number[] = [];
    bus.subscribe('log.appended', () => {
      // The event describes a write that already happened.
      void chunks().then((rows) => stored.push(rows.length));
    });
    const w = writer();
    await Promise.all([w.append('o', Buffer.from('x\n')), w.append('o', Buffer.from('y\n')), w.append('e', Buffer.from('oops\n'))]);
    await w.append('o', Buffer.from('z'));
    expect(events).toEqual([
      { logid: log.id, stepid: log.stepid, stream: 'o', data: Buffer.from('x\ny\n'), first_line: 0 },
      { logid: log.id, stepid: log.stepid, stream: 'e', data: Buffer.from('oops\n'), first_line: 2 },
      { logid: log.id, stepid: log.stepid, stream: 'o', data: Buffer.from('z'), first_line: 3 },
    ]);
    await new Promise((r) => setTimeout(r, 20));
    // Each event comes after its own chunk is stored; the first two chunks were one batch, one commit.
    expect(stored).toEqual([2, 2, 3]);
  });

  it('makes finish() fail when a chunk could not be stored', async () => {
    await db.source.query('DELETE FROM logs WHERE id = ?', [log.id]);
    const w = writer();
    await w.append('o', Buffer.from('lost')).catch(() => undefined);
    await expect(w.finish()).rejects.toThrow();
  });

  // The agent session acks a seq only when its append resolves: a failed write must reject.
  it('rejects an append whose bytes could not be stored', async () => {
    await db.source.query('DELETE FROM logs WHERE id = ?', [log.id]);
    const w = writer();
    await expect(w.append('o', Buffer.from('lost'))).rejects.toThrow();
  });

  // Events follow the write they describe: listeners (the UI's live log) never see unstored output.
  it('publishes no log.appended for bytes it did not store', async () => {
    await db.source.query('DELETE FROM logs WHERE id = ?', [log.id]);
    const w = writer();
    await w.append('o', Buffer.from('first')).catch(() => undefined);
    await w.append('o', Buffer.from('second')).catch(() => undefined);
    expect(await chunks()).toEqual([]);
    expect(events).toEqual([]);
  });
});
