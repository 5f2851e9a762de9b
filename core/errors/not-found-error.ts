import { CaliperError } from './caliper-error.ts';

/** The resource does not exist. */
export class NotFoundError extends CaliperError {
  readonly code = 'NOT_FOUND';
}
