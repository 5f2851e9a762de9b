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
 *
 * Plain queries take their turn through TypeORM's public subscriber hooks (the data source lists
 * `SqliteTurnTaking` among its subscribers): `beforeQuery` is awaited before the statement runs and
 * `afterQuery` follows it whether it succeeded or failed. Nothing of TypeORM's is patched. Older
 * TypeORM versions did not await `beforeQuery`: test/integration/transactions.test.ts fails on a
 * version that stops doing so.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventSubscriber, type DataSource, type EntityManager, type EntitySubscriberInterface } from 'typeorm';

/** One holder at a time, in the order they asked. */
class Turns {
  private last: Promise<void> = Promise.resolve();

  /** Resolves, once every earlier holder has ended its turn, with the function that ends this one. */
  take(): Promise<() => void> {
    let end: () => void = () => undefined;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const mine = this.last.then(() => end);
    this.last = ended;
    return mine;
  }
}

/** One transaction of ours; its queries run inside it (AsyncLocalStorage). */
interface Scope {
  /** Its queries that went straight through and have not finished yet. */
  passing: number;
}

const scopes = new AsyncLocalStorage<Scope>();

/** Makes every query on a SQLite data source wait for its turn (see above); one per data source. */
export class SqliteTurnTaking implements EntitySubscriberInterface {
  private readonly turns = new Turns();
  /** The transaction holding the turn, if one does. */
  private holder: Scope | null = null;
  /** Ends the turn of the plain query holding it (one at a time, as turns go). */
  private endQuery: (() => void) | null = null;

  async beforeQuery(): Promise<void> {
    const scope = scopes.getStore();
    if (scope && scope === this.holder) {
      scope.passing++;
      return;
    }
    this.endQuery = await this.turns.take();
  }

  afterQuery(): void {
    // Paired with beforeQuery through its scope's count, not through who holds the turn now: a
    // query its transaction did not wait for may finish after that transaction has ended.
    const scope = scopes.getStore();
    if (scope && scope.passing > 0) {
      scope.passing--;
      return;
    }
    const end = this.endQuery;
    this.endQuery = null;
    end?.();
  }

  /** Runs `work` holding the turn; inside a transaction that holds it already, straight away. */
  async hold<T>(work: () => Promise<T>): Promise<T> {
    const current = scopes.getStore();
    if (current && current === this.holder) return work();
    const end = await this.turns.take();
    const scope: Scope = { passing: 0 };
    this.holder = scope;
    try {
      return await scopes.run(scope, work);
    } finally {
      this.holder = null;
      end();
    }
  }
}
// TypeORM instantiates the subscribers its data source lists only if they are registered this way.
EventSubscriber()(SqliteTurnTaking);

/** Runs `work` in a transaction (on SQLite, in its turn; see above). */
export function transaction<T>(source: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  const turns = source.subscribers.find((s) => s instanceof SqliteTurnTaking);
  return turns ? turns.hold(() => source.transaction(work)) : source.transaction(work);
}
