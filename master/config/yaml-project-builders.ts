/**
 * Stage 3 of a YAML project: a checked project becomes builders of typed steps and schedulers, the
 * same objects a master.config.ts writes by hand. Each builder and scheduler remembers where in the
 * file it came from (`origins`), so compileConfig's errors about them can be placed in the file.
 *
 * - A run becomes a builder named after it (tagged with the project's name); its `steps` (or its own
 *   command or script, as one step named after the run) become steps: `measure` a
 *   MeasureShellCommand, `lint` a Lint, `property` a SetPropertyFromCommand, else a ShellCommand.
 * - A run's `timeout` and `maxTime` are its steps' defaults; its `env` is the builder's.
 * - Triggers become schedulers: push → anyBranchScheduler on the branches, pull_request →
 *   anyBranchScheduler of category "pull" by base branch, cron → cronScheduler, force → forceScheduler.
 */
import { Results } from '../../core/results.ts';
import { interpolate, type Renderable } from '../../steps/properties/interpolate.ts';
import { Lint } from '../../steps/lint.ts';
import { MeasureShellCommand } from '../../steps/measure-shell-command.ts';
import { SetPropertyFromCommand } from '../../steps/set-property-from-command.ts';
import { ShellCommand, type ShellCommandOptions } from '../../steps/shell-command.ts';
import type { Step } from '../../steps/step.ts';
import type { PropertyValue } from '../../steps/properties/properties.ts';
import { BuildFactory } from '../../steps/build-factory.ts';
import { anyBranchScheduler, cronScheduler, forceScheduler } from './schedulers.ts';
import type { ConfigInput } from './schema.ts';
import type { YamlPath } from './yaml-positions.ts';
import type { YamlProject, YamlRun, YamlStep, YamlTrigger } from './yaml-project-schema.ts';

export type BuilderInput = ConfigInput['builders'][number];
export type SchedulerInput = NonNullable<ConfigInput['schedulers']>[number];

/** Where a builder's parts were written: the run, and for each step its node and the nodes of its options. */
export interface BuilderOrigin {
  run: YamlPath;
  steps: { at: YamlPath; options: Record<string, YamlPath> }[];
}

export interface TranslatedProject {
  builders: BuilderInput[];
  schedulers: SchedulerInput[];
  origins: { builders: BuilderOrigin[]; schedulers: YamlPath[] };
}

/** A run's or step's command spec: exactly one of these, checked in stage 2. */
type CommandSpec = Pick<YamlStep, 'command' | 'script'>;

export function projectBuilders(
  project: YamlProject,
  projectName: string,
  properties: Record<string, PropertyValue> = {},
): TranslatedProject {
  const origins: TranslatedProject['origins'] = { builders: [], schedulers: [] };
  const builders = project.runs.map((run, r) => {
    const made = runBuilder(run, ['runs', r], projectName, project.scripts ?? {}, properties);
    origins.builders.push(made.origin);
    return made.builder;
  });
  const allRuns = project.runs.map((r) => r.name);
  const counts = new Map<string, number>();
  const schedulers = (project.triggers ?? []).map((t, i) => {
    const n = (counts.get(t.type) ?? 0) + 1;
    counts.set(t.type, n);
    origins.schedulers.push(['triggers', i]);
    const name = t.name ?? `${projectName}-${t.type}${n > 1 ? `-${n}` : ''}`;
    return triggerScheduler(t, name, t.runs ?? allRuns);
  });
  return { builders, schedulers, origins };
}

function runBuilder(
  run: YamlRun,
  at: YamlPath,
  projectName: string,
  scripts: Record<string, string>,
  properties: Record<string, PropertyValue>,
): { builder: BuilderInput; origin: BuilderOrigin } {
  // A run without steps is its own one step; its options are read from the run's node.
  const specs: { spec: YamlStep; at: YamlPath }[] = run.steps ? run.steps.map((spec, s) => ({ spec, at: [...at, 'steps', s] })) : [];
  const origin: BuilderOrigin = { run: at, steps: [] };
  if (specs.length === 0) specs.push({ spec: { ...run, env: undefined, description: undefined }, at });
  const steps: Step[] = specs.map(({ spec, at: stepAt }) => {
    const made = commandStep(spec, run, scripts, stepAt);
    origin.steps.push({ at: stepAt, options: made.options });
    return made.step;
  });
  const builder: BuilderInput = {
    name: run.name,
    factory: new BuildFactory(steps),
    // The project's name last, so tag indices in errors are the run's own.
    tags: [...(run.tags ?? []), projectName],
    ...(run.description !== undefined ? { description: run.description } : {}),
    ...(run.agents !== undefined ? { agents: run.agents } : {}),
    ...(run.labels !== undefined ? { labels: run.labels } : {}),
    ...(run.env !== undefined ? { env: run.env } : {}),
    ...(run.matrix !== undefined ? { matrix: run.matrix } : {}),
    properties: { ...properties, ...run.properties },
  };
  return { builder, origin };
}

/** A string with `%(...)s` in it is an Interpolate template; any other is taken as written. */
function renderable(text: string): Renderable<string> {
  return text.includes('%(') ? interpolate(text) : text;
}

function commandOf(spec: CommandSpec, scripts: Record<string, string>): ShellCommandOptions['command'] {
  if (spec.script !== undefined) {
    // Stops at the first failing command, as a CI script is expected to.
    return renderable(`set -e\n${scripts[spec.script] ?? ''}`);
  }
  const command = spec.command ?? '';
  return typeof command === 'string' ? renderable(command) : command.map(renderable);
}

const RESULT_OF = { success: Results.SUCCESS, warnings: Results.WARNINGS, failure: Results.FAILURE } as const;

function commandStep(
  spec: YamlStep,
  run: YamlRun,
  scripts: Record<string, string>,
  at: YamlPath,
): { step: Step; options: Record<string, YamlPath> } {
  // Which YAML node each option of the step came from (a run's default, a measure's key, ...).
  const options: Record<string, YamlPath> = { command: [...at, spec.script !== undefined ? 'script' : 'command'] };
  const timeout = spec.timeout !== undefined ? spec.timeout : run.timeout;
  const maxTime = spec.maxTime !== undefined ? spec.maxTime : run.maxTime;
  if (spec.timeout === undefined && run.timeout !== undefined) options.timeout = [...at.slice(0, 2), 'timeout'];
  if (spec.maxTime === undefined && run.maxTime !== undefined) options.maxTime = [...at.slice(0, 2), 'maxTime'];
  const common: ShellCommandOptions = {
    name: spec.name,
    command: commandOf(spec, scripts),
    ...(spec.workdir !== undefined ? { workdir: spec.workdir } : {}),
    // A run's own env and description are the builder's (spec has none of them then).
    ...(spec.env !== undefined ? { env: Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, renderable(v)])) } : {}),
    ...(timeout !== undefined ? { timeout } : {}),
    ...(maxTime !== undefined ? { maxTime } : {}),
    ...(spec.haltOnFailure !== undefined ? { haltOnFailure: spec.haltOnFailure } : {}),
    ...(spec.flunkOnFailure !== undefined ? { flunkOnFailure: spec.flunkOnFailure } : {}),
    ...(spec.warnOnFailure !== undefined ? { warnOnFailure: spec.warnOnFailure } : {}),
    ...(spec.alwaysRun !== undefined ? { alwaysRun: spec.alwaysRun } : {}),
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    ...(spec.descriptionDone !== undefined ? { descriptionDone: spec.descriptionDone } : {}),
  };
  if (spec.measure !== undefined) {
    const m = spec.measure === true ? {} : spec.measure;
    for (const key of Object.keys(m)) options[key] = [...at, 'measure', key];
    return { step: new MeasureShellCommand({ ...common, ...m }), options };
  }
  if (spec.lint !== undefined) {
    const l = typeof spec.lint === 'string' ? { format: spec.lint } : spec.lint;
    for (const key of Object.keys(l)) options[key] = [...at, 'lint', ...(typeof spec.lint === 'string' ? [] : [key])];
    const lint = new Lint({
      ...common,
      format: l.format,
      ...(l.maxWarnings !== undefined ? { maxWarnings: l.maxWarnings } : {}),
      ...(l.onWarnings !== undefined ? { onWarnings: RESULT_OF[l.onWarnings] } : {}),
      ...(l.onErrors !== undefined ? { onErrors: RESULT_OF[l.onErrors] } : {}),
    });
    return { step: lint, options };
  }
  if (spec.property !== undefined) return { step: new SetPropertyFromCommand({ ...common, property: spec.property }), options };
  return { step: new ShellCommand(common), options };
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function triggerScheduler(t: YamlTrigger, name: string, builderNames: string[]): SchedulerInput {
  switch (t.type) {
    case 'push':
      return anyBranchScheduler({
        name,
        builderNames,
        // A pull request's change is on refs/pull/N/head: never a push (the change scheduler matches at the start).
        branchRegex: t.branches ? `(?:${t.branches.map(escapeRegex).join('|')})$` : '(?!refs/pull/)',
        ...(t.repository !== undefined ? { repository: t.repository } : {}),
        ...(t.treeStableTimer !== undefined ? { treeStableTimer: t.treeStableTimer } : {}),
      });
    case 'pull_request':
      return anyBranchScheduler({
        name,
        builderNames,
        category: 'pull',
        ...(t.branches ? { baseBranch: t.branches } : {}),
        ...(t.repository !== undefined ? { repository: t.repository } : {}),
      });
    case 'cron':
      return cronScheduler({
        name,
        builderNames,
        cron: t.cron,
        ...(t.timezone !== undefined ? { timezone: t.timezone } : {}),
        ...(t.properties !== undefined ? { properties: t.properties } : {}),
      });
    case 'force':
      return forceScheduler({ name, builderNames });
    default: {
      const never: never = t;
      throw new Error(`unknown trigger ${JSON.stringify(never)}`);
    }
  }
}
