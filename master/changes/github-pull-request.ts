/**
 * GitHub's `pull_request` event turned into a change, as Buildbot's GitHub hook does
 * (`handle_pull_request`), with one difference: we build the pull request's head, not GitHub's
 * trial merge, so the change's branch is `refs/pull/N/head` (Buildbot: `refs/pull/N/merge`).
 *
 * - `branch` is that ref, never the head or base branch: a singleBranchScheduler on `main` must not
 *   build pull requests as if they were pushes to main, pull requests from two forks with the same
 *   head branch name must not share a tree-stable timer, and the Git step fetches that ref, which
 *   GitHub serves from the base repository also when the head lives in a fork.
 * - `repository` is the base repository (the URL kind `repositoryUrl` names), so the Git step whose
 *   `repourl` is the base repository builds it; `head_repository` is the head's, in the same kind,
 *   so that it differs exactly when the pull request comes from a fork (null: the fork was deleted).
 * - Filters on the branch a pull request goes into read the `base_branch` property.
 * - Drafts: opened/reopened/synchronize of a draft are ignored unless `buildDrafts`; the
 *   `ready_for_review` action builds it. Closed (merged or not) pull requests are never built.
 */
import { z } from 'zod';
import type { ChangeInput } from './change.ts';

/** The actions `web.changeHooks.github.pullRequestActions` may list (`closed` is never built). */
export const PULL_REQUEST_ACTIONS = [
  'opened',
  'synchronize',
  'reopened',
  'ready_for_review',
  'edited',
  'labeled',
  'unlabeled',
  'assigned',
  'unassigned',
  'review_requested',
  'review_request_removed',
  'converted_to_draft',
] as const;
export type PullRequestAction = (typeof PULL_REQUEST_ACTIONS)[number];

export interface PullRequestHookConfig {
  repositoryUrl: 'clone_url' | 'ssh_url' | 'html_url';
  pullRequestActions: readonly PullRequestAction[];
  buildDrafts: boolean;
}

const repository = z.object({ full_name: z.string(), clone_url: z.string(), ssh_url: z.string(), html_url: z.string() });
export const pullRequestEvent = z.object({
  action: z.string(),
  number: z.number().int().positive(),
  repository,
  sender: z.object({ login: z.string() }).nullish(),
  pull_request: z.object({
    html_url: z.string(),
    title: z.string(),
    body: z.string().nullish(),
    state: z.string(),
    draft: z.boolean().default(false),
    updated_at: z.string().nullish(),
    commits: z.number().int().nullish(),
    user: z.object({ login: z.string() }).nullish(),
    head: z.object({ ref: z.string(), sha: z.string(), repo: repository.nullable() }),
    base: z.object({ ref: z.string(), sha: z.string() }),
  }),
});
export type PullRequestEvent = z.output<typeof pullRequestEvent>;

function isConfiguredAction(action: string, config: PullRequestHookConfig): action is PullRequestAction {
  return config.pullRequestActions.some((a) => a === action);
}

/** The change a pull request event makes, or why it makes none (answered 200 with `ignored`). */
export function pullRequestChange(event: PullRequestEvent, config: PullRequestHookConfig): { change: unknown } | { ignored: string } {
  const { action, number } = event;
  const pr = event.pull_request;
  if (pr.state === 'closed' || action === 'closed') return { ignored: `pull request #${number} is closed` };
  if (!isConfiguredAction(action, config)) {
    return { ignored: `pull_request action "${action}" is not built (web.changeHooks.github.pullRequestActions)` };
  }
  if (pr.draft && action !== 'ready_for_review' && !config.buildDrafts) {
    return { ignored: `pull request #${number} is a draft (set web.changeHooks.github.buildDrafts to build drafts)` };
  }
  const commits = pr.commits ?? null;
  const summary = `GitHub Pull Request #${number}${commits === null ? '' : ` (${commits} commit${commits === 1 ? '' : 's'})`}`;
  const updated = pr.updated_at ? Date.parse(pr.updated_at) : Number.NaN;
  const change = {
    repository: event.repository[config.repositoryUrl],
    branch: `refs/pull/${number}/head`,
    revision: pr.head.sha,
    author: (event.sender?.login ?? pr.user?.login ?? '').slice(0, 500),
    comments: [summary, pr.title, pr.body ?? ''].join('\n').trim().slice(0, 100_000),
    files: [],
    project: event.repository.full_name.slice(0, 200),
    category: 'pull',
    ...(Number.isNaN(updated) ? {} : { when_timestamp: updated / 1000 }),
    properties: {
      pr_number: number,
      pr_title: pr.title.slice(0, 1000),
      pr_url: pr.html_url,
      base_branch: pr.base.ref,
      head_branch: pr.head.ref,
      head_repository: pr.head.repo ? pr.head.repo[config.repositoryUrl] : null,
      head_sha: pr.head.sha,
    },
  } satisfies Omit<ChangeInput, 'properties'> & { properties: object };
  return { change };
}
