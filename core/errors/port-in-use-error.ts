import { CaliperError } from './caliper-error.ts';

/** The master's HTTP port is taken (or not allowed): says which, and how to choose another. */
export class PortInUseError extends CaliperError {
  readonly code = 'PORT_IN_USE';
}
