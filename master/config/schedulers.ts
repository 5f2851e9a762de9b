/** Schedulers turn something happening (a user's click, time passing, a commit) into build requests. */

/** What every scheduler may say about the requests it submits. */
export interface SchedulerPriority {
  /**
   * The priority of its requests (higher first; Buildbot's scheduler `priority`). Default: each
   * builder's `priority`. A force scheduler's is the default of forces that give none.
   */
  priority?: number;
}

export interface ForceSchedulerConfig extends SchedulerPriority {
  type: 'force';
  name: string;
  builderNames: string[];
}

export interface PeriodicSchedulerConfig extends SchedulerPriority {
  type: 'periodic';
  name: string;
  builderNames: string[];
  /** Seconds between builds. */
  periodicBuildTimer: number;
  reason?: string;
  properties?: Record<string, unknown>;
}

/** A change as `fileIsImportant` sees it. */
export interface ChangeForImportance {
  repository: string;
  branch: string | null;
  revision: string;
  author: string;
  comments: string;
  /** The paths the change touches (a gitPoller's changes list them). */
  files: string[];
  project: string;
  category: string | null;
  properties: Record<string, unknown>;
}

/** What a change scheduler listens to; a change must match every field given. */
interface ChangeFilterOptions extends SchedulerPriority {
  /** The change's repository must equal this (a gitPoller's changes carry its `repourl`). */
  repository?: string;
  project?: string;
  /**
   * The change's category must be this, or one of these: `'pull'` for GitHub pull requests, `'push'`
   * for pushes GitHub's hook reports (a gitPoller's changes have none).
   */
  category?: string | string[];
  /**
   * Only pull requests into this branch, or one of these (the change's `base_branch` property); a
   * change that is not a pull request has no base branch and never matches.
   */
  baseBranch?: string | string[];
  /**
   * Only pull requests into a branch whose name matches this regular expression at its start, as
   * Buildbot's `branch_re` (Python's `re.match`): end it with `$` to match the whole name.
   */
  baseBranchRegex?: string;
  /**
   * Seconds to wait after the last matching change before requesting a build of the newest one, so a
   * push of several commits makes one build (Buildbot's treeStableTimer). 0 (default): a build per change.
   */
  treeStableTimer?: number;
  /**
   * Whether a matching change is worth a build (Buildbot's `fileIsImportant`): an unimportant change
   * requests no build by itself. Without `treeStableTimer` it is ignored; with one, it waits with
   * the others on its branch, restarts a running timer, and is built with the next important change
   * (a timer whose changes are all unimportant requests nothing). Default: every change is important.
   */
  fileIsImportant?: (change: ChangeForImportance) => boolean;
  /** Drop unimportant changes altogether: never built, not even with an important one. Default false. */
  onlyImportant?: boolean;
  reason?: string;
  properties?: Record<string, unknown>;
}

export interface SingleBranchSchedulerConfig extends ChangeFilterOptions {
  type: 'singleBranch';
  name: string;
  builderNames: string[];
  /** Only changes on this branch. */
  branch: string;
}

export interface AnyBranchSchedulerConfig extends ChangeFilterOptions {
  type: 'anyBranch';
  name: string;
  builderNames: string[];
  /**
   * Only branches whose name matches this regular expression at its start (default: every branch),
   * as Buildbot's `branch_re` (Python's `re.match`): 'release' matches `release-1.0`; end it with `$`
   * to match the whole name.
   */
  branchRegex?: string;
}

export type ChangeSchedulerConfig = SingleBranchSchedulerConfig | AnyBranchSchedulerConfig;

/** One time field as Buildbot's Nightly takes it: a number, a list of numbers, or cron text ('*', '1-5', '0-59/15'). */
export type CronField = number | number[] | string;

/**
 * When a cron or nightly triggerable scheduler fires: either `cron`, or Buildbot's Nightly fields
 * (`minute` default 0, the others default '*'), not both.
 */
export interface CronTimes {
  /**
   * A cron pattern: `minute hour day-of-month month day-of-week` ('0 3 * * 1-5': at 03:00 on
   * weekdays), or with seconds first (six fields).
   */
  cron?: string;
  minute?: CronField;
  hour?: CronField;
  dayOfMonth?: CronField;
  month?: CronField;
  /**
   * As Buildbot's: 0 is Monday and 6 is Sunday in numbers, lists and comma-separated numbers
   * (`dayOfWeek: [0, 2]` or `'0,2'`: Monday and Wednesday); other text is read as cron reads it
   * (`'mon-fri'`, and a range such as `'1-5'`, where 0 is Sunday).
   */
  dayOfWeek?: CronField;
  /** IANA time zone the times are read in ('Europe/Paris'); default the master's. */
  timezone?: string;
}

export interface CronSchedulerConfig extends CronTimes, SchedulerPriority {
  type: 'cron';
  name: string;
  builderNames: string[];
  reason?: string;
  properties?: Record<string, unknown>;
}

/** Requests builds only when a `Trigger` step of another build asks it to. */
export interface TriggerableSchedulerConfig extends SchedulerPriority {
  type: 'triggerable';
  name: string;
  builderNames: string[];
}

/**
 * Builds when a buildset of the `upstream` scheduler completes with SUCCESS or WARNINGS (Buildbot's
 * Dependent), with that buildset's source and changes.
 */
export interface DependentSchedulerConfig extends SchedulerPriority {
  type: 'dependent';
  name: string;
  /** The name of the scheduler whose buildsets this one follows (not a force scheduler). */
  upstream: string;
  builderNames: string[];
  reason?: string;
  properties?: Record<string, unknown>;
}

/**
 * Armed by `Trigger` steps, builds at its times with what it was last armed with, and only when it
 * was armed since its last build (Buildbot's NightlyTriggerable).
 */
export interface NightlyTriggerableSchedulerConfig extends CronTimes, SchedulerPriority {
  type: 'nightlyTriggerable';
  name: string;
  builderNames: string[];
  reason?: string;
  properties?: Record<string, unknown>;
}

export type SchedulerConfig =
  | ForceSchedulerConfig
  | PeriodicSchedulerConfig
  | ChangeSchedulerConfig
  | CronSchedulerConfig
  | TriggerableSchedulerConfig
  | DependentSchedulerConfig
  | NightlyTriggerableSchedulerConfig;

/** Lets users force builds of these builders (API `POST /builders/{name}/force`, the UI's button). */
export function forceScheduler(options: Omit<ForceSchedulerConfig, 'type'>): ForceSchedulerConfig {
  return { type: 'force', ...options };
}

/** Requests a build of each builder every `periodicBuildTimer` seconds. */
export function periodicScheduler(options: Omit<PeriodicSchedulerConfig, 'type'>): PeriodicSchedulerConfig {
  return { type: 'periodic', ...options };
}

/** Requests builds of changes on one branch (from a change source or `POST /api/v2/changes`). */
export function singleBranchScheduler(options: Omit<SingleBranchSchedulerConfig, 'type'>): SingleBranchSchedulerConfig {
  return { type: 'singleBranch', ...options };
}

/**
 * Requests builds of changes on any branch (or those matching `branchRegex`); each branch is timed
 * apart. A pull request's change is on `refs/pull/N/head`: `category: 'pull'` with `baseBranch`
 * selects pull requests by the branch they go into.
 */
export function anyBranchScheduler(options: Omit<AnyBranchSchedulerConfig, 'type'>): AnyBranchSchedulerConfig {
  return { type: 'anyBranch', ...options };
}

/** Requests a build of each builder at the times a cron pattern (or Buildbot's Nightly fields) gives (Buildbot's Nightly). */
export function cronScheduler(options: Omit<CronSchedulerConfig, 'type'>): CronSchedulerConfig {
  return { type: 'cron', ...options };
}

/** Builds its builders when a `Trigger` step names it (Buildbot's Triggerable). */
export function triggerableScheduler(options: Omit<TriggerableSchedulerConfig, 'type'>): TriggerableSchedulerConfig {
  return { type: 'triggerable', ...options };
}

/** Builds its builders after each buildset of `upstream` that succeeds (Buildbot's Dependent). */
export function dependentScheduler(options: Omit<DependentSchedulerConfig, 'type'>): DependentSchedulerConfig {
  return { type: 'dependent', ...options };
}

/**
 * Builds its builders at the times given with what a `Trigger` step last armed it with, once per
 * arming (Buildbot's NightlyTriggerable).
 */
export function nightlyTriggerableScheduler(options: Omit<NightlyTriggerableSchedulerConfig, 'type'>): NightlyTriggerableSchedulerConfig {
  return { type: 'nightlyTriggerable', ...options };
}
