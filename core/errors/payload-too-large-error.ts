import { CaliperError } from './caliper-error.ts';

/** The body is larger than the configured limit. */
export class PayloadTooLargeError extends CaliperError {
  readonly code = 'PAYLOAD_TOO_LARGE';
}
