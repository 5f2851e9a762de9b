import type { DataSource, EntityManager } from 'typeorm';

const queues = new WeakMap<DataSource, Promise<unknown>>();

/**
 * Runs `work` in a transaction. On SQLite TypeORM runs every query on one connection through one
 * query runner, so two transactions at once nest into each other and fail ("cannot start a
 * transaction within a transaction"); there they wait for each other here. PostgreSQL runs them side
 * by side on connections of the pool.
 */
export function transaction<T>(source: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  if (source.options.type !== 'better-sqlite3') return source.transaction(work);
  const previous = queues.get(source) ?? Promise.resolve();
  const run = previous.then(() => source.transaction(work));
  queues.set(
    source,
    run.catch(() => undefined),
  );
  return run;
}
