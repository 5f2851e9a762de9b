import { CaliperError } from './caliper-error.ts';

/** The request is understood but refused for where it comes from (a write from another site). */
export class ForbiddenError extends CaliperError {
  readonly code = 'FORBIDDEN';
}
