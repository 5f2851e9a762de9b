/**
 * A change: something that happened in a repository (a commit, usually). Changes come from change
 * sources (gitPoller) or `POST /api/v2/changes`; change schedulers turn them into build requests.
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

export const changeInputSchema = z.strictObject({
  repository: z.string().min(1).max(500),
  branch: refName.nullable().optional(),
  revision: revisionId,
  author: z.string().max(500).default(''),
  comments: z.string().max(100_000).default(''),
  files: z.array(z.string().max(1000)).max(10_000).default([]),
  project: z.string().max(200).default(''),
  category: z.string().max(200).nullable().optional(),
  /** When the change was made, epoch seconds (as the API shows times); default: when it was received. */
  when_timestamp: z.number().min(0).max(1e11).optional(),
});
export type ChangeInput = z.output<typeof changeInputSchema>;
