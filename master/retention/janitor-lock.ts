/**
 * One janitor at a time among masters sharing a database. On PostgreSQL a session advisory lock,
 * held on one connection for the whole pass: a master whose cron fires while another's pass runs
 * skips its own (and says so). A master that dies mid-pass drops the lock with its connection.
 * SQLite has one master per file, and the removals are idempotent besides.
 */
import type { Database } from '../db/data-source.ts';

/** An arbitrary constant of ours, the key every Caliper master locks. */
const JANITOR_LOCK_KEY = 0x63616c_6a616e; // "cal" "jan"

/** `work()`'s answer, or null when another master holds the lock. */
export async function withJanitorLock<T>(db: Database, work: () => Promise<T>): Promise<T | null> {
  if (db.kind !== 'postgres') return work();
  const runner = db.source.createQueryRunner();
  await runner.connect();
  try {
    const [row] = (await runner.query('SELECT pg_try_advisory_lock($1) AS got', [JANITOR_LOCK_KEY])) as { got: boolean }[];
    if (!row?.got) return null;
    try {
      return await work();
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [JANITOR_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}
