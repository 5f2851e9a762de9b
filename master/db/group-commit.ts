/**
 * Group commit: the transactions of running builds asked for within one turn of the event loop
 * (builds a claimer pass starts together, steps of different builds ending together) run as one
 * transaction, so N of them cost one commit (SQLite: one WAL append; PostgreSQL: one BEGIN/COMMIT
 * round trip pair) instead of N. The works run plain statements only (plain-sql.ts), so on SQLite
 * the transaction is run straight on the connection (PlainSql.transaction).
 *
 * States: idle -> gathering (the first run() of a turn schedules the flush on setImmediate; later
 * ones join) -> idle (the flush takes the batch; run() calls during its transaction gather the next).
 *
 * Each caller gets its own work's result, in the order asked; the works run one after another in
 * the shared transaction, so one build's writes, which it awaits in turn, keep their order. When the
 * batch fails:
 * - with a transient error (core/transient-error.ts: the database went away, possibly during COMMIT),
 *   every caller gets that error, as if its own transaction had failed; each then retries through
 *   writeThroughOutage, whose `landed` check sees whether the commit happened after all. Trying them
 *   again here could write a landed batch twice.
 * - with any other error (one work broke a constraint), nothing was stored: each work runs again in
 *   its own transaction, so only the one at fault fails.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { isTransientError } from '../../core/transient-error.ts';
import { plainSql } from './plain-sql.ts';

interface Pending {
  work: (em: EntityManager) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit {
  private batch: Pending[] = [];

  constructor(private readonly source: DataSource) {}

  /** Runs `work` in a transaction shared with the others asked for in this turn of the event loop. */
  run<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.batch.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.batch.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    const [only] = batch;
    if (batch.length === 1 && only) return this.alone(only);
    let results: unknown[];
    try {
      results = await plainSql(this.source).transaction(async (em) => {
        const out: unknown[] = [];
        for (const p of batch) out.push(await p.work(em));
        return out;
      });
    } catch (e) {
      if (isTransientError(e)) batch.forEach((p) => p.reject(e));
      else await Promise.all(batch.map((p) => this.alone(p)));
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]));
  }

  private alone(p: Pending): Promise<void> {
    return plainSql(this.source).transaction(p.work).then(p.resolve, p.reject);
  }
}

/** One GroupCommit per data source: every repository writing a build's progress shares its batches. */
const bySource = new WeakMap<DataSource, GroupCommit>();
export function groupCommit(source: DataSource): GroupCommit {
  let group = bySource.get(source);
  if (!group) bySource.set(source, (group = new GroupCommit(source)));
  return group;
}
