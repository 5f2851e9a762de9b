import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { QueryFailedError, QueryRunnerAlreadyReleasedError } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Backoff, backoffDelay, retry } from '../../core/retry.ts';
import { isTransientError } from '../../core/transient-error.ts';

/** The error `fn` rejects with (fails the test if it resolves). */
async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** A port nothing listens on: bound by us, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  await new Promise((resolve) => server.close(resolve));
  return address.port;
}

describe('backoffDelay', () => {
  it('grows by the factor from the first delay and stops at the cap', () => {
    const exact = { initialMs: 100, maxMs: 1000, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, exact))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect([0, 1, 2].map((n) => backoffDelay(n, { ...exact, factor: 3 }))).toEqual([100, 300, 900]);
  });

  it('stays at the cap through a very long outage (no overflow to Infinity or NaN)', () => {
    expect(backoffDelay(10_000, { initialMs: 100, maxMs: 30_000, jitter: 0 })).toBe(30_000);
    expect(backoffDelay(10_000, { initialMs: 0, maxMs: 30_000, jitter: 0 })).toBe(30_000);
  });

  it('jitter draws the delay from [base × (1 − jitter), base], exactly as the random source says', () => {
    const options = { initialMs: 1000, maxMs: 10_000, jitter: 0.5 };
    expect(backoffDelay(0, { ...options, random: () => 0 })).toBe(1000);
    expect(backoffDelay(0, { ...options, random: () => 0.5 })).toBe(750);
    expect(backoffDelay(4, { ...options, random: () => 0.999_999 })).toBe(5000); // the cap, then jittered
    for (let attempt = 0; attempt < 12; attempt++) {
      const base = Math.min(1000 * 2 ** attempt, 10_000);
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, options);
        expect(d).toBeGreaterThanOrEqual(base * 0.5);
        expect(d).toBeLessThanOrEqual(base);
      }
    }
  });

  it('Backoff counts its attempts and starts over on reset', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 35, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([10, 20, 35, 35]);
    expect(b.attempts).toBe(4);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(10);
  });
});

describe('retry', () => {
  const fast = { initialMs: 1, maxMs: 5, jitter: 0 };

  it('retries a transient failure until the call succeeds, telling onRetry each time', async () => {
    let calls = 0;
    const retries: [number, number][] = [];
    const value = await retry(
      () => {
        calls++;
        if (calls < 3) return Promise.reject(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
        return Promise.resolve('landed');
      },
      { isRetryable: isTransientError, backoff: fast, onRetry: (_e, attempt, delayMs) => retries.push([attempt, delayMs]) },
    );
    expect(value).toBe('landed');
    expect(calls).toBe(3);
    expect(retries).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });

  it('never retries a constraint violation, a bad query or an unknown error: the first failure is thrown', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    db.exec('INSERT INTO t VALUES (1)');
    const failures = [() => db.exec('INSERT INTO t VALUES (1)'), () => db.exec('SELEC 1'), () => JSON.parse('{')];
    for (const fail of failures) {
      let calls = 0;
      const error = await caught(() =>
        retry(
          async () => {
            calls++;
            fail();
          },
          { isRetryable: isTransientError, backoff: fast },
        ),
      );
      expect(error).toBeInstanceOf(Error);
      expect(calls).toBe(1);
    }
    db.close();
  });

  it('gives up once the next try would start past maxMs, with the last error', async () => {
    // Fake timers fake Date.now too: the tries happen at exact times, whatever the machine's load.
    vi.useFakeTimers();
    try {
      const started = Date.now();
      const tries: number[] = [];
      const outcome = caught(() =>
        retry(
          () => {
            tries.push(Date.now() - started);
            return Promise.reject(Object.assign(new Error(`down ${tries.length}`), { code: '57P03' }));
          },
          { isRetryable: isTransientError, maxMs: 60, backoff: { initialMs: 10, maxMs: 20, jitter: 0 } },
        ),
      );
      await vi.runAllTimersAsync();
      // Tries at 0, 10, 30 and 50 ms; the next would start at 70 ms, past the 60 ms budget.
      expect(tries).toEqual([0, 10, 30, 50]);
      expect(await outcome).toMatchObject({ message: 'down 4' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('an abort ends the wait at once with the signal’s reason; an aborted signal means no try at all', async () => {
    const controller = new AbortController();
    let calls = 0;
    const started = Date.now();
    const pending = caught(() =>
      retry(
        () => {
          calls++;
          if (calls === 1) setTimeout(() => controller.abort(new Error('master stopping')), 20);
          return Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
        },
        { isRetryable: isTransientError, backoff: { initialMs: 10_000, maxMs: 10_000 }, signal: controller.signal },
      ),
    );
    expect(await pending).toMatchObject({ message: 'master stopping' });
    expect(calls).toBe(1);
    expect(Date.now() - started).toBeLessThan(5000);

    let tried = false;
    const again = await caught(() =>
      retry(
        () => {
          tried = true;
          return Promise.resolve();
        },
        { isRetryable: isTransientError, signal: controller.signal },
      ),
    );
    expect(again).toMatchObject({ message: 'master stopping' });
    expect(tried).toBe(false);
  });
});

describe('isTransientError on real errors', () => {
  it('SQLite: busy is transient; a constraint violation or a syntax error is not', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-retry-'));
    const file = path.join(dir, 'busy.sqlite');
    const holder = new Database(file);
    const other = new Database(file, { timeout: 0 });
    try {
      holder.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      holder.exec('INSERT INTO t VALUES (1)');
      holder.exec('BEGIN IMMEDIATE');
      const busy = captureSync(() => other.exec('BEGIN IMMEDIATE'));
      expect(busy).toMatchObject({ code: 'SQLITE_BUSY' });
      expect(isTransientError(busy)).toBe(true);
      holder.exec('ROLLBACK');
      const unique = captureSync(() => other.exec('INSERT INTO t VALUES (1)'));
      expect(unique).toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
      expect(isTransientError(unique)).toBe(false);
      expect(isTransientError(new QueryFailedError('INSERT', [], asError(unique)))).toBe(false);
      const syntax = captureSync(() => other.exec('SELEC 1'));
      expect(isTransientError(syntax)).toBe(false);
    } finally {
      holder.close();
      other.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('network: a refused connection (pg and fetch) and a connection the server drops are transient', async () => {
    const port = await closedPort();
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    const refused = await caught(() => client.connect());
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
    expect(isTransientError(refused)).toBe(true);
    // fetch says only "fetch failed": the socket's error is its cause.
    const fetchRefused = await caught(() => fetch(`http://127.0.0.1:${port}/write`));
    expect(isTransientError(fetchRefused)).toBe(true);

    // A server that hangs up at once: pg reports "Connection terminated unexpectedly", without a code.
    const hangUp = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    const address = hangUp.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const dropped = await caught(() => new pg.Client({ host: '127.0.0.1', port: address.port, user: 'postgres' }).connect());
    await new Promise((resolve) => hangUp.close(resolve));
    expect(dropped).toMatchObject({ message: expect.stringMatching(/Connection terminated/) });
    expect(isTransientError(dropped)).toBe(true);
    expect(isTransientError(new QueryFailedError('SELECT 1', [], asError(dropped)))).toBe(true);
  });

  // Found by the soak: a transaction whose connection died in a PostgreSQL fast shutdown throws
  // this on its next query; the build then ended EXCEPTION instead of riding through the blink.
  it("TypeORM's QueryRunnerAlreadyReleasedError (a transaction's connection gone) is transient", async () => {
    // On PostgreSQL a released runner refuses queries (better-sqlite3's single connection does not
    // check), so the error is TypeORM's own class, as its PostgreSQL runner throws it.
    const released = new QueryRunnerAlreadyReleasedError();
    expect(released.name).toBe('QueryRunnerAlreadyReleasedError');
    expect(isTransientError(released)).toBe(true);
    expect(isTransientError(new Error('wrapped', { cause: released }))).toBe(true);
  });

  it('HTTP answers: 429 and 503 are transient, 400 and 401 are not', () => {
    const answered = (status: number) => Object.assign(new Error(`InfluxDB answered ${status}`), { status });
    expect([429, 503, 400, 401].map((s) => isTransientError(answered(s)))).toEqual([true, true, false, false]);
  });

  it('looks through causes, and a cycle of causes does not hang it', () => {
    expect(isTransientError(new Error('outer', { cause: new Error('inner', { cause: { code: 'ETIMEDOUT' } }) }))).toBe(true);
    const a: { cause?: unknown } = {};
    const b = { cause: a };
    a.cause = b;
    expect(isTransientError(a)).toBe(false);
  });
});

const pgUrl = process.env.CALIPER_TEST_PG_URL;

describe.skipIf(!pgUrl)('isTransientError on real PostgreSQL errors', () => {
  let client: pg.Client;

  beforeAll(async () => {
    client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query('CREATE TEMP TABLE retry_probe (id int PRIMARY KEY)');
    await client.query('INSERT INTO retry_probe VALUES (1)');
  });
  afterAll(() => client.end());

  it('a unique violation (23505) and a syntax error (42601) are never transient, bare or wrapped by TypeORM', async () => {
    const unique = await caught(() => client.query('INSERT INTO retry_probe VALUES (1)'));
    expect(unique).toMatchObject({ code: '23505' });
    expect(isTransientError(unique)).toBe(false);
    expect(isTransientError(new QueryFailedError('INSERT', [], asError(unique)))).toBe(false);
    const syntax = await caught(() => client.query('SELEC 1'));
    expect(syntax).toMatchObject({ code: '42601' });
    expect(isTransientError(new QueryFailedError('SELEC 1', [], asError(syntax)))).toBe(false);
  });

  it('a connection the server terminates (57P01, as in a restart) is transient', async () => {
    const victim = new pg.Client({ connectionString: pgUrl });
    await victim.connect();
    // The server's FATAL 57P01 arrives while the client idles: pg emits it as an 'error' event.
    const lost = new Promise<unknown>((resolve) => victim.on('error', resolve));
    const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    // With a timeout, pg_terminate_backend returns once the backend is gone.
    await client.query('SELECT pg_terminate_backend($1, 5000)', [pid]);
    const shutdown = await lost;
    expect(shutdown).toMatchObject({ code: '57P01' });
    expect(isTransientError(shutdown)).toBe(true);
    // A query on the dead client: pg's "not queryable", without a code.
    const terminated = await caught(() => victim.query('SELECT 1'));
    await victim.end().catch(() => {});
    expect(isTransientError(terminated)).toBe(true);
    expect(isTransientError(new QueryFailedError('SELECT 1', [], asError(terminated)))).toBe(true);
  });
});

function captureSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

function asError(e: unknown): Error {
  if (e instanceof Error) return e;
  throw new Error(`not an Error: ${String(e)}`);
}
