/**
 * Stage 1 of a YAML project (projects/*.yml): the shape of the file, unknown keys refused. Plain
 * data only (no functions, no interpolate objects), so the same schema is also the JSON Schema
 * shipped for editors (yaml-project.schema.json, made by yaml-project-json-schema.ts).
 *
 * The rules a step's options follow (a series name, a timeout's range, an environment variable's
 * name) are not repeated here: the builders a project becomes go through compileConfig, which checks
 * them as it checks a TypeScript builder's (yaml-projects.ts maps its errors back to the file).
 *
 * A run's `matrix:` is a builder's (matrix-schema.ts): the run becomes one matrix builder.
 */
import { z } from 'zod';
import { LINT_FORMAT_NAMES } from '../../steps/parsers/index.ts';
import { METRIC_KINDS } from '../../metrics/capture-options.ts';
import { matrixSchema } from './matrix-schema.ts';

const described = <T extends z.ZodType>(schema: T, text: string): T => schema.describe(text);

const identifier = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." or "-" only');
const builderName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.-]+( [A-Za-z0-9_.-]+)*$/, 'letters, digits, "_", "." or "-", and single spaces between words only');
const stepName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.:-]+( [A-Za-z0-9_.:-]+)*$/, 'letters, digits, "_", ".", ":", "-" and single spaces between words only');
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const env = z.record(envName, z.string());
const propertyValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const seconds = z.number().positive();
const words = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const command = described(
  z.union([z.string().min(1, 'must not be empty'), z.array(z.string()).min(1, 'must have at least the program name')], {
    error: 'must be a string (run by sh -c) or a list of strings (argv); quote a value YAML reads as a number or boolean',
  }),
  'A string run by `sh -c`, or an argv list run without a shell. "%(prop:NAME)s" renders a build property (write %% for a % then).',
);

const measure = described(
  z.union([
    z.literal(true),
    z
      .strictObject({
        metric: described(z.string().min(1), 'Series (and property) name when the command prints one number; default the step name.'),
        keys: described(z.array(z.string().min(1)).min(1), 'The keys of the `key=value` lines the command prints.'),
        unit: z.string().max(30),
        kind: z.enum(METRIC_KINDS),
        tags: z.record(z.string(), z.string()),
        warnOnRegression: z.union([z.boolean(), z.strictObject({ threshold: z.number().positive() })]),
        failOnRegression: z.union([z.boolean(), z.strictObject({ threshold: z.number().positive() })]),
        regressionDirection: z.enum(['higher', 'lower', 'both']),
      })
      .partial(),
  ]),
  'The command prints a number (or key=value lines): each value becomes a build property and a metric point (MeasureShellCommand).',
);

export const YAML_RESULT_NAMES = ['success', 'warnings', 'failure'] as const;
const lint = described(
  z.union([
    z.enum(LINT_FORMAT_NAMES),
    z.strictObject({
      format: z.enum(LINT_FORMAT_NAMES),
      maxWarnings: described(z.number().int().min(0), 'Warnings up to this many still count as success (default 0).').optional(),
      onWarnings: described(z.enum(YAML_RESULT_NAMES), 'Result when only warnings are found (default warnings).').optional(),
      onErrors: described(z.enum(['warnings', 'failure']), 'Result when errors are found (default failure).').optional(),
    }),
  ]),
  'The command is a linter whose output this parser reads (Lint): sets `<step>_warnings` and `<step>_errors`, captured as metrics.',
);

/** What a command step says besides its name: shared by a run (its one step) and each of its `steps`. */
const commandShape = {
  command: command.optional(),
  script: described(
    identifier,
    'The name of a script under `scripts:` (run by `sh -c`, stopping at its first failing command).',
  ).optional(),
  workdir: described(z.string().min(1), "Relative to the run's directory (default `build`).").optional(),
  env: described(env, "Environment variables for this command, over the run's.").optional(),
  timeout: described(seconds.nullable(), 'Seconds without output before the command is killed (default 1200; null for never).').optional(),
  maxTime: described(seconds.nullable(), 'Seconds of wall time before the command is killed (default none).').optional(),
  measure: measure.optional(),
  lint: lint.optional(),
  property: described(z.string().min(1), "Set this build property to the command's output (SetPropertyFromCommand).").optional(),
  haltOnFailure: z.boolean().optional(),
  flunkOnFailure: z.boolean().optional(),
  warnOnFailure: z.boolean().optional(),
  alwaysRun: described(z.boolean(), 'Run even after an earlier step halted the build.').optional(),
  description: z.string().max(500).optional(),
  descriptionDone: words.optional(),
};

export const yamlStepSchema = z.strictObject({ name: stepName, ...commandShape });

export const yamlRunSchema = z.strictObject({
  name: described(builderName, 'The builder this run becomes (unique among all builders).'),
  // A run without `steps` is one step: its command and the step options; `description` is the builder's.
  ...commandShape,
  description: z.string().max(1000).optional(),
  agents: described(z.array(identifier), 'Agents (by name) that may run it.').optional(),
  labels: described(z.array(z.string().min(1)), 'Labels an agent must all have to run it.').optional(),
  properties: z.record(z.string(), propertyValue).optional(),
  tags: z.array(z.string().min(1).max(100)).optional(),
  steps: described(z.array(yamlStepSchema).min(1), 'The steps, in order; instead of a command or script of the run itself.').optional(),
  matrix: described(
    matrixSchema,
    "Axes to build every combination of, one build per cell (GitHub Actions' shape): `node: [18, 20]`, with optional `exclude` and `include` lists.",
  ).optional(),
});

const triggerBase = {
  name: described(identifier, 'The scheduler\'s name (default "<project>-<type>", numbered when a type repeats).').optional(),
  runs: described(z.array(builderName).min(1), 'The runs it starts (default every run of the project).').optional(),
};
const branches = z.array(z.string().min(1)).min(1);

export const yamlTriggerSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('push'),
    ...triggerBase,
    branches: described(branches, 'Only pushes to these branches (default every branch).').optional(),
    repository: described(z.string().min(1), 'Only changes of this repository (as the change source reports it).').optional(),
    treeStableTimer: described(z.number().min(0), 'Seconds to wait after the last change before building the newest one.').optional(),
  }),
  z.strictObject({
    type: z.literal('pull_request'),
    ...triggerBase,
    branches: described(branches, 'Only pull requests into these branches (default any).').optional(),
    repository: z.string().min(1).optional(),
  }),
  z.strictObject({
    type: z.literal('cron'),
    ...triggerBase,
    cron: described(z.string().min(1), 'minute hour day-of-month month day-of-week, e.g. "0 3 * * 1-5".'),
    timezone: described(z.string().min(1), 'IANA time zone, e.g. "Europe/Paris" (default the master\'s).').optional(),
    properties: z.record(z.string(), propertyValue).optional(),
  }),
  z.strictObject({ type: z.literal('force'), ...triggerBase }),
]);

export const yamlProjectSchema = z.strictObject({
  description: z.string().max(1000).optional(),
  triggers: described(z.array(yamlTriggerSchema), 'What starts the runs: push, pull_request, cron, force.').optional(),
  runs: described(z.array(yamlRunSchema).min(1, 'needs at least one run'), 'Each run becomes a builder.'),
  scripts: described(z.record(identifier, z.string().min(1)), 'Named shell scripts that runs and steps name with `script:`.').optional(),
});

export type YamlProject = z.output<typeof yamlProjectSchema>;
export type YamlRun = z.output<typeof yamlRunSchema>;
export type YamlStep = z.output<typeof yamlStepSchema>;
export type YamlTrigger = z.output<typeof yamlTriggerSchema>;
