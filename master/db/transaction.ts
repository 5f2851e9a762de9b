/**
 * Transactions that keep to themselves on SQLite.
 *
 * TypeORM runs every SQLite query through one connection and one query runner. Two transactions at
 * once nest into each other and fail ("cannot start a transaction within a transaction"), and a plain
 * write made while a transaction is open becomes part of it, and is undone if that transaction rolls
 * back. So on SQLite every query waits its turn: a transaction holds the turn from BEGIN to COMMIT
 * (its own queries, known through AsyncLocalStorage, go straight through), a plain query holds it for
 * itself. better-sqlite3 runs each statement synchronously anyway, so this costs a few microtasks.
 * Saves elsewhere pass `{ transaction: false }`: TypeORM's own transactions would not take the turn.
 * PostgreSQL runs transactions side by side on connections of its pool and needs none of this.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

const inTransaction = new AsyncLocalStorage<true>();
const turns = new WeakMap<DataSource, { last: Promise<unknown> }>();

function inTurn<T>(source: DataSource, work: () => Promise<T>): Promise<T> {
  const turn = turns.get(source) as { last: Promise<unknown> };
  const run = turn.last.then(work);
  turn.last = run.catch(() => undefined);
  return run;
}

/** Makes every query on this SQLite data source wait for the one before (call once, after initialize). */
export function serializeSqliteQueries(source: DataSource): void {
  turns.set(source, { last: Promise.resolve() });
  const runner: QueryRunner = source.driver.createQueryRunner('master');
  const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<unknown>;
  runner.query = ((...args: unknown[]) =>
    inTransaction.getStore() ? query(...args) : inTurn(source, () => query(...args))) as QueryRunner['query'];
}

/** Runs `work` in a transaction (on SQLite, in its turn; see above). */
export function transaction<T>(source: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  if (!turns.has(source) || inTransaction.getStore()) return source.transaction(work);
  return inTurn(source, () => inTransaction.run(true, () => source.transaction(work)));
}
