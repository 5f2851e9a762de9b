/**
 * Plain statements (plain-sql.ts) on SQLite, run straight on better-sqlite3's connection rather than
 * through TypeORM's query runner. The runner costs more than the statement on the hot path: per
 * statement it logs, broadcasts before and after to every subscriber, awaits its statement cache and
 * reads the clock twice, which on a trivial build was more CPU than SQLite's own work. What of it
 * still matters is kept here:
 * - the turn (transaction.ts): a statement waits for any other transaction to end, and inside one of
 *   ours it runs straight away, as part of it (one connection, so one transaction at a time);
 * - booleans bound as 0/1 (better-sqlite3 binds no booleans);
 * - a failure is a QueryFailedError wrapping the driver's error (core/transient-error.ts reads its
 *   code to decide whether a retry can help) and is told to SqliteQueryFailures (sqlite-watch.ts
 *   checks then whether the database file is gone).
 * PostgreSQL keeps TypeORM's runner: its pool, reconnects and outage handling are the runner's.
 */
import { QueryFailedError, type DataSource } from 'typeorm';
import { SqliteTurnTaking } from './transaction.ts';
import { SqliteQueryFailures } from './sqlite-watch.ts';
import type { PlainResult, SqlValue } from './plain-sql.ts';

/** The parts of better-sqlite3 used here. */
interface Connection {
  prepare(sql: string): Statement;
}
interface Statement {
  readonly reader: boolean;
  run(...params: unknown[]): { changes: number };
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
  /** From now on the statement hands back each row's first column, bare. */
  pluck(): Statement;
}

/** Prepared statements kept; the oldest is dropped past it. */
const MAX_CACHED = 500;

/**
 * What has been written, as SQLite counts it: `total_changes()`, the rows this connection inserted,
 * updated or deleted since it opened (a transaction's as it makes them, kept even if it rolls
 * back), and `data_version`, which moves when another connection (another process) commits.
 */
const WRITTEN = 'SELECT total_changes() || \':\' || "data_version" FROM pragma_data_version()';

/** Each connection's number, so a version read on a reopened one (whose counts start again) is new. */
const connectionNumbers = new WeakMap<Connection, number>();
let connectionsSeen = 0;

export class SqliteStatements {
  /** Prepared statements by text, for the connection they were prepared on (plucked ones by `column:` and their text). */
  private cache = new Map<string, Statement>();
  private cachedFor: Connection | null = null;

  constructor(private readonly source: DataSource) {}

  /** Runs `sql` in its turn (at once inside a transaction of ours). */
  run(sql: string, params: readonly SqlValue[]): Promise<PlainResult> {
    const turns = this.turns();
    return turns ? turns.hold(async () => this.execute(sql, params)) : Promise.resolve().then(() => this.execute(sql, params));
  }

  /**
   * Runs `work` as one transaction in its turn, BEGIN and COMMIT (ROLLBACK when it fails) straight on
   * the connection: TypeORM's transaction costs its runner's bookkeeping and a broadcast to every
   * subscriber around each of the two. Its statements, run through here, are part of it (the turn is
   * its own); so is anything else it runs on the connection meanwhile (one connection).
   */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    const inTurn = async (): Promise<T> => {
      this.execute('BEGIN', []);
      let result: T;
      try {
        result = await work();
      } catch (e) {
        this.rollback();
        throw e;
      }
      try {
        this.execute('COMMIT', []);
      } catch (e) {
        this.rollback();
        throw e;
      }
      return result;
    };
    const turns = this.turns();
    return turns ? turns.hold(inTurn) : inTurn();
  }

  /** Undoes the open transaction, if one is still open (a failed COMMIT may have ended it already). */
  private rollback(): void {
    try {
      this.execute('ROLLBACK', []);
    } catch {
      // no transaction open: nothing to undo
    }
  }

  /** Runs the SELECT `sql` in its turn; each row's first column, bare (better-sqlite3's pluck). */
  column(sql: string, params: readonly SqlValue[]): Promise<unknown[]> {
    const turns = this.turns();
    const read = () => this.failing(sql, params, (bound) => this.statement(sql, true).all(...bound));
    return turns ? turns.hold(async () => read()) : Promise.resolve().then(read);
  }

  /**
   * A text that differs whenever a write may have landed since it was last read (see WRITTEN), read
   * at once, without waiting for the turn: equal answers before and after a read mean it read what
   * was committed all along, whatever transaction was open meanwhile.
   */
  version(): string {
    const connection = this.connection();
    let n = connectionNumbers.get(connection);
    if (n === undefined) connectionNumbers.set(connection, (n = ++connectionsSeen));
    return `${n}:${String(this.statement(WRITTEN, true).get())}`;
  }

  private execute(sql: string, params: readonly SqlValue[]): PlainResult {
    return this.failing(sql, params, (bound) => {
      const statement = this.statement(sql, false);
      if (statement.reader) return { rows: statement.all(...bound) as Record<string, unknown>[], affected: 0 };
      return { rows: [], affected: statement.run(...bound).changes };
    });
  }

  /** `work` with the parameters bound as SQLite takes them; a failure as TypeORM's runner reports one. */
  private failing<T>(sql: string, params: readonly SqlValue[], work: (bound: unknown[]) => T): T {
    const bound = params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
    try {
      return work(bound);
    } catch (e) {
      this.source.subscribers.find((s) => s instanceof SqliteQueryFailures)?.listener?.();
      throw new QueryFailedError(sql, bound, e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** The data source's turn-taking (transaction.ts); absent only on a data source made without it. */
  private turns(): SqliteTurnTaking | undefined {
    return this.source.subscribers.find((s): s is SqliteTurnTaking => s instanceof SqliteTurnTaking);
  }

  private connection(): Connection {
    const connection = (this.source.driver as unknown as { databaseConnection: Connection | undefined }).databaseConnection;
    if (!connection) throw new Error('the SQLite database is not open');
    return connection;
  }

  private statement(sql: string, plucked: boolean): Statement {
    // TypeORM opens the connection when the data source initialises; a new one (after a close and a
    // reopen) cannot run statements prepared on the old.
    const connection = this.connection();
    if (connection !== this.cachedFor) {
      this.cache = new Map();
      this.cachedFor = connection;
    }
    const key = plucked ? `column:${sql}` : sql;
    let statement = this.cache.get(key);
    if (!statement) {
      // Bounded: collection queries (raw-collection-query.ts) have one text per shape a client asks for.
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
      statement = connection.prepare(sql);
      this.cache.set(key, plucked ? statement.pluck() : statement);
    }
    return statement;
  }
}
