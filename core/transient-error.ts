/**
 * The one answer to "can trying again help?" for an error from a database or a store: true only when
 * the other side was away or busy (down, restarting, failing over, out of connections, locked).
 * Anything else is about the statement or the rows (a constraint violation, a bad query), or a bug:
 * trying again cannot help and would hold later work behind it. An unknown error is never transient.
 *
 * TypeORM wraps the driver's error (QueryFailedError's `driverError`), fetch wraps the socket's
 * (`cause`), Node's multi-address connect groups them (AggregateError's `errors`): the chain is
 * read, and the first error in it that carries a code decides.
 */

/** SQLite: busy, locked, I/O, full, read-only or cannot-open (extended codes too: SQLITE_IOERR_WRITE). */
const SQLITE_TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOMEM)(_|$)/;

/** Node's and undici's network errors: a refused, reset, dropped or unreachable connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  // DNS: a failover or a container restart leaves a host name briefly unresolvable.
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception), 53 (insufficient resources: too many
 * connections, out of memory or disk), 57P01/57P02/57P03/57P05 (admin or crash shutdown, cannot
 * connect now, idle session ended), 58000/58030 (system and I/O error), 25006 (read-only
 * transaction: a failover left us on a standby), 40001/40P01 (serialization failure, deadlock: the
 * retried unit is the whole write, re-run from its start after PostgreSQL rolled it back).
 * Not 57014 (query cancelled, e.g. by statement_timeout): the same statement would time out again.
 * Not 57P04 (database dropped) nor 58P01/58P02 (a missing or duplicate file): no wait brings them back.
 */
const SQLSTATE_TRANSIENT = /^(08...|53...|57P0[1235]|58000|58030|25006|40001|40P01)$/;
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** pg's and pg-pool's errors without a code, and PostgreSQL's start-up/shutdown notices. */
const TRANSIENT_MESSAGE =
  /connection (terminated|ended|error)|Connection terminated|timeout exceeded when trying to connect|not queryable|the database system is (starting up|shutting down|in recovery mode)/i;

/** HTTP answers that time fixes: too many requests, a server error or an unavailable gateway. */
const HTTP_TRANSIENT = new Set([429, 500, 502, 503, 504]);

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;
}

/** The error and what it wraps, outermost first (bounded: a cycle of causes must not hang us). */
function chain(e: unknown): unknown[] {
  const out: unknown[] = [];
  const queue: unknown[] = [e];
  while (queue.length > 0 && out.length < 16) {
    const next = queue.shift();
    if (typeof next !== 'object' || next === null || out.includes(next)) continue;
    out.push(next);
    queue.push(field(next, 'driverError'), field(next, 'cause'));
    const errors = field(next, 'errors');
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return out;
}

/** The verdict of one error's code, or null when it carries no code we read. */
function byCode(err: unknown): boolean | null {
  const code = field(err, 'code');
  if (typeof code === 'string') {
    if (code.startsWith('SQLITE_')) return SQLITE_TRANSIENT.test(code);
    // Before SQLSTATEs: 'EPIPE' is five capitals too.
    if (NETWORK_CODES.has(code)) return true;
    if (SQLSTATE.test(code)) return SQLSTATE_TRANSIENT.test(code);
  }
  const status = field(err, 'status');
  if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599) return HTTP_TRANSIENT.has(status);
  return null;
}

/**
 * TypeORM's errors that follow a lost connection: a transaction's query runner is released when its
 * connection dies (a PostgreSQL fast shutdown), and the transaction's next query throws this. The
 * whole write, run again on a new connection, can succeed. (It would also be thrown by a bug that
 * uses a released runner; retrying such a bug only delays its failure by the retry's bound.)
 */
const TRANSIENT_NAMES = new Set(['QueryRunnerAlreadyReleasedError']);

export function isTransientError(e: unknown): boolean {
  const errors = chain(e);
  if (errors.some((err) => TRANSIENT_NAMES.has(String(field(err, 'name'))))) return true;
  for (const err of errors) {
    const verdict = byCode(err);
    if (verdict !== null) return verdict;
  }
  return errors.some((err) => {
    const message = field(err, 'message');
    return typeof message === 'string' && TRANSIENT_MESSAGE.test(message);
  });
}
