/**
 * The log writer through a database that blinks: transient failures are retried in order and nothing
 * is lost; a chunk whose COMMIT landed but whose answer was lost is not written twice; errors no
 * retry can help fail at once. The failures are injected into a real SQLite repository (a subclass
 * failing the calls the test names), so what is stored is read back from the database.
 * The fault tests (test/faults/postgres-restart.test.ts, sqlite-locked.test.ts) do the same for real.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogWriter } from '../../master/build/log-writer.ts';
import { EventBus, type DomainEvents } from '../../master/events/event-bus.ts';
import type { Database } from '../../master/db/data-source.ts';
import type { Repositories } from '../../master/db/repositories.ts';
import type { LogRow } from '../../master/db/entities.ts';
import { LogsRepo, type AppendedChunk } from '../../master/db/logs.ts';
import { LogMovedError } from '../../master/db/log-moved-error.ts';
import { writeThroughOutage } from '../../master/db/outage-write.ts';
import { createStepRow, memoryDb } from './helpers.ts';

/** What pg says when the server went away under a query: transient. */
const connectionLost = () => new Error('Connection terminated unexpectedly');
/** SQLite busy past busy_timeout: transient, as the driver raises it. */
const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

const FAST = { backoff: { initialMs: 1, maxMs: 5 } };

/** LogsRepo whose appendChunks calls (the log writer's one write) go through `fault` first: it may throw, or write and then throw. */
class FaultyLogs extends LogsRepo {
  calls = 0;
  fault: (call: number, write: () => Promise<void>) => Promise<void> = (_, write) => write();

  override async appendChunks(log: { id: number; num_lines: number; num_bytes: number }, chunks: readonly AppendedChunk[]) {
    let firstLines: number[] = [];
    await this.fault(++this.calls, async () => {
      firstLines = await super.appendChunks(log, chunks);
    });
    return firstLines;
  }
}

let db: Database;
let repos: Repositories;
let log: LogRow;
let logs: FaultyLogs;
let bus: EventBus;
let events: DomainEvents['log.appended'][];

beforeEach(async () => {
  ({ db, repos } = await memoryDb());
  const { step } = await createStepRow(repos);
  log = await repos.logs.create(step.id, 'stdio', 's');
  logs = new FaultyLogs(db.source);
  bus = new EventBus();
  events = [];
  bus.subscribe('log.appended', (e) => events.push(e));
});

afterEach(async () => {
  await db.close();
});

async function stored(): Promise<{ bytes: Buffer; chunks: number }> {
  const parts: Buffer[] = [];
  for await (const c of repos.logs.readChunks(log.id)) parts.push(c.content);
  return { bytes: Buffer.concat(parts), chunks: parts.length };
}

describe('LogWriter through a database outage', () => {
  it('retries a transient failure: the append resolves once stored, later appends wait behind it in order', async () => {
    logs.fault = async (call, write) => {
      if (call <= 3) throw call % 2 === 0 ? busy() : connectionLost();
      return write();
    };
    const w = new LogWriter(log, logs, bus, { chunkBytes: 4, outage: FAST });
    const appends = ['one\n', 'two\n', 'three\n', 'four'].map((s) => w.append('o', Buffer.from(s)));
    await Promise.all(appends);
    await w.finish();
    expect((await stored()).bytes.toString()).toBe('one\ntwo\nthree\nfour');
    expect(await repos.logs.get(log.id)).toMatchObject({ num_lines: 3, num_bytes: 18, complete: true });
    expect(events.map((e) => [e.first_line, e.data.toString()])).toEqual([
      [0, 'one\n'],
      [1, 'two\n'],
      [2, 'three\n'],
      [3, 'four'],
    ]);
  });

  it('does not write a chunk twice when its COMMIT landed but the answer was lost', async () => {
    logs.fault = async (call, write) => {
      if (call !== 1) return write();
      // The transaction commits on a copy of the counts (the writer never hears of it), then the connection dies.
      await repos.logs.appendChunk({ ...log }, 'o', Buffer.from('once\n'));
      throw connectionLost();
    };
    const w = new LogWriter(log, logs, bus, { chunkBytes: 1024, outage: FAST });
    await w.append('o', Buffer.from('once\n'));
    await w.append('o', Buffer.from('then\n'));
    expect(logs.calls).toBe(3);
    expect(await stored()).toEqual({ bytes: Buffer.from('once\nthen\n'), chunks: 2 });
    expect(await repos.logs.get(log.id)).toMatchObject({ num_lines: 2, num_bytes: 10 });
    expect(events.map((e) => e.data.toString())).toEqual(['once\n', 'then\n']);
  });

  it('fails at once, with LogMovedError, when the stored log is not what its writer left', async () => {
    await repos.logs.appendChunk({ ...log }, 'o', Buffer.from('someone else\n'));
    const w = new LogWriter(log, logs, bus, { chunkBytes: 1024, outage: FAST });
    const error = await w.append('o', Buffer.from('mine\n')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogMovedError);
    expect(String(error)).toMatch(/log \d+ holds 13 bytes, its writer expected 0/);
    expect(logs.calls).toBe(1);
    await expect(w.append('o', Buffer.from('later\n'))).rejects.toBe(error);
    expect(events).toEqual([]);
  });

  it('gives up after its bound: the append rejects with the last error, and so does every later one', async () => {
    logs.fault = async () => {
      throw busy();
    };
    const w = new LogWriter(log, logs, bus, { chunkBytes: 1024, outage: { ...FAST, maxMs: 50 } });
    await expect(w.append('o', Buffer.from('lost\n'))).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(logs.calls).toBeGreaterThan(1);
    await expect(w.append('o', Buffer.from('later\n'))).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    await expect(w.finish()).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect((await stored()).chunks).toBe(0);
  });
});

describe('writeThroughOutage', () => {
  it('asks `landed` before trying again: a create whose answer was lost is found, not made twice', async () => {
    const { step } = await createStepRow(repos, 'b2');
    let tries = 0;
    const row = await writeThroughOutage(
      async () => {
        tries++;
        const made = await repos.logs.create(step.id, 'build log', 't');
        if (tries === 1) throw connectionLost();
        return made;
      },
      { landed: () => repos.logs.created(step.id, 'build log'), ...FAST },
    );
    expect(tries).toBe(1);
    expect(row).toMatchObject({ stepid: step.id, name: 'build log', slug: 'build_log' });
    expect((await repos.logs.query({}, { stepid: step.id })).total).toBe(1);
  });

  it('tells a log of another name with the same slug from the one it made', async () => {
    const { step } = await createStepRow(repos, 'b3');
    await repos.logs.create(step.id, 'build log', 't');
    expect(await repos.logs.created(step.id, 'build_log')).toBeUndefined();
    expect(await repos.logs.created(step.id, 'build log')).toMatchObject({ name: 'build log' });
  });

  it('finds a step whose create answer was lost by its build and number', async () => {
    const { build } = await createStepRow(repos, 'b4');
    let tries = 0;
    const row = await writeThroughOutage(
      async () => {
        tries++;
        const made = await repos.steps.create({ buildid: build.id, number: 1, name: 'second', started_at: 3_000 });
        if (tries === 1) throw busy();
        return made;
      },
      { landed: () => repos.steps.ofBuild(build.id, 1), ...FAST },
    );
    expect(tries).toBe(1);
    expect(row).toMatchObject({ buildid: build.id, number: 1, name: 'second' });
    expect((await repos.steps.query({}, { buildid: build.id })).total).toBe(2);
  });

  it('retries nothing but transient errors', async () => {
    let tries = 0;
    const refused = Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_UNIQUE' });
    await expect(
      writeThroughOutage(async () => {
        tries++;
        throw refused;
      }, FAST),
    ).rejects.toBe(refused);
    expect(tries).toBe(1);
  });
});
