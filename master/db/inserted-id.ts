import type { InsertResult } from 'typeorm';

/**
 * The id the database generated for a one-row insert(). TypeORM hands it over untyped (PostgreSQL's
 * RETURNING, SQLite's last insert id): checked here, so a missing id fails the insert loudly.
 */
export function insertedId(result: InsertResult): number {
  const id: unknown = result.identifiers[0]?.id;
  const n = typeof id === 'number' || typeof id === 'string' ? Number(id) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`insert returned no usable id: ${JSON.stringify(result.identifiers)}`);
  return n;
}
