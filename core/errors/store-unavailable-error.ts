import { CaliperError } from './caliper-error.ts';

/** The metrics store (InfluxDB) cannot answer now; captured points are spooled meanwhile. */
export class StoreUnavailableError extends CaliperError {
  readonly code = 'STORE_UNAVAILABLE';
  override readonly retryable = true;
}
