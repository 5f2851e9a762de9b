/**
 * `githubStatus({ token, context?, baseUrl?, builders?, githubComment? })`: a commit status per build
 * of a GitHub revision (Buildbot's GitHubStatusPush), `pending` when it starts, then `success`
 * (also for WARNINGS, said in the description), `failure`, or `error` (EXCEPTION, CANCELLED). The
 * status links to the build's page, its context is `caliper/<builder>` unless set, and its
 * description names the worst metric regression ("bundle_size +12.3 % vs main"). With
 * `githubComment: true` a pull-request build's finish also writes the PR's comment (github-comment.ts).
 *
 * A late status never overwrites a newer one. The outbox delivers in order per build, but the
 * finish of an OLD build can be delivered (retried) after the start of a NEW build of the same
 * commit. Before posting, the reporter reads the commit's statuses from GitHub (newest first) and
 * takes the build id from the `target_url` of the newest status in its context (the build page's
 * URL ends in `/builds/ID`); when that build is newer, the status is not posted. GitHub is the
 * record, so this holds across master restarts, and with several masters as far as their
 * deliveries for one commit do not overlap; within a master, deliveries for one commit and
 * context take turns (KeyedLock), so none reads before another has written. The newest build
 * posted per commit and context is also remembered, so a read that lags a write cannot let an
 * older status through either.
 */
import { z } from 'zod';
import { Results, type Result } from '../../core/results.ts';
import type { Logger } from '../../core/logger.ts';
import type { AuthorNotice, BuildReport, Delivery, Reporter } from './reporter.ts';
import { octokitGithubApi, type CommitState, type GithubApi, type RepoRef } from './github-client.ts';
import { upsertComment } from './github-comment.ts';
import { formatPercent, worstRegression } from './metric-deltas.ts';
import { KeyedLock } from './keyed-lock.ts';
import { regressionMarker, regressionMarkdown, regressionSummary } from './regression-text.ts';

export const githubStatusSchema = z.strictObject({
  type: z.literal('githubStatus'),
  /** Unique among the reporters, stable across restarts (names the outbox's rows). Default `githubStatus` (and the host for GitHub Enterprise). */
  name: z.string().min(1).max(100).optional(),
  /** A token allowed to write commit statuses (and PR comments with `githubComment`): see docs/reporters.md. Masked. */
  token: z.string().min(8, 'must be at least 8 characters (masked)'),
  /** The status' context; default `caliper/<builder>`. */
  context: z.string().min(1).max(200).optional(),
  /** API root for GitHub Enterprise Server (`https://HOST/api/v3`); default https://api.github.com. */
  baseUrl: z.url().optional(),
  /** Host of the repository URLs this reporter reports for; default github.com, or baseUrl's host. */
  host: z.string().min(1).optional(),
  /** Only these builders' builds (default: every builder). */
  builders: z.array(z.string().min(1)).min(1).optional(),
  /** Also write the metric deltas as one comment on the pull request, edited by each new build. */
  githubComment: z.boolean().default(false),
  /**
   * Also report the confirmed worse change points a build revealed (master/regressions), all in one:
   * a `failure` status in the context `<context>/regressions` naming them, and with `githubComment`
   * one comment on the pull request listing them.
   */
  regressions: z.boolean().default(false),
  /** A rate limit that resets later than this is left to the outbox's retry instead of waited for. */
  maxRateLimitWaitSeconds: z.number().int().min(0).max(3600).default(60),
  /** A delivery's longest wait on GitHub (ms), retries and rate limit waits included. */
  timeoutMs: z
    .number()
    .int()
    .min(1000)
    .max(30 * 60_000)
    .default(120_000),
});

export type GithubStatusInput = z.input<typeof githubStatusSchema>;
export type GithubStatusConfig = z.output<typeof githubStatusSchema>;

/** The config helper, used in `services` like influxdb(). */
export function githubStatus(options: Omit<GithubStatusInput, 'type'>): GithubStatusInput {
  return { type: 'githubStatus', ...options };
}

export interface GithubStatusDeps {
  log: Logger;
  /** Another client (a fake in unit tests); default: Octokit against `baseUrl`. */
  api?: GithubApi;
}

/** The outbox rows' name: `name`, else `githubStatus` (and the host, for GitHub Enterprise). */
export function githubStatusName(config: GithubStatusConfig): string {
  return config.name ?? (config.baseUrl ? `githubStatus:${new URL(config.baseUrl).host}` : 'githubStatus');
}

/** The reporter factory: what the reporter registry calls with a parsed config. */
export function createGithubStatus(config: GithubStatusConfig, deps: GithubStatusDeps): Reporter {
  return new GithubStatusReporter(config, deps);
}

const DEFAULT_API = 'https://api.github.com';
export const MAX_DESCRIPTION = 140;
/** How many (commit, context) pairs the reporter remembers the newest posted build of. */
const REMEMBERED = 10_000;

/** owner/repo of a GitHub repository URL (https, http, ssh://, git://, scp-like `git@host:o/r.git`) on `host`; null otherwise. */
export function githubRepo(url: string, host: string): RepoRef | null {
  let urlHost: string;
  let path: string;
  const scp = /^[\w.-]+@([^:/]+):(?!\/)(.+)$/.exec(url);
  if (scp?.[1] && scp[2]) [urlHost, path] = [scp[1], scp[2]];
  else {
    if (!URL.canParse(url)) return null;
    const u = new URL(url);
    if (!['https:', 'http:', 'ssh:', 'git:', 'git+ssh:'].includes(u.protocol)) return null;
    [urlHost, path] = [u.hostname, u.pathname];
  }
  if (urlHost.toLowerCase() !== host.toLowerCase()) return null;
  const m = /^\/?([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(\.git)?\/?$/.exec(path);
  return m?.[1] && m[2] ? { owner: m[1], repo: m[2] } : null;
}

/** The build id at the end of a build page's URL (`…/builds/ID`), or null. */
export function buildIdOfUrl(url: string | null): number | null {
  const m = url ? /\/builds\/(\d+)\/?$/.exec(url) : null;
  return m?.[1] ? Number(m[1]) : null;
}

/** The commit state and the words for a build's result (null: still running). */
export function stateOf(results: Result | null): { state: CommitState; words: string } {
  if (results === null) return { state: 'pending', words: 'started' };
  switch (results) {
    case Results.SUCCESS:
      return { state: 'success', words: 'succeeded' };
    case Results.WARNINGS:
      return { state: 'success', words: 'succeeded with warnings' };
    case Results.FAILURE:
      return { state: 'failure', words: 'failed' };
    case Results.SKIPPED:
      return { state: 'success', words: 'was skipped' };
    case Results.EXCEPTION:
      return { state: 'error', words: 'ended in an exception' };
    case Results.CANCELLED:
      return { state: 'error', words: 'was cancelled' };
    case Results.RETRY:
      return { state: 'pending', words: 'will be retried' };
    default: {
      const never: never = results;
      throw new Error(`unknown result ${String(never)}`);
    }
  }
}

/** "Build #12 failed: bundle_size +12.3 % vs main", at most 140 characters. */
export function describeBuild(report: {
  event: BuildReport['event'];
  build: Pick<BuildReport['build'], 'number' | 'results'>;
  metrics: BuildReport['metrics'];
}): string {
  const { words } = stateOf(report.build.results);
  let text = `Build #${report.build.number} ${words}`;
  const worst = report.event === 'build.finished' ? worstRegression(report.metrics) : null;
  if (worst) text += `: ${worst.series} ${formatPercent(worst.deltaPercent)} vs ${worst.baselineBranch ?? 'baseline'}`;
  return text.length <= MAX_DESCRIPTION ? text : `${text.slice(0, MAX_DESCRIPTION - 1)}…`;
}

class GithubStatusReporter implements Reporter {
  readonly name: string;
  readonly secrets: string[];
  private readonly api: GithubApi;
  private readonly host: string;
  private readonly lock = new KeyedLock();
  /** (repo, sha, context) → the newest build whose status this reporter posted; insertion-ordered, trimmed oldest first. */
  private readonly posted = new Map<string, number>();

  constructor(
    private readonly config: GithubStatusConfig,
    private readonly deps: GithubStatusDeps,
  ) {
    const apiHost = new URL(config.baseUrl ?? DEFAULT_API).hostname;
    this.host = config.host ?? (apiHost === 'api.github.com' ? 'github.com' : apiHost);
    this.name = githubStatusName(config);
    this.secrets = [config.token];
    this.api =
      deps.api ??
      octokitGithubApi({
        token: config.token,
        baseUrl: config.baseUrl ?? DEFAULT_API,
        id: this.name,
        log: deps.log,
        maxRateLimitWaitSeconds: config.maxRateLimitWaitSeconds,
        callTimeoutMs: config.timeoutMs,
      });
  }

  wants(report: BuildReport): boolean {
    if (report.event === 'step.finished') return false;
    if (report.event === 'build.regressed' && !this.config.regressions) return false;
    if (this.config.builders && !this.config.builders.includes(report.build.builder)) return false;
    return this.target(report) !== null;
  }

  async deliver({ report }: Delivery): Promise<void> {
    const target = this.target(report);
    if (!target) return;
    const { repo, sha } = target;
    const context = this.config.context ?? `caliper/${report.build.builder}`;
    if (report.event === 'build.regressed') return this.deliverRegressions(report, repo, sha, context);
    const key = JSON.stringify([repo.owner.toLowerCase(), repo.repo.toLowerCase(), sha, context]);
    await this.lock.run(key, async () => {
      const newest = await this.newestPosted(key, repo, sha, context);
      if (newest !== null && newest > report.build.buildid) {
        this.deps.log.info('github status left: a newer build already reported on this commit', {
          repo: `${repo.owner}/${repo.repo}`,
          sha,
          context,
          buildid: report.build.buildid,
          newer: newest,
        });
        return;
      }
      const { state } = stateOf(report.build.results);
      await this.api.createStatus(repo, sha, { state, target_url: report.build.url, description: describeBuild(report), context });
      this.remember(key, report.build.buildid);
    });
    const pr = report.source.pullRequest;
    if (this.config.githubComment && report.event === 'build.finished' && pr) {
      const prKey = JSON.stringify([repo.owner.toLowerCase(), repo.repo.toLowerCase(), pr.number, report.build.builder]);
      const outcome = await this.lock.run(prKey, () => upsertComment(this.api, repo, pr.number, report));
      if (outcome === 'kept-newer')
        this.deps.log.info('github comment left: it shows a newer build', { pr: pr.number, buildid: report.build.buildid });
    }
  }

  /** One status (and, on a pull request with githubComment, one comment) naming every series that regressed. */
  private async deliverRegressions(report: BuildReport, repo: RepoRef, sha: string, context: string): Promise<void> {
    const items = report.regressions ?? [];
    if (items.length === 0) return;
    await this.api.createStatus(repo, sha, {
      state: 'failure',
      target_url: report.build.url,
      description: regressionSummary(items, MAX_DESCRIPTION),
      context: `${context}/regressions`,
    });
    const pr = report.source.pullRequest;
    if (!this.config.githubComment || !pr) return;
    const marker = regressionMarker(report.build.builder, report.build.buildid);
    // One comment per build: a retried delivery finds the one it wrote and edits it.
    const existing = (await this.api.listComments(repo, pr.number)).find((c) => c.body.includes(marker));
    const body = regressionMarkdown(report);
    if (existing) await this.api.updateComment(repo, existing.id, body);
    else await this.api.createComment(repo, pr.number, body);
  }

  /** A comment on the pull request the commit came from (nothing when it came from none, or not from GitHub). */
  async notifyAuthor(notice: AuthorNotice): Promise<void> {
    const repo = githubRepo(notice.repository, this.host);
    if (notice.pullRequest === null || !repo) return;
    await this.api.createComment(repo, notice.pullRequest, notice.text);
  }

  private target(report: BuildReport): { repo: RepoRef; sha: string } | null {
    const { repository, revision } = report.source;
    if (!repository || !revision || !/^([0-9a-f]{40}|[0-9a-f]{64})$/i.test(revision)) return null;
    const repo = githubRepo(repository, this.host);
    return repo ? { repo, sha: revision.toLowerCase() } : null;
  }

  /** The newest build known to have a status in this context on the commit: GitHub's word, and ours. */
  private async newestPosted(key: string, repo: RepoRef, sha: string, context: string): Promise<number | null> {
    const latest = (await this.api.listStatuses(repo, sha)).find((s) => s.context === context);
    const onGithub = latest ? buildIdOfUrl(latest.target_url) : null;
    const ours = this.posted.get(key) ?? null;
    return onGithub === null ? ours : ours === null ? onGithub : Math.max(onGithub, ours);
  }

  private remember(key: string, buildid: number): void {
    const newest = Math.max(buildid, this.posted.get(key) ?? 0);
    this.posted.delete(key); // re-inserted: the map's order is the order of use
    this.posted.set(key, newest);
    if (this.posted.size > REMEMBERED) {
      const oldest = this.posted.keys().next();
      if (!oldest.done) this.posted.delete(oldest.value);
    }
  }
}
