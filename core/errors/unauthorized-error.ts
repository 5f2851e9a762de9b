import { CaliperError } from './caliper-error.ts';

/** A valid bearer token is needed for this. */
export class UnauthorizedError extends CaliperError {
  readonly code = 'UNAUTHORIZED';
}
