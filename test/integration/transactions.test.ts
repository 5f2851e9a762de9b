/**
 * Writes that need a transaction (a request linked to its changes, changes stored together, log
 * chunks with their counts) made at the same moment by different builds: all must land. On SQLite,
 * TypeORM shares one connection and query runner, and two transactions at once used to fail.
 */
import { describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { createRepositories, type Repositories } from '../../master/db/repositories.ts';
import { transaction } from '../../master/db/transaction.ts';
import { plainSql } from '../../master/db/plain-sql.ts';
import { testDatabases } from '../helpers/databases.ts';

describe.each(testDatabases())('concurrent transactions on $kind', (db) => {
  /** A fresh database with one builder, closed after `work`. */
  async function withDatabase(
    work: (t: { database: Database; repos: Repositories; now: number; builder: { id: number } }) => Promise<void>,
  ) {
    const database = await openDatabase(await db.create());
    try {
      const repos = createRepositories(database);
      const builder = (await repos.builders.sync([{ name: 'b', tags: [] } as never])).get('b') as { id: number };
      await work({ database, repos, now: Date.now(), builder });
    } finally {
      await database.close();
    }
  }

  it('links 20 requests to their changes and appends to 10 logs, all at once', async () => {
    await withDatabase(async ({ repos, now, builder }) => {
      const changes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          repos.changes.createMany([{ repository: 'r', revision: `r${i}`, author: '', comments: '', files: [], project: '' }], now),
        ),
      );
      expect(changes.flat()).toHaveLength(20);
      const requests = await Promise.all(
        changes.map(([c]) =>
          repos.buildRequests.create({ builderid: builder.id, reason: 'x', properties: {}, changeids: [(c as { id: number }).id] }, now),
        ),
      );
      for (const [i, r] of requests.entries()) {
        expect((await repos.changes.ofBuildRequest(r.id)).rows.map((c) => c.revision)).toEqual([`r${i}`]);
      }
      const builds = await Promise.all(
        requests.slice(0, 5).map((r) =>
          repos.builds.create({
            builderid: builder.id,
            buildrequestid: r.id,
            masterid: 1,
            agent: 'a',
            started_at: now,
            state_string: '',
            properties: '{}',
          }),
        ),
      );
      expect(builds.map((b) => b.number).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5]);
      const build = builds[0] as { id: number };
      const step = await repos.steps.create({ buildid: build.id, number: 0, name: 's', started_at: now });
      const logs = await Promise.all(Array.from({ length: 10 }, (_, i) => repos.logs.create(step.id, `log${i}`, 's')));
      // A log's own chunks are written one after the other (its LogWriter does so); the logs at once.
      await Promise.all(
        logs.map(async (log) => {
          for (let i = 0; i < 3; i++) await repos.logs.appendChunk(log, 'o', Buffer.from('line\n'));
        }),
      );
      for (const log of logs) expect((await repos.logs.get(log.id))?.num_lines).toBe(3);
    });
  });

  it('keeps a write made while a transaction is open when that transaction fails, and mixes saves and transactions', async () => {
    await withDatabase(async ({ database, repos, now, builder }) => {
      const request = await repos.buildRequests.create({ builderid: builder.id, reason: 'x', properties: {} }, now);
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let begun!: () => void;
      const inside = new Promise<void>((resolve) => (begun = resolve));
      const failing = transaction(database.source, async (m) => {
        await m.getRepository('Builder').update({ id: builder.id }, { description: 'changed' });
        begun();
        await gate;
        throw new Error('boom');
      });
      await inside;
      const plain = repos.buildRequests.complete(request.id, 0, now); // made while the transaction is open
      await new Promise((resolve) => setTimeout(resolve, 50)); // time to run, did it not wait its turn
      open();
      await expect(failing).rejects.toThrow('boom');
      await plain;
      expect((await repos.buildRequests.get(request.id))?.complete).toBe(true);
      expect((await repos.builders.list()).find((b) => b.id === builder.id)?.description ?? null).toBeNull();

      const change = (
        await repos.changes.createMany([{ repository: 'r', revision: 'x', author: '', comments: '', files: [], project: '' }], now)
      )[0] as { id: number };
      const results = await Promise.allSettled(
        Array.from({ length: 120 }, (_, i) =>
          repos.buildRequests.create({ builderid: builder.id, reason: `r${i}`, properties: {}, changeids: i % 2 ? [change.id] : [] }, now),
        ),
      );
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      expect((await repos.buildRequests.query({})).total).toBe(121);
    });
  });

  it('a plain transaction (PlainSql.transaction, straight on SQLite) is undone whole, and a write made meanwhile is not part of it', async () => {
    await withDatabase(async ({ database, repos, now, builder }) => {
      const sql = plainSql(database.source);
      const request = await repos.buildRequests.create({ builderid: builder.id, reason: 'x', properties: {} }, now);
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let begun!: () => void;
      const inside = new Promise<void>((resolve) => (begun = resolve));
      const failing = sql.transaction(async (em) => {
        await sql.updateById('builders', builder.id, { description: 'changed' }, em);
        begun();
        await gate;
        throw new Error('boom');
      });
      await inside;
      const plain = repos.buildRequests.complete(request.id, 0, now); // through TypeORM, while the transaction is open
      await new Promise((resolve) => setTimeout(resolve, 50));
      open();
      await expect(failing).rejects.toThrow('boom');
      await plain;
      expect((await repos.buildRequests.get(request.id))?.complete).toBe(true);
      expect((await repos.builders.list()).find((b) => b.id === builder.id)?.description ?? null).toBeNull();
      // A failed COMMIT's transaction is undone too: the next one runs (no "transaction within a transaction").
      const done = await sql.transaction(async (em) => sql.updateById('builders', builder.id, { description: 'kept' }, em));
      expect(done).toBe(1);
      expect((await repos.builders.list()).find((b) => b.id === builder.id)?.description).toBe('kept');
    });
  });

  it('goes on after a failed query and a failed transaction; a transaction inside a transaction does not wait for it', async () => {
    await withDatabase(async ({ database, repos, now, builder }) => {
      // A turn taken by a query or a transaction that fails ends with it (else the writes below wait forever).
      await expect(database.source.query('SELECT * FROM no_such_table')).rejects.toThrow();
      await expect(transaction(database.source, (m) => m.query('SELECT * FROM no_such_table'))).rejects.toThrow();
      const [request, described] = await Promise.all([
        repos.buildRequests.create({ builderid: builder.id, reason: 'plain', properties: {} }, now),
        transaction(database.source, async (m) => {
          await m.getRepository('Builder').update({ id: builder.id }, { description: 'outer' });
          // On SQLite it runs in the outer one's turn (a savepoint); on PostgreSQL beside it.
          expect(await transaction(database.source, (inner) => inner.query('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
          return (await m.getRepository('Builder').findOneBy({ id: builder.id }))?.description;
        }),
      ]);
      expect(request.id).toBeGreaterThan(0);
      expect(described).toBe('outer');
    });
  }, 10_000);
});
