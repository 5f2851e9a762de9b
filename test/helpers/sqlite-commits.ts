/**
 * Counts what a SQLite database commits, on the real driver: a COMMIT, or a write outside a
 * transaction (its own commit). Every better-sqlite3 statement shares one prototype, those TypeORM
 * prepared and cached before too, so wrapping its run/all/get counts them all. `restore()` puts the
 * prototype back (vitest runs files in one process: isolate is off).
 */
import type { DataSource } from 'typeorm';

/** The parts of better-sqlite3's Statement counted here. */
interface Statement {
  source: string;
  database: { inTransaction: boolean };
}
type Run = (this: Statement, ...a: unknown[]) => unknown;

export interface CommitCounter {
  /** Commits since the last reset. */
  readonly count: number;
  reset(): void;
  restore(): void;
}

export function countSqliteCommits(source: DataSource): CommitCounter {
  const connection = (source.driver as unknown as { databaseConnection: { prepare(sql: string): object } }).databaseConnection;
  const proto = Object.getPrototypeOf(connection.prepare('SELECT 1')) as Record<'run' | 'all' | 'get', Run>;
  let count = 0;
  const restore: (() => void)[] = [];
  for (const m of ['run', 'all', 'get'] as const) {
    const call = proto[m];
    proto[m] = function (this: Statement, ...a: unknown[]) {
      if (/^\s*COMMIT/i.test(this.source) || (/^\s*(INSERT|UPDATE|DELETE)/i.test(this.source) && !this.database.inTransaction)) count++;
      return call.apply(this, a);
    };
    restore.push(() => (proto[m] = call));
  }
  return {
    get count() {
      return count;
    },
    reset: () => (count = 0),
    restore: () => restore.forEach((r) => r()),
  };
}

/** The data source a BuildBench's repositories hold (a private field, read by tests only). */
export function sourceOf(repos: { builds: unknown }): DataSource {
  return (repos.builds as { source: DataSource }).source;
}
