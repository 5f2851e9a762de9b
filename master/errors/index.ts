export { CaliperError } from './caliper-error.ts';
export { BadRequestError } from './bad-request-error.ts';
export { NotFoundError } from './not-found-error.ts';
export { ConflictError } from './conflict-error.ts';
export { UnauthorizedError } from './unauthorized-error.ts';
export { PayloadTooLargeError } from './payload-too-large-error.ts';
export { UnprocessableError } from './unprocessable-error.ts';
export { ConfigError, type ConfigIssue } from './config-error.ts';
export { UnsupportedMediaTypeError } from './unsupported-media-type-error.ts';
