import { CaliperError } from './caliper-error.ts';

/** The request is malformed or has invalid values. */
export class BadRequestError extends CaliperError {
  readonly code = 'BAD_REQUEST';
}
