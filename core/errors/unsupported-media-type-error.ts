import { CaliperError } from './caliper-error.ts';

/** The body is not JSON (a plain `curl -d` sends form data, which would otherwise be ignored). */
export class UnsupportedMediaTypeError extends CaliperError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
}
