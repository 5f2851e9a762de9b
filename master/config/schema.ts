/** Stage 1 of the config pipeline: the shape of what a user writes, unknown keys refused. */
import { z } from 'zod';
import { isBuildFactory, type BuildFactory } from '../../steps/build-factory.ts';
import { regressionSchema, serviceSchema, trackingSchema } from '../../metrics/config.ts';
import { refName } from '../../steps/git-refs.ts';
import { propertyValueSchema } from '../../steps/properties/properties.ts';
import { isInterpolate, type Interpolate } from '../../steps/properties/interpolate.ts';
import type { PropertyFunction } from '../../steps/properties/renderers.ts';
import { changeSourceSchema } from '../changes/change-source-config.ts';
import { lockAccessSchema, lockSchema } from './locks.ts';
import type { ChangeForImportance, CronTimes } from './schedulers.ts';
import { CRON_FIELDS, cronPatternOf, cronPatternProblem } from '../scheduler/cron.ts';
import { webAuthSchema } from '../auth/auth-config.ts';
import { retentionSchema } from '../retention/retention-config.ts';
import { normalOrigin } from '../api/same-origin.ts';
import { isReporterConfig, reporterName, reporterSchema } from '../reporters/index.ts';
import { PULL_REQUEST_ACTIONS } from '../changes/github-pull-request.ts';
import type { CanStartBuild, CollapseRequestsFn, NextAgent, PrioritizeBuilders } from '../scheduler/queue-hooks.ts';
import { matrixSchema } from './matrix-schema.ts';
import { bisectOptionsSchema } from '../bisect/bisect-options.ts';
import { changePointOptionsSchema, confirmOptionsSchema } from '../regressions/watch-options.ts';

const name = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." or "-" only')
  .refine((v) => v !== '.' && v !== '..', 'cannot be "." or ".." (it names a directory on the agent)');

/**
 * A builder's name: as `name`, with single spaces between words too (as Buildbot's). The API takes
 * it URL-encoded (`/builders/my%20builder`); its directory on the agent is the name with "_" for
 * each space (compile.ts), unless `workdir` says otherwise.
 */
const builderName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.-]+( [A-Za-z0-9_.-]+)*$/, 'letters, digits, "_", "." or "-", and single spaces between words only')
  .refine((v) => v !== '.' && v !== '..', 'cannot be "." or ".." (it names a directory on the agent)');

export const agentSchema = z.strictObject({
  name,
  token: z.string().min(8, 'must be at least 8 characters (read it from the environment)'),
  labels: z.array(z.string().min(1).max(100)).default([]),
  maxBuilds: z.number().int().min(1).max(1000).default(1),
  /** Set on every build that runs on this agent (source 'Worker'), as a Buildbot worker's `properties`. */
  properties: z.record(z.string(), propertyValueSchema).optional(),
});

/** interpolate(...), or a function of the properties (renderer(fn), transform(...)). */
const renderableValue = z.custom<Interpolate | PropertyFunction<unknown>>(
  (v) => isInterpolate(v) || typeof v === 'function',
  'must be interpolate(...) or renderer(fn)',
);

/** A build request's priority: higher first. An integer the database can store. */
const requestPriority = z
  .number()
  .int()
  .min(-(2 ** 31))
  .max(2 ** 31 - 1);
/** Every scheduler may set the priority of the requests it submits (default: each builder's `priority`). */
const schedulerPriority = { priority: requestPriority.optional() };
/** A queue function of the config (master/scheduler/queue-hooks.ts); it may be async. */
const queueFunction = <T>(signature: string) => z.custom<T>((v) => typeof v === 'function', `must be a function ${signature}`);
/** true: Buildbot's rule (same source, see request-collapser.ts); false: never; or your own function. */
const collapseRequests = z.custom<boolean | CollapseRequestsFn>(
  (v) => typeof v === 'boolean' || typeof v === 'function',
  'must be true, false or a function (builder, newer, older) => boolean',
);

export const builderSchema = z.strictObject({
  name: builderName,
  description: z.string().max(1000).optional(),
  agents: z.array(name).optional(),
  labels: z.array(z.string().min(1)).optional(),
  factory: z.custom<BuildFactory>(
    (v) => isBuildFactory(v) && Array.isArray(v.steps),
    'must be a BuildFactory (new BuildFactory().addStep(...))',
  ),
  /**
   * Set on every build of this builder (source 'Builder'). A value may be interpolate(...) or
   * renderer(fn): rendered when each build starts, with the build's other properties (Buildbot's).
   */
  properties: z.record(z.string(), z.union([renderableValue, propertyValueSchema])).default({}),
  /** Added to the environment of every command its builds run on an agent; a step's own `env` wins. */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string()).optional(),
  tags: z.array(z.string().min(1).max(100)).default([]),
  /** Directory under the agent's base directory; default the builder's name. */
  workdir: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'a single directory name')
    .refine((v) => v !== '.' && v !== '..', 'cannot be "." or ".."')
    .optional(),
  /** What to capture for this builder besides the defaults: trackStepTimes(...), trackProperties(...), trackCustomStep(...). */
  metrics: z.array(trackingSchema).default([]),
  /** Locks (from the top-level `locks`) each build of this builder takes: `{ lock, access? }`. */
  locks: z.array(lockAccessSchema).default([]),
  /**
   * Give secrets to builds of pull requests from forks. Default false: such a build runs the fork
   * author's code, so `%(secret:NAME)s` fails its step instead of handing the secret over.
   */
  secretsForForks: z.boolean().default(false),
  /** The priority of its requests when neither the force nor the scheduler gives one; higher first. */
  priority: requestPriority.default(0),
  /** Collapse its queued requests of the same source into the newest; default the top-level `collapseRequests`. */
  collapseRequests: collapseRequests.optional(),
  /** Picks the agent for a request among those free for it (Buildbot's nextWorker). */
  nextAgent: queueFunction<NextAgent>('(builder, agents, request) => agent or null').optional(),
  /** Vetoes an agent for a request (Buildbot's canStartBuild): false tries another agent. */
  canStartBuild: queueFunction<CanStartBuild>('(builder, agent, request) => boolean').optional(),
  /** Axes to build every combination of (one build per cell, matrix.ts): `{ node: ['18', '20'], exclude: [...] }`. */
  matrix: matrixSchema.optional(),
  /** Bisect a confirmed, worse change point of this builder to its culprit commit (master/bisect): opt-in, within this budget. */
  bisect: bisectOptionsSchema.optional(),
  /** Confirm a worse change point of this builder with reruns of the same source before alerting (master/regressions). */
  confirm: confirmOptionsSchema.optional(),
  /** How the regression watcher splits this builder's series: `{ perAgent: true }` watches each agent apart. */
  changePoints: changePointOptionsSchema.optional(),
});

/** May be empty, as in Buildbot: such a scheduler requests nothing, and compile warns of it. */
const builderNames = z.array(builderName);

const changeFilterShape = {
  name,
  builderNames,
  ...schedulerPriority,
  repository: z.string().min(1).optional(),
  project: z.string().optional(),
  category: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  baseBranch: z.union([refName, z.array(refName).min(1)]).optional(),
  treeStableTimer: z.number().min(0).max(86_400).default(0),
  fileIsImportant: z
    .custom<(change: ChangeForImportance) => boolean>((v) => typeof v === 'function', 'must be a function (change) => boolean')
    .optional(),
  onlyImportant: z.boolean().default(false),
  reason: z.string().optional(),
  properties: z.record(z.string(), propertyValueSchema).default({}),
};
const regex = z.string().refine((v) => {
  try {
    new RegExp(v);
    return true;
  } catch {
    return false;
  }
}, 'must be a valid regular expression');

const cronPattern = z.string().superRefine((v, ctx) => {
  const problem = cronPatternProblem(v);
  if (problem)
    ctx.addIssue({
      code: 'custom',
      message: `must be a cron pattern (minute hour day-of-month month day-of-week, or seconds first): ${problem}`,
    });
});
const timeZone = z.string().refine((v) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: v });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone, such as "Europe/Paris" or "UTC"');

/** One of Buildbot's Nightly time fields: a number, a list of numbers, or cron text. */
const cronField = z.union([
  z.number().int().min(0),
  z.array(z.number().int().min(0)).min(1),
  z.string().regex(/^\S+$/, 'must be cron text without spaces, such as "*", "1-5" or "0-59/15"'),
]);
/** When a cron or nightly triggerable scheduler fires: `cron`, or the Nightly fields (schedulers.ts). */
const cronTimesShape = {
  cron: cronPattern.optional(),
  minute: cronField.optional(),
  hour: cronField.optional(),
  dayOfMonth: cronField.optional(),
  month: cronField.optional(),
  dayOfWeek: cronField.optional(),
  timezone: timeZone.optional(),
};
function checkCronTimes(v: CronTimes, ctx: z.RefinementCtx): void {
  const fields = CRON_FIELDS.filter((f) => v[f] !== undefined);
  if (v.cron !== undefined && fields.length > 0)
    ctx.addIssue({ code: 'custom', path: ['cron'], message: `give either cron or ${fields.join(', ')}, not both` });
  else if (v.cron === undefined && fields.length === 0)
    ctx.addIssue({
      code: 'custom',
      path: ['cron'],
      message: 'is required: a cron pattern, or the times as minute, hour, dayOfMonth, month and dayOfWeek',
    });
  else if (v.cron === undefined) {
    const pattern = cronPatternOf(v);
    const problem = cronPatternProblem(pattern);
    if (problem)
      ctx.addIssue({ code: 'custom', path: [fields[0] ?? 'minute'], message: `the times make the cron pattern "${pattern}": ${problem}` });
  }
}

export const schedulerSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('triggerable'), name, builderNames, ...schedulerPriority }),
  z
    .strictObject({
      type: z.literal('cron'),
      name,
      builderNames,
      ...schedulerPriority,
      ...cronTimesShape,
      reason: z.string().optional(),
      properties: z.record(z.string(), propertyValueSchema).default({}),
    })
    .superRefine(checkCronTimes),
  z
    .strictObject({
      type: z.literal('nightlyTriggerable'),
      name,
      builderNames,
      ...schedulerPriority,
      ...cronTimesShape,
      reason: z.string().optional(),
      properties: z.record(z.string(), propertyValueSchema).default({}),
    })
    .superRefine(checkCronTimes),
  z.strictObject({
    type: z.literal('dependent'),
    name,
    /** Checked against the other schedulers by compile.ts. */
    upstream: z.string().min(1),
    builderNames,
    ...schedulerPriority,
    reason: z.string().optional(),
    properties: z.record(z.string(), propertyValueSchema).default({}),
  }),
  z.strictObject({ type: z.literal('singleBranch'), ...changeFilterShape, baseBranchRegex: regex.optional(), branch: refName }),
  z.strictObject({
    type: z.literal('anyBranch'),
    ...changeFilterShape,
    baseBranchRegex: regex.optional(),
    branchRegex: regex.optional(),
  }),
  z.strictObject({ type: z.literal('force'), name, builderNames, ...schedulerPriority }),
  z.strictObject({
    type: z.literal('periodic'),
    name,
    builderNames,
    ...schedulerPriority,
    periodicBuildTimer: z.number().min(1),
    reason: z.string().optional(),
    properties: z.record(z.string(), propertyValueSchema).default({}),
  }),
]);

export const configSchema = z.strictObject({
  title: z.string().max(200).default('Caliper'),
  web: z
    .strictObject({
      port: z.number().int().min(0).max(65535).default(8010),
      host: z.string().default('127.0.0.1'),
      /** Who may change state (tokens for machines, users and roles, OpenID Connect) and read; none: open. */
      auth: webAuthSchema.optional(),
      /** Largest JSON body the API accepts. */
      maxBodyBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024),
      /**
       * Origins (scheme://host[:port]) besides the master's own whose pages may write to /api/v2;
       * a write from any other origin is refused (docs/security.md).
       */
      allowedOrigins: z.array(z.string().refine((o) => normalOrigin(o) !== null, 'must be an origin: scheme://host[:port]')).default([]),
      /** Clients of /ws at once (those closing included); past it an upgrade is answered 503. */
      maxLiveClients: z.number().int().min(1).default(256),
      /**
       * Where users reach the web UI (behind a proxy, e.g. `https://ci.example.com/`): reporters link
       * to a build's page under it. Default `http://<host>:<port>/`.
       */
      publicUrl: z
        .url({ protocol: /^https?$/ })
        .transform((u) => (u.endsWith('/') ? u : `${u}/`))
        .optional(),
      /** Webhooks that post changes: `github` serves POST /hooks/github. */
      changeHooks: z
        .strictObject({
          github: z
            .strictObject({
              /** The webhook's secret on GitHub (read it from the environment). */
              secret: z.string().min(16, 'must be at least 16 characters (read it from the environment)'),
              repositoryUrl: z.enum(['clone_url', 'ssh_url', 'html_url']).default('clone_url'),
              /** Largest payload accepted; GitHub sends up to 25 MB. */
              maxBodyBytes: z
                .number()
                .int()
                .min(1024)
                .default(25 * 1024 * 1024),
              /** `pull_request` actions that become changes; other actions are answered 200 and ignored. */
              pullRequestActions: z.array(z.enum(PULL_REQUEST_ACTIONS)).default(['opened', 'synchronize', 'reopened', 'ready_for_review']),
              /** Build draft pull requests too (default: only once they are ready for review). */
              buildDrafts: z.boolean().default(false),
            })
            .optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  db: z.strictObject({ url: z.string().default('sqlite:.caliper/caliper.sqlite') }).prefault({}),
  protocol: z
    .strictObject({
      heartbeatMs: z.number().int().min(100).default(10_000),
      /** An agent silent for this many heartbeats is disconnected. */
      missedHeartbeats: z.number().int().min(1).default(3),
      /** How long a disconnected agent's running commands wait for it to reconnect before their steps end RETRY. */
      graceMs: z.number().int().min(0).default(60_000),
    })
    .prefault({}),
  /** On SIGTERM/SIGINT, running builds get this long to finish before they are stopped (CANCELLED). */
  shutdownTimeoutMs: z.number().int().min(0).default(30_000),
  logs: z
    .strictObject({
      /** Bytes kept per log; past it the log ends with a truncation marker and further output is discarded. */
      maxBytes: z
        .number()
        .int()
        .min(1024)
        .default(512 * 1024 * 1024),
    })
    .prefault({}),
  /** How long logs, builds and changes are kept, and when the janitor runs (docs/operations.md); none: kept for ever. */
  retention: retentionSchema.optional(),
  /**
   * Secret values (read them from the environment), used as interpolate('%(secret:NAME)s') and masked
   * wherever they would show: logs, state strings, build properties (names and values), metric series
   * names and tags. Agent and API tokens and the GitHub webhook secret are masked too.
   */
  secrets: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'secret names: letters, digits and "_"'),
      z.string().min(4, 'must be at least 4 characters (shorter values cannot be masked safely)'),
    )
    .default({}),
  agents: z.array(agentSchema).default([]),
  /** masterLock(...), agentLock(...): builders take them through their `locks`. */
  locks: z.array(lockSchema).default([]),
  builders: z.array(builderSchema).min(1, 'needs at least one builder'),
  schedulers: z.array(schedulerSchema).default([]),
  /** Orders the builders the claimer serves (Buildbot's prioritizeBuilders); default: by their requests' priority, then age. */
  prioritizeBuilders: queueFunction<PrioritizeBuilders>('(builders) => builders in the order to serve them').optional(),
  /** The default of every builder's `collapseRequests`: off, as in Caliper so far (Buildbot's default is true). */
  collapseRequests: collapseRequests.default(false),
  /** Where changes come from besides `POST /api/v2/changes`: gitPoller(...). */
  changeSources: z.array(changeSourceSchema).default([]),
  /**
   * influxdb(...), grafana(...), prometheus(...) and the reporters: httpReporter(...), mailNotifier(...),
   * … (docs/reporters.md). Without influxdb, points go to the SQL database.
   */
  services: z
    .array(z.discriminatedUnion('type', [serviceSchema, reporterSchema]))
    .default([])
    .superRefine((services, ctx) => {
      // A reporter's name keys its deliveries in the outbox: two alike would deliver each other's.
      const seen = new Set<string>();
      services.forEach((service, i) => {
        if (!isReporterConfig(service)) return;
        const name = reporterName(service);
        if (seen.has(name))
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `two reporters are named "${name}" (give each a distinct name)` });
        seen.add(name);
      });
    }),
  metrics: z
    .strictObject({
      /** Capture build duration, step durations and queue latency for every build (default true). */
      trackBuildTimes: z.boolean().default(true),
      regression: regressionSchema,
    })
    .prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
