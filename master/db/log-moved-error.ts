import { CaliperError } from '../../core/errors/caliper-error.ts';
import type { LogRow } from './entities.ts';

/**
 * A chunk was to be appended at a byte count the stored log no longer has: the log was deleted, or
 * written by someone other than its one writer. Not retryable: writing anyway would leave a hole or
 * a duplicate in the log.
 */
export class LogMovedError extends CaliperError {
  readonly code = 'LOG_MOVED';

  constructor(logid: number, expectedBytes: number, found: Pick<LogRow, 'num_bytes'> | null) {
    super(
      found === null
        ? `log ${logid} is gone: its chunk could not be stored`
        : `log ${logid} holds ${found.num_bytes} bytes, its writer expected ${expectedBytes}: the chunk was not stored`,
      { logid, expectedBytes, foundBytes: found?.num_bytes ?? null },
    );
  }
}
