/**
 * A write on a running build's path that rides through a database that blinks (a restart, a
 * failover, a lock held by another connection): a transient error (core/transient-error.ts) is tried
 * again with backoff for up to two minutes (core/retry.ts); any other error fails at once. The build
 * waits meanwhile, and for output the agent is not acked, so it keeps the bytes.
 *
 * A failed try may still have landed: its COMMIT reached the server but the answer was lost with the
 * connection. A write that is not idempotent names `landed`, asked before each retry: it returns what
 * the write would have returned when an earlier try did land, so nothing is written twice.
 */
import { retry, type BackoffOptions } from '../../core/retry.ts';
import { isTransientError } from '../../core/transient-error.ts';

export interface OutageWriteOptions<T> {
  /** What an earlier try left in the database, if it landed; undefined when it did not. */
  landed?: () => Promise<T | undefined>;
  /** Told of each failure that will be tried again (1 for the first). */
  onRetry?: (error: unknown, attempt: number) => void;
  /** Give up after this long (default two minutes: as long as the writes that end a build). */
  maxMs?: number;
  backoff?: BackoffOptions;
}

export function writeThroughOutage<T>(write: () => Promise<T>, options: OutageWriteOptions<T> = {}): Promise<T> {
  const { landed, onRetry, maxMs, backoff } = options;
  let failedOnce = false;
  return retry(
    async () => {
      if (failedOnce && landed) {
        const found = await landed();
        if (found !== undefined) return found;
      }
      try {
        return await write();
      } catch (e) {
        failedOnce = true;
        throw e;
      }
    },
    { isRetryable: isTransientError, maxMs, backoff, onRetry },
  );
}
