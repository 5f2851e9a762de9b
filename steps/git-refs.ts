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
