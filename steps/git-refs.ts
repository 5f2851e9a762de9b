/**
 * What git accepts as a branch, a repository and a revision: one rule for the Git step, the git
 * poller, change sources and the changes API, none of which may be read by git as an option.
 */
import { z } from 'zod';

/** A branch or tag name git would accept, and that cannot be read as an option. */
export const refName = z
  .string()
  .min(1)
  .max(250)
  .refine(
    (v) => !v.startsWith('-') && !/[\s~^:?*[\\\x00-\x1f\x7f]|\.\.|@\{|\/\/|\/$|\.lock$|^\/|\.$/.test(v),
    'must be a valid git branch name',
  );
/** What `git fetch` accepts (a URL, `user@host:path`, a path); never read as an option. */
export const repositoryUrl = z
  .string()
  .min(1)
  .max(500)
  .refine((v) => !v.startsWith('-'), 'cannot start with "-"');
/** A commit id (hex) or another VCS's revision: no whitespace, cannot start with "-". */
export const revisionId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:+-]*$/, 'letters, digits, ".", "_", ":", "+" or "-", not starting with "-"');

/**
 * Where GitHub serves a pull request's head: a ref of the base repository, also when the head lives
 * in a fork (GitLab: `refs/merge-requests/N/head`, not handled here).
 */
export function pullRequestHeadRef(pr: number): string {
  return `refs/pull/${pr}/head`;
}

/** The pull request a branch such as `refs/pull/7/head` (GitHub's hook sets it) names, or null. */
export function pullRequestOfBranch(branch: string): number | null {
  const m = /^refs\/pull\/([1-9][0-9]{0,9})\/head$/.exec(branch);
  return m?.[1] === undefined ? null : Number(m[1]);
}

/** A `pr_number` property's value as a pull request number, or null (absent or not a positive integer). */
export function pullRequestNumber(value: unknown): number | null {
  const n = typeof value === 'string' && /^[1-9][0-9]{0,9}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : null;
}
