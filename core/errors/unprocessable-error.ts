import { CaliperError } from './caliper-error.ts';

/** The request is well-formed but its content cannot be accepted. */
export class UnprocessableError extends CaliperError {
  readonly code = 'UNPROCESSABLE';
}
