/** Helpers of the config suites: a one-step config, and the issues a bad config is refused with. */
import { expect } from 'vitest';
import { BuildFactory, type CaliperConfig, type Step } from '../../index.ts';
import { ConfigError, type ConfigIssue } from '../../core/errors/index.ts';

/** A config whose only builder runs the given step. */
export function withStep(step: Step): CaliperConfig {
  return { builders: [{ name: 'b', factory: new BuildFactory([step]) }] };
}

export function issuesOf(run: () => unknown): ConfigIssue[] {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('expected a ConfigError, but the config compiled');
}
