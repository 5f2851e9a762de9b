import { describe, expect, it } from 'vitest';
import { isContentError } from '../../metrics/stores/sql-store.ts';

describe('SQL metrics store: which failed inserts wait for the database', () => {
  it('drops what the database refuses for its content, keeps what failed because it was away', () => {
    // PostgreSQL SQLSTATEs, as pg reports them (TypeORM wraps them in driverError).
    expect(isContentError({ code: '22003' })).toBe(true); // numeric value out of range
    expect(isContentError({ driverError: { code: '23505' } })).toBe(true); // unique violation
    expect(isContentError({ code: '42P01' })).toBe(true); // undefined table
    expect(isContentError({ code: 'SQLITE_CONSTRAINT_NOTNULL' })).toBe(true);
    expect(isContentError({ code: 'ECONNREFUSED' })).toBe(false);
    expect(isContentError({ code: '57P01' })).toBe(false); // admin shutdown
    expect(isContentError({ code: '08006' })).toBe(false); // connection failure
    expect(isContentError({ code: 'SQLITE_BUSY' })).toBe(false);
    expect(isContentError(new Error('Connection terminated unexpectedly'))).toBe(false);
  });
});
