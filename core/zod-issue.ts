import type { z } from 'zod';
import { formatPath } from './format-path.ts';

/** One readable message per zod issue, with the keys of unknown or invalid record keys named. */
export function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_key') {
    const key = issue.path[issue.path.length - 1];
    return `key "${String(key)}" ${issue.issues[0]?.message ?? 'is not allowed'}`;
  }
  return issue.message;
}

/** `path: message` pairs for every issue, paths written as in the user's code. */
export function describeIssues(error: z.ZodError, prefix: PropertyKey[] = []): { path: string; message: string }[] {
  return error.issues.map((issue) => {
    // An invalid record key is reported at the record, not at the key that does not exist.
    const path = issue.code === 'invalid_key' ? issue.path.slice(0, -1) : issue.path;
    return { path: formatPath([...prefix, ...path]), message: issueMessage(issue) };
  });
}
