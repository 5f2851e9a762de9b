import { describe, expect, it } from 'vitest';
import { isTransientError } from '../../core/transient-error.ts';

describe('SQL metrics store: which failed inserts wait for the database', () => {
  it('retries what failed because the database was away or busy, drops the rest', () => {
    // Node's network errors and pg's own messages carry no SQLSTATE: the connection is the problem.
    expect(isTransientError({ code: 'ECONNREFUSED' })).toBe(true);
    expect(isTransientError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientError(new TypeError('Cannot read properties of undefined'))).toBe(false); // a bug, not an outage
    // PostgreSQL SQLSTATEs, as pg reports them (TypeORM wraps them in driverError).
    expect(isTransientError({ driverError: { code: '57P01' } })).toBe(true); // admin shutdown
    expect(isTransientError({ code: '08006' })).toBe(true); // connection failure
    expect(isTransientError({ code: '53300' })).toBe(true); // too many connections
    expect(isTransientError({ code: '25006' })).toBe(true); // read-only transaction (a failover)
    expect(isTransientError({ code: '57014' })).toBe(false); // query cancelled (statement_timeout): would time out again
    expect(isTransientError({ code: 'EPIPE' })).toBe(true); // five capitals, but a network error
    expect(isTransientError({ code: '22003' })).toBe(false); // numeric value out of range
    expect(isTransientError({ driverError: { code: '23505' } })).toBe(false); // unique violation
    expect(isTransientError({ code: '42P01' })).toBe(false); // undefined table
    // SQLite.
    expect(isTransientError({ code: 'SQLITE_BUSY' })).toBe(true);
    expect(isTransientError({ code: 'SQLITE_IOERR_WRITE' })).toBe(true);
    expect(isTransientError({ code: 'SQLITE_FULL' })).toBe(true);
    expect(isTransientError({ code: 'SQLITE_CONSTRAINT_UNIQUE' })).toBe(false);
    expect(isTransientError({ code: 'SQLITE_ERROR' })).toBe(false); // e.g. expression tree too large
  });
});
