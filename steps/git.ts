import path from 'node:path';
import { z } from 'zod';
import { Results } from '../core/results.ts';
import { pullRequestHeadRef, pullRequestNumber, pullRequestOfBranch, refName, repositoryUrl, revisionId } from './git-refs.ts';
import { isSafeRelativePath } from '../protocol/safe-path.ts';
import { isInterpolate, render, type Renderable } from './properties/interpolate.ts';
import type { CommandResult, StepContext } from './step-context.ts';
import { commandOutcome, DEFAULT_TIMEOUT_S } from './shell-command.ts';
import { commonStepShape, FLUNKING_FLAGS, Step, type CommonStepOptions, type StepOutcome } from './step.ts';

/** How `mode: 'full'` gets to a clean tree (Buildbot's methods). */
export type GitMethod = 'clean' | 'fresh' | 'clobber' | 'copy';

/** `git describe`'s options, as Buildbot's `getDescription` names them. */
export interface GitDescribeOptions {
  all?: boolean;
  always?: boolean;
  contains?: boolean;
  debug?: boolean;
  long?: boolean;
  'exact-match'?: boolean;
  tags?: boolean;
  match?: string;
  abbrev?: number;
  candidates?: number;
  /** `true` or `''`: `--dirty`; a string: `--dirty=<mark>`. */
  dirty?: boolean | string;
}

export interface GitOptions extends Omit<CommonStepOptions, 'name'> {
  /** Default `git`. */
  name?: string;
  /**
   * What `git fetch` on the agent accepts: a URL, `user@host:path` or a path on the agent; or an
   * `interpolate(...)` / function of the properties, rendered when the step runs.
   */
  repourl: Renderable<string>;
  /** Branch to build when the build has no `branch` property for this repository (default: the remote's HEAD). */
  branch?: string;
  /**
   * `incremental` (default): keep the working tree between builds, update it to the revision.
   * `full`: as after a fresh clone, the way `method` says.
   */
  mode?: 'incremental' | 'full';
  /** For `mode: 'full'` only (default `fresh`). */
  method?: GitMethod;
  /** Also check out the submodules, recursively. */
  submodules?: boolean;
  /**
   * Fetch only the branch's newest commit (`--depth 1`). A build that asks for a given revision
   * fetches the whole history instead (`--unshallow` when an earlier build left the clone shallow).
   */
  shallow?: boolean;
  /** Build the branch's newest commit even when the build names a revision. */
  alwaysUseLatest?: boolean;
  /** Set the property `commit-description` from `git describe` (with these options). */
  getDescription?: boolean | GitDescribeOptions;
  /** git configuration for every git command (`git -c name=value`), as Buildbot's `config`. */
  config?: Record<string, string>;
  /** Relative to the builder's directory on the agent. Default `build`, where ShellCommand runs. */
  workdir?: string;
  /** Seconds without output before a git command is killed (default 1200). */
  timeout?: number | null;
  env?: Record<string, string>;
}

/** `section.name` or `section.subsection.name`, as `git -c` takes it. */
const GIT_CONFIG_NAME = /^[A-Za-z][A-Za-z0-9-]*\.[^=\n\0]+$/;

/** A workdir as one spelling: `./` and `.` alike, `build/` as `build`. */
function normalizedDir(workdir: string): string {
  return path.posix.normalize(workdir).replace(/(.)\/+$/, '$1');
}

/** Where `method: 'copy'` keeps its repository, beside the workdir in the builder's directory (Buildbot's). */
const COPY_SOURCE_DIR = 'source';

/** A workdir the copy would remove `source` with (`.`), or that lies in it. */
function overlapsCopySource(workdir: string): boolean {
  return workdir === '.' || workdir === COPY_SOURCE_DIR || workdir.startsWith(`${COPY_SOURCE_DIR}/`);
}

const describeShape = z.strictObject({
  all: z.boolean().optional(),
  always: z.boolean().optional(),
  contains: z.boolean().optional(),
  debug: z.boolean().optional(),
  long: z.boolean().optional(),
  'exact-match': z.boolean().optional(),
  tags: z.boolean().optional(),
  match: z.string().min(1).optional(),
  abbrev: z.number().int().min(0).optional(),
  candidates: z.number().int().min(0).optional(),
  dirty: z.union([z.boolean(), z.string()]).optional(),
});

const DESCRIBE_FLAGS: readonly ('all' | 'always' | 'contains' | 'debug' | 'long' | 'exact-match' | 'tags')[] = [
  'all',
  'always',
  'contains',
  'debug',
  'long',
  'exact-match',
  'tags',
];

/** `git describe`'s arguments for a `getDescription` (Buildbot's: `--dirty` takes no commit). */
function describeArgs(d: true | GitDescribeOptions): string[] {
  const o: GitDescribeOptions = d === true ? {} : d;
  const args = ['describe'];
  for (const flag of DESCRIBE_FLAGS) if (o[flag] === true) args.push(`--${flag}`);
  if (o.match !== undefined) args.push('--match', o.match);
  if (o.abbrev !== undefined) args.push(`--abbrev=${o.abbrev}`);
  if (o.candidates !== undefined) args.push(`--candidates=${o.candidates}`);
  if (o.dirty === true || o.dirty === '') args.push('--dirty');
  else if (typeof o.dirty === 'string') args.push(`--dirty=${o.dirty}`);
  else args.push('HEAD');
  return args;
}

/** The branch a `git ls-remote --symref <repo> HEAD` names (`ref: refs/heads/X<TAB>HEAD`), or null. */
export function remoteHeadBranch(lsRemote: string): string | null {
  const m = /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(lsRemote);
  const parsed = refName.safeParse(m?.[1]);
  return parsed.success ? parsed.data : null;
}

/** What to fetch and check out: a branch, a pull request's head, or the remote's HEAD (detached). */
type Source = { kind: 'branch'; branch: string } | { kind: 'pull'; pr: number } | { kind: 'remoteHead' };

/**
 * Checks a git repository out on the agent, as Buildbot's Git step: fetches the branch (by default
 * the remote's default branch, its HEAD) into the builder's `build` folder (a repository kept
 * between builds), checks out the build's `revision` (set by change schedulers) or the branch's
 * head, and sets `got_revision` to the commit it built. The `branch` and `revision` properties count
 * only when the build's `repository` property is this step's (rendered) `repourl` (or absent), so a
 * build of one repository never checks another out at its revision.
 *
 * A pull request's build (property `pr_number`, or branch `refs/pull/N/head` as GitHub's hook sets
 * it) fetches `refs/pull/N/head` from `repourl`, the base repository, which serves the head also
 * when it lives in a fork, and checks out its `revision` (the head commit) detached: there is no
 * branch of that name in the base repository to track.
 */
export class Git extends Step<GitOptions & { name: string }> {
  readonly schema: z.ZodType = z
    .strictObject({
      ...commonStepShape,
      repourl: z.union([
        repositoryUrl,
        z.custom((v) => isInterpolate(v) || typeof v === 'function', 'must be a string, interpolate(...) or a function'),
      ]),
      branch: refName.optional(),
      mode: z.enum(['incremental', 'full']).optional(),
      method: z.enum(['clean', 'fresh', 'clobber', 'copy']).optional(),
      submodules: z.boolean().optional(),
      shallow: z.boolean().optional(),
      alwaysUseLatest: z.boolean().optional(),
      getDescription: z.union([z.boolean(), describeShape]).optional(),
      config: z
        .record(z.string(), z.string().regex(/^[^\n\0]*$/, 'must be one line'))
        .superRefine((config, ctx) => {
          for (const name of Object.keys(config))
            if (!GIT_CONFIG_NAME.test(name))
              ctx.addIssue({ code: 'custom', path: [name], message: 'must be a git configuration name (section.name)' });
        })
        .optional(),
      workdir: z.string().refine(isSafeRelativePath, 'must be a relative path without ".."').optional(),
      timeout: z.number().positive().nullable().optional(),
      env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string()).optional(),
    })
    .refine((o) => o.method === undefined || o.mode === 'full', { path: ['method'], message: "only with mode: 'full'" })
    .refine((o) => o.method !== 'copy' || !overlapsCopySource(normalizedDir(o.workdir ?? 'build')), {
      path: ['workdir'],
      message: `method 'copy' keeps its repository in "${COPY_SOURCE_DIR}" and replaces the workdir with a copy: the workdir must be another folder`,
    });
  // A build without its sources has nothing to build: a failed checkout halts it.
  protected override readonly defaultFlags = { ...FLUNKING_FLAGS, haltOnFailure: true };

  constructor(options: GitOptions) {
    super({ name: 'git', ...options });
  }

  override providedProperties(): string[] {
    const description = this.options.getDescription === undefined || this.options.getDescription === false ? [] : ['commit-description'];
    return ['got_revision', 'got_repository', ...description];
  }

  /** `mode: 'full'` without a method is `fresh`, as in Buildbot; `incremental` has none. */
  private get method(): GitMethod | null {
    return this.options.mode === 'full' ? (this.options.method ?? 'fresh') : null;
  }

  async run(ctx: StepContext): Promise<StepOutcome> {
    const o = this.options;
    const rendered = String(await render(o.repourl, ctx.properties));
    const repourl = repositoryUrl.safeParse(rendered);
    // The rule a literal repourl meets at config check time holds for a rendered one too.
    if (!repourl.success)
      return {
        result: Results.FAILURE,
        stateString: `repourl ${JSON.stringify(rendered)}: ${repourl.error.issues[0]?.message ?? 'invalid'}`,
      };
    const url = repourl.data;
    const target = this.target(ctx, url);
    if ('error' in target) return { result: Results.FAILURE, stateString: target.error };
    const { revision } = target;
    const method = this.method;
    const workdir = o.workdir ?? 'build';
    const repoDir = method === 'copy' ? COPY_SOURCE_DIR : workdir;
    const gitConfig = Object.entries(o.config ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
    const exec = (command: string[], dir: string, collectStdout = false) =>
      ctx.runCommand({
        command,
        workdir: dir,
        env: { GIT_TERMINAL_PROMPT: '0', ...o.env },
        timeout: o.timeout === undefined ? DEFAULT_TIMEOUT_S : o.timeout,
        maxTime: null,
        collectStdout,
      });
    const git = (args: string[], collectStdout = false) => exec(['git', ...gitConfig, ...args], repoDir, collectStdout);
    /** Runs each command in turn; the outcome of the first that fails, else null. */
    const sequence = async (commands: [string, () => Promise<CommandResult>][]): Promise<StepOutcome | null> => {
      for (const [what, command] of commands) {
        const failed = this.failed(await command(), what);
        if (failed) return failed;
      }
      return null;
    };

    // clobber: nothing of the last build survives, not even the repository (then it is cloned anew).
    const emptied = method === 'clobber' ? await sequence([['empty workdir', () => exec(emptyFolder, workdir)]]) : null;
    if (emptied) return emptied;
    // `init` in an existing repository only re-initialises it; in a folder with files, it keeps them.
    const init = await sequence([['git init', () => git(['init', '--quiet'])]]);
    if (init) return init;
    const source = await this.source(target, url, git);
    if ('result' in source) return source;
    let depth: string[] = [];
    if (o.shallow === true && revision === null) depth = ['--depth', '1'];
    else if (o.shallow === true) {
      // A build of a given revision needs the history an earlier shallow fetch left out.
      const probe = await git(['rev-parse', '--is-shallow-repository'], true);
      if (probe.exitCode === 0 && probe.stdout.trim() === 'true') depth = ['--unshallow'];
    }
    const [ref, tracking] = refsOf(source);
    const checkout = source.kind === 'branch' ? ['-B', source.branch] : ['--detach'];
    // `git describe` needs the tags: fetched only when asked for, as they can be many; `--force` so
    // that a tag moved on the remote is updated instead of failing the fetch.
    const tags = o.getDescription === undefined || o.getDescription === false ? ['--no-tags'] : ['--tags', '--force'];
    const commands: [string, () => Promise<CommandResult>][] = [
      ['git fetch', () => git(['fetch', ...tags, ...depth, '--', url, `+${ref}:${tracking}`])],
      ['git checkout', () => git(['checkout', '--force', ...checkout, revision ?? tracking])],
    ];
    // clean keeps ignored files (a build's caches); fresh removes them too, as after a clone.
    const cleanArgs = method === 'clean' ? ['clean', '-f', '-f', '-d'] : method === 'fresh' ? ['clean', '-f', '-f', '-d', '-x'] : null;
    if (cleanArgs) commands.push(['git clean', () => git(cleanArgs)]);
    if (o.submodules === true) {
      commands.push(
        ['git submodule sync', () => git(['submodule', 'sync', '--recursive'])],
        ['git submodule update', () => git(['submodule', 'update', '--init', '--recursive', '--force'])],
      );
      if (cleanArgs) commands.push(['git submodule clean', () => git(['submodule', 'foreach', '--recursive', 'git', ...cleanArgs])]);
    }
    if (method === 'copy') {
      // The pristine repository stays in `source`; the workdir becomes a copy of it, .git included.
      const parent = path.posix.dirname(normalizedDir(workdir));
      const relSource = path.posix.relative(parent, COPY_SOURCE_DIR);
      const name = path.posix.basename(normalizedDir(workdir));
      commands.push(
        ['remove workdir', () => exec(['rm', '-rf', '--', name], parent)],
        ['copy source', () => exec(['cp', '-a', '--', relSource, name], parent)],
      );
    }
    const failed = await sequence(commands);
    if (failed) return failed;
    const head = await git(['rev-parse', 'HEAD'], true);
    const headFailed = this.failed(head, 'git rev-parse');
    if (headFailed) return headFailed;
    const got = head.stdout.trim();
    // got_repository says which repository got_revision belongs to (a Trigger step passes both on).
    ctx.properties.setAll({ got_revision: got, got_repository: url }, this.name);
    if (o.getDescription !== undefined && o.getDescription !== false) {
      const described = await git(describeArgs(o.getDescription), true);
      const outcome = commandOutcome(described, o);
      // A commit git cannot describe (no tag) is no failure, as in Buildbot; a lost agent or a stop is.
      if (outcome.result === Results.RETRY || outcome.result === Results.CANCELLED) return outcome;
      if (outcome.result === Results.SUCCESS) ctx.properties.setAll({ 'commit-description': described.stdout.trim() }, this.name);
    }
    const what = source.kind === 'branch' ? source.branch : source.kind === 'pull' ? `pull request #${source.pr}` : 'HEAD';
    return { result: Results.SUCCESS, stateString: `${what} at ${got.slice(0, 12)}` };
  }

  /**
   * What to fetch: the pull request, the branch, or without either the remote's default branch,
   * asked of the remote (`ls-remote --symref`); a remote that names none has its HEAD fetched.
   */
  private async source(
    target: { branch: string | null; pullRequest: number | null },
    url: string,
    git: (args: string[], collectStdout?: boolean) => Promise<CommandResult>,
  ): Promise<Source | StepOutcome> {
    if (target.pullRequest !== null) return { kind: 'pull', pr: target.pullRequest };
    if (target.branch !== null) return { kind: 'branch', branch: target.branch };
    const r = await git(['ls-remote', '--symref', '--', url, 'HEAD'], true);
    const failed = this.failed(r, 'git ls-remote');
    if (failed) return failed;
    const branch = remoteHeadBranch(r.stdout);
    return branch === null ? { kind: 'remoteHead' } : { kind: 'branch', branch };
  }

  /**
   * The branch (or pull request) and revision to build: the build's properties for this repository,
   * else the step's branch (null: the remote's default branch).
   */
  private target(
    ctx: StepContext,
    repourl: string,
  ): { branch: string | null; revision: string | null; pullRequest: number | null } | { error: string } {
    const p = ctx.properties;
    const repository = p.get('repository');
    const ours = repository === undefined || repository === null || repository === '' || repository === repourl;
    const fromProps = (name: string) => {
      const v = ours ? p.get(name) : undefined;
      return v === undefined || v === null || v === '' ? null : v;
    };
    const branch = fromProps('branch') ?? this.options.branch ?? null;
    const validBranch = branch === null ? null : refName.safeParse(branch);
    if (validBranch !== null && !validBranch.success)
      return { error: `property branch: ${JSON.stringify(branch)} is not a valid git branch name` };
    const branchName = validBranch === null ? null : validBranch.data;
    const prProperty = fromProps('pr_number');
    const pullRequest = prProperty !== null ? pullRequestNumber(prProperty) : branchName === null ? null : pullRequestOfBranch(branchName);
    if (prProperty !== null && pullRequest === null)
      return { error: `property pr_number: ${JSON.stringify(prProperty)} is not a pull request number` };
    const revision = this.options.alwaysUseLatest ? null : fromProps('revision');
    if (revision === null) return { branch: branchName, revision: null, pullRequest };
    const validRevision = revisionId.safeParse(revision);
    if (!validRevision.success) return { error: `property revision: ${JSON.stringify(revision)} is not a valid revision` };
    return { branch: branchName, revision: validRevision.data, pullRequest };
  }

  private failed(r: CommandResult, what: string): StepOutcome | null {
    const outcome = commandOutcome(r, this.options);
    if (outcome.result === Results.SUCCESS) return null;
    return { ...outcome, stateString: `${what} failed: ${outcome.stateString ?? ''}` };
  }
}

/** Removes everything in the command's folder, dotfiles too, but not the folder. */
const emptyFolder = ['find', '.', '-mindepth', '1', '-maxdepth', '1', '-exec', 'rm', '-rf', '--', '{}', '+'];

/** The remote ref to fetch and the local ref that keeps it. */
function refsOf(source: Source): [string, string] {
  switch (source.kind) {
    case 'branch':
      return [`refs/heads/${source.branch}`, `refs/remotes/caliper/${source.branch}`];
    case 'pull':
      return [pullRequestHeadRef(source.pr), `refs/remotes/caliper/pull/${source.pr}/head`];
    case 'remoteHead':
      return ['HEAD', 'refs/remotes/caliper/HEAD'];
  }
}
