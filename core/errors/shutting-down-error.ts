import { CaliperError } from './caliper-error.ts';

/** The master is shutting down and takes no new work; try again after it restarts. */
export class ShuttingDownError extends CaliperError {
  readonly code = 'SHUTTING_DOWN';
  override readonly retryable = true;
}
