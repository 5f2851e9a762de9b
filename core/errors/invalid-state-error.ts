import { CaliperError } from './caliper-error.ts';

/**
 * A state machine (Build, StepRuntime, AgentSession, Run, AgentHandle) was asked for a transition
 * or an action its current state does not allow: a bug in the caller, so never retried.
 */
export class InvalidStateError extends CaliperError {
  readonly code = 'INVALID_STATE';

  constructor(
    readonly machine: string,
    readonly state: string,
    readonly action: string,
  ) {
    super(`${machine}: cannot ${action} while ${state}`, { machine, state, action });
  }
}
