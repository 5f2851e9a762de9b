import type { Step } from './step.ts';

const FACTORY = Symbol.for('caliper.buildFactory');

/** The ordered steps of a builder. */
export class BuildFactory {
  readonly [FACTORY] = true;
  readonly steps: Step[] = [];

  constructor(steps: Step[] = []) {
    this.steps.push(...steps);
  }

  addStep(step: Step): this {
    this.steps.push(step);
    return this;
  }

  addSteps(steps: Step[]): this {
    this.steps.push(...steps);
    return this;
  }
}

export function isBuildFactory(value: unknown): value is BuildFactory {
  return typeof value === 'object' && value !== null && FACTORY in value && value[FACTORY] === true;
}
