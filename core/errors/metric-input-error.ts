import { CaliperError } from './caliper-error.ts';

/** A captureData call with an invalid series name, value, tag or option. */
export class MetricInputError extends CaliperError {
  readonly code = 'METRIC_INPUT_INVALID';
}
