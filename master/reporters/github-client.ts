/**
 * The few GitHub REST calls the GitHub reporters make, behind a narrow interface (`GithubApi`), on
 * @octokit/core with its retry and throttling plugins:
 * - 5xx and network errors are retried by plugin-retry (3 times, 1 s, 4 s, 9 s apart);
 * - a rate limit (403/429 with `x-ratelimit-remaining: 0`, or a secondary limit) is waited out by
 *   plugin-throttling until the reset, when that is at most `maxRateLimitWaitSeconds` away and for
 *   at most 3 times; beyond, the call throws and the outbox retries the delivery later with its own
 *   backoff. A delivery never waits longer than `callTimeoutMs`, so a reporter stuck on GitHub holds
 *   up nobody for long (and never a build: reporters run off the build's path);
 * - writes are spaced (plugin-throttling's write group, per reporter) as GitHub asks of integrations.
 * Errors leave as `GithubHttpError` (status kept) with the token masked out of every message.
 */
import { Octokit } from '@octokit/core';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/error-message.ts';
import { isRecord } from '../../core/is-record.ts';
import { PermanentDeliveryError } from './reporter.ts';

export interface RepoRef {
  owner: string;
  repo: string;
}
export type CommitState = 'error' | 'failure' | 'pending' | 'success';
export interface StatusBody {
  state: CommitState;
  target_url: string;
  description: string;
  context: string;
}
export interface KnownStatus {
  context: string;
  state: string;
  target_url: string | null;
}
export interface IssueComment {
  id: number;
  body: string;
}

/** What the reporters ask of GitHub; tests may hand a fake, the real one is `octokitGithubApi`. */
export interface GithubApi {
  createStatus(repo: RepoRef, sha: string, body: StatusBody): Promise<void>;
  /** The ref's statuses, newest first (the first page of 100: the latest per context is among them in practice). */
  listStatuses(repo: RepoRef, sha: string): Promise<KnownStatus[]>;
  /** All comments of an issue or pull request, oldest first (bounded: `MAX_COMMENT_PAGES` pages of 100). */
  listComments(repo: RepoRef, issue: number): Promise<IssueComment[]>;
  createComment(repo: RepoRef, issue: number, body: string): Promise<void>;
  updateComment(repo: RepoRef, commentId: number, body: string): Promise<void>;
}

export interface GithubClientOptions {
  token: string;
  /** API root: https://api.github.com, or GitHub Enterprise's https://HOST/api/v3. */
  baseUrl: string;
  /** Keys the write spacing, so two reporters do not queue behind each other. */
  id: string;
  log: Logger;
  maxRateLimitWaitSeconds: number;
  callTimeoutMs: number;
  /** Delay unit of the retry and rate-limit waits (ms; 1000 in production, smaller in tests). */
  retryAfterBaseValue?: number;
}

export const MAX_COMMENT_PAGES = 10;
const MAX_LIMIT_RETRIES = 3;
/** Answers that retrying cannot change: a bad request, a repository or PR that does not exist, a body GitHub refuses. */
const PERMANENT = new Set([400, 404, 410, 422]);

export class GithubHttpError extends Error {
  override readonly name = 'GithubHttpError';
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

const GithubOctokit = Octokit.plugin(retry, throttling);

export function octokitGithubApi(o: GithubClientOptions): GithubApi {
  const mask = (text: string): string => (o.token ? text.split(o.token).join('***') : text);
  const logged =
    (level: 'warn' | 'error') =>
    (message: string): void =>
      o.log[level](`github: ${mask(message)}`);
  const onLimit = (what: string) => (retryAfter: number, options: { method: string; url: string }, _o: unknown, retryCount: number) => {
    const wait = retryAfter <= o.maxRateLimitWaitSeconds && retryCount < MAX_LIMIT_RETRIES;
    o.log.warn(`github: ${what} on ${options.method} ${options.url}: ${wait ? `retrying in ${retryAfter} s` : 'leaving it to the outbox'}`);
    return wait;
  };
  const octokit = new GithubOctokit({
    auth: o.token,
    baseUrl: o.baseUrl.replace(/\/+$/, ''),
    userAgent: 'caliper-reporter',
    log: { debug: () => {}, info: () => {}, warn: logged('warn'), error: logged('error') },
    retry: { retryAfterBaseValue: o.retryAfterBaseValue ?? 1000 },
    throttle: {
      id: o.id,
      retryAfterBaseValue: o.retryAfterBaseValue ?? 1000,
      onRateLimit: onLimit('rate limit'),
      onSecondaryRateLimit: onLimit('secondary rate limit'),
    },
  });
  /** One call, its failure turned into a masked, typed error (permanent when retrying cannot help). */
  const call = async <T>(what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    try {
      return await run(AbortSignal.timeout(o.callTimeoutMs));
    } catch (e) {
      const status = httpStatus(e);
      const message = `GitHub ${what}: ${status === null ? '' : `HTTP ${status}: `}${mask(errorMessage(e))}`;
      if (status !== null && PERMANENT.has(status)) throw new PermanentDeliveryError(message);
      throw new GithubHttpError(message, status);
    }
  };
  return {
    createStatus: (r, sha, body) =>
      call('create a commit status', async (signal) => {
        await octokit.request('POST /repos/{owner}/{repo}/statuses/{sha}', { ...r, sha, ...body, request: { signal } });
      }),
    listStatuses: (r, sha) =>
      call('list commit statuses', async (signal) => {
        const res = await octokit.request('GET /repos/{owner}/{repo}/commits/{ref}/statuses', {
          ...r,
          ref: sha,
          per_page: 100,
          request: { signal },
        });
        return res.data.map((s) => ({ context: s.context, state: s.state, target_url: s.target_url }));
      }),
    listComments: (r, issue) =>
      call('list comments', async (signal) => {
        const out: IssueComment[] = [];
        for (let page = 1; page <= MAX_COMMENT_PAGES; page++) {
          const res = await octokit.request('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
            ...r,
            issue_number: issue,
            per_page: 100,
            page,
            request: { signal },
          });
          out.push(...res.data.map((c) => ({ id: Number(c.id), body: c.body ?? '' })));
          if (res.data.length < 100) break;
        }
        return out;
      }),
    createComment: (r, issue, body) =>
      call('create a comment', async (signal) => {
        await octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
          ...r,
          issue_number: issue,
          body,
          request: { signal },
        });
      }),
    updateComment: (r, commentId, body) =>
      call('update a comment', async (signal) => {
        await octokit.request('PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}', {
          ...r,
          comment_id: commentId,
          body,
          request: { signal },
        });
      }),
  };
}

/** The HTTP status of an Octokit RequestError (any error with a numeric `status`); null for network errors. */
function httpStatus(e: unknown): number | null {
  return isRecord(e) && typeof e.status === 'number' ? e.status : null;
}
