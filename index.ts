/** The public API of Caliper: what a master.config.ts (or a custom step) imports from 'caliper'. */
export { defineConfig } from './master/config/define-config.ts';
export type { ConfigInput as CaliperConfig } from './master/config/schema.ts';
export { forceScheduler, periodicScheduler } from './master/config/schedulers.ts';
export { BuildFactory } from './steps/build-factory.ts';
export { Step, commonStepShape, type CommonStepOptions, type StepOutcome } from './steps/step.ts';
export type { StepContext, CommandRequest, CommandResult, LogHandle } from './steps/step-context.ts';
export { ShellCommand, type ShellCommandOptions } from './steps/shell-command.ts';
export { SetPropertyFromCommand, type SetPropertyFromCommandOptions } from './steps/set-property-from-command.ts';
export { interpolate, Interpolate, type Renderable } from './master/build/interpolate.ts';
export { Results, resultName, worstResult, type Result } from './master/build/results.ts';
export { startMaster, type MasterOptions, type RunningMaster } from './master/master.ts';
export { compileConfig } from './master/config/compile.ts';
export { loadConfigFile } from './master/config/loader.ts';
export { Agent, type AgentOptions } from './agent/agent.ts';
