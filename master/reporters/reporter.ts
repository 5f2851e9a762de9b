/**
 * Reporters tell the world about builds (Buildbot's reporters): a GitHub commit status, a PR
 * comment, an HTTP webhook, a mail. The reporter service (reporter-service.ts) listens to build
 * events, asks each reporter whether it wants the event, snapshots a `BuildReport` and stores one
 * delivery per reporter in the durable outbox (outbox.ts), in the same order as the events. A
 * worker delivers them: retried with backoff while the receiver is down, kept across master
 * restarts, at least once, in order per build and reporter. A reporter never delays or fails a build.
 */
import type { Result, ResultName } from '../../core/results.ts';

/** Times in a report (started_at, complete_at, when_timestamp) are epoch seconds, as in the Data API. */
/** `build.regressed`: the grouped alert of the confirmed worse change points a build revealed (master/regressions). */
export type ReportEventKind = 'build.started' | 'build.finished' | 'step.finished' | 'build.regressed';

/** One series that regressed, in a `build.regressed` report. */
export interface RegressionItem {
  /** The stored change point (`GET /api/v2/changepoints/{id}`). */
  id: number;
  series: string;
  /** The tag combination watched (builder, step, branch, …). */
  tags: Record<string, string>;
  unit: string | null;
  meanBefore: number;
  meanAfter: number;
  /** Relative change of the mean, in percent (signed); null when the mean before is 0. */
  magnitudePercent: number | null;
  pValue: number;
  /** The last build before the change and the first after it, with their pages. */
  before: { buildid: number | null; revision: string | null; url: string | null };
  after: { buildid: number | null; revision: string | null; url: string | null };
  /** The series' chart in the web UI, filtered to its tags. */
  chartUrl: string;
}

/** One measured series of a build, against its baseline (for a pull request: the base branch's). */
export interface MetricDelta {
  series: string;
  /** The step that measured it, when one did. */
  step: string | null;
  unit: string | null;
  value: number;
  /** Median of the baseline's recent good builds; null when there is no baseline yet. */
  baseline: number | null;
  /** (value − baseline) / baseline × 100; null without a baseline or when the baseline is 0. */
  deltaPercent: number | null;
  /** The regression check's verdict: 'regression' when the value is far off in the bad direction. */
  flag: 'regression' | 'improvement' | null;
  /** Which builds the baseline came from: the builder's own branch, or the pull request's base branch. */
  baselineBranch: string | null;
}

/** What a reporter is told about a build: a snapshot taken when the event happened (secrets masked). */
export interface BuildReport {
  event: ReportEventKind;
  build: {
    buildid: number;
    number: number;
    builderid: number;
    builder: string;
    /** null while running. */
    results: Result | null;
    result: ResultName | null;
    state_string: string;
    started_at: number;
    complete_at: number | null;
    /** The build's page in the web UI (from web.publicUrl). */
    url: string;
  };
  /** The step, for `step.finished`. */
  step: { stepid: number; number: number; name: string; results: Result; result: ResultName; state_string: string } | null;
  /** Steps so far, in order (for `build.finished`: all of them). */
  steps: { number: number; name: string; results: Result | null; result: ResultName | null; state_string: string }[];
  /** The build's properties, name -> value (masked). */
  properties: Record<string, unknown>;
  /** What was built: the first change's repository, branch and revision, or the properties'. */
  source: {
    repository: string | null;
    branch: string | null;
    revision: string | null;
    /** Set for a pull request build (change category 'pull'). */
    pullRequest: { number: number; title: string; url: string; baseBranch: string; headBranch: string; headRepository: string } | null;
  };
  changes: { changeid: number; author: string; comments: string; revision: string; when_timestamp: number }[];
  /** Measured series and their deltas; filled for `build.finished`, empty otherwise. */
  metrics: MetricDelta[];
  /** For `build.regressed`: every series whose confirmed worse change this build revealed. */
  regressions?: RegressionItem[];
}

/** One stored delivery: what the outbox hands a reporter, perhaps again after a failure or a restart. */
export interface Delivery {
  /** Unique and stable across retries (e.g. for an X-Caliper-Delivery header). */
  id: string;
  attempt: number;
  report: BuildReport;
}

export interface Reporter {
  /** Unique among the configured reporters; names the outbox's rows, so keep it stable across restarts. */
  readonly name: string;
  /** Whether this reporter reports this event at all (its builders, results, mode filters). */
  wants(report: BuildReport): boolean;
  /**
   * Delivers. Throw to have it retried (with backoff, for as long as it takes); throw a
   * `PermanentDeliveryError` for an answer that retrying cannot change (it is logged and dropped).
   */
  deliver(delivery: Delivery): Promise<void>;
  /** Secret values (tokens, passwords) to mask wherever they would show. */
  readonly secrets: string[];
  /** Tells a commit's author something about it (a bisection's culprit, master/bisect/culprit-notice.ts), if this reporter can. */
  notifyAuthor?(notice: AuthorNotice): Promise<void>;
}

/** A message for a commit's author: a mail to `email`, or a comment on the pull request the commit came from. */
export interface AuthorNotice {
  email: string | null;
  repository: string;
  revision: string;
  /** The pull request the commit came from, when known. */
  pullRequest: number | null;
  subject: string;
  /** Plain text; also the PR comment's markdown. */
  text: string;
}

/** An answer that retrying cannot change (a 404 for a repository that does not exist, a 422). */
export class PermanentDeliveryError extends Error {
  override readonly name = 'PermanentDeliveryError';
}
