/** Change sources: what watches repositories for new commits. */
import { z } from 'zod';
import { refName, repositoryUrl } from '../../steps/git-refs.ts';

export interface GitPollerConfig {
  type: 'gitPoller';
  /** Names the poller (in logs and its state folder); default derived from `repourl`. */
  name?: string;
  /** What `git fetch` accepts: a URL, `user@host:path` or a local path. Changes carry it as `repository`. */
  repourl: string;
  /** Branches to watch (default `['main']`), or `true` for every branch. */
  branches?: string[] | true;
  /** Seconds between polls (default 60). */
  pollInterval?: number;
  /** Set on the changes (default ''). */
  project?: string;
  /** The poller's bare clone, relative to the master's folder (default `.caliper/gitpoller/<name>`). */
  workdir?: string;
}

export const changeSourceSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('gitPoller'),
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." or "-" only')
      .max(100)
      .refine((v) => v !== '.' && v !== '..', 'cannot be "." or ".." (it names the poller\'s folder)')
      .optional(),
    repourl: repositoryUrl,
    branches: z.union([z.array(refName).min(1), z.literal(true)]).default(['main']),
    pollInterval: z.number().min(1).max(86_400).default(60),
    project: z.string().max(200).default(''),
    workdir: z.string().min(1).optional(),
  }),
]);
export type ParsedChangeSource = z.output<typeof changeSourceSchema>;

/** Polls a git repository for new commits on its branches (run by the master, with the `git` it finds on PATH). */
export function gitPoller(options: Omit<GitPollerConfig, 'type'>): GitPollerConfig {
  return { type: 'gitPoller', ...options };
}

/** The poller's name: `name`, or the last part of `repourl` without `.git` (`app` for `…/app.git`). */
export function pollerName(source: { name?: string | undefined; repourl: string }): string {
  if (source.name) return source.name;
  const base =
    source.repourl
      .replace(/\/+$/, '')
      .replace(/\.git$/, '')
      .split(/[/:]/)
      .pop() ?? '';
  return base.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '') || 'repository';
}
