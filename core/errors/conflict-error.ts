import { CaliperError } from './caliper-error.ts';

/** The resource is not in a state that allows this. */
export class ConflictError extends CaliperError {
  readonly code = 'CONFLICT';
}
