import { z } from 'zod';
import { Results } from '../core/results.ts';
import { pullRequestHeadRef, pullRequestNumber, pullRequestOfBranch, refName, repositoryUrl, revisionId } from './git-refs.ts';
import { isSafeRelativePath } from '../protocol/safe-path.ts';
import type { CommandResult, StepContext } from './step-context.ts';
import { commandOutcome, DEFAULT_TIMEOUT_S } from './shell-command.ts';
import { commonStepShape, FLUNKING_FLAGS, Step, type CommonStepOptions, type StepOutcome } from './step.ts';

export interface GitOptions extends Omit<CommonStepOptions, 'name'> {
  /** Default `git`. */
  name?: string;
  /** What `git fetch` on the agent accepts: a URL, `user@host:path` or a path on the agent. */
  repourl: string;
  /** Branch to build when the build has no `branch` property for this repository (default `main`). */
  branch?: string;
  /**
   * `incremental` (default): keep the working tree between builds, update it to the revision.
   * `full`: also remove every untracked and ignored file (`git clean -dffx`), as after a fresh clone.
   */
  mode?: 'incremental' | 'full';
  /**
   * Fetch only the branch's newest commit (`--depth 1`). A build that asks for a given revision
   * fetches the whole history instead (`--unshallow` when an earlier build left the clone shallow).
   */
  shallow?: boolean;
  /** Build the branch's newest commit even when the build names a revision. */
  alwaysUseLatest?: boolean;
  /** Relative to the builder's directory on the agent. Default `build`, where ShellCommand runs. */
  workdir?: string;
  /** Seconds without output before a git command is killed (default 1200). */
  timeout?: number | null;
  env?: Record<string, string>;
}

/**
 * Checks a git repository out on the agent, as Buildbot's Git step: fetches the branch into the
 * builder's `build` folder (a repository kept between builds), checks out the build's `revision`
 * (set by change schedulers) or the branch's head, and sets `got_revision` to the commit it built.
 * The `branch` and `revision` properties count only when the build's `repository` property is this
 * step's `repourl` (or absent), so a build of one repository never checks another out at its revision.
 *
 * A pull request's build (property `pr_number`, or branch `refs/pull/N/head` as GitHub's hook sets
 * it) fetches `refs/pull/N/head` from `repourl`, the base repository, which serves the head also
 * when it lives in a fork, and checks out its `revision` (the head commit) detached: there is no
 * branch of that name in the base repository to track.
 */
export class Git extends Step<GitOptions & { name: string }> {
  readonly schema: z.ZodType = z.strictObject({
    ...commonStepShape,
    repourl: repositoryUrl,
    branch: refName.optional(),
    mode: z.enum(['incremental', 'full']).optional(),
    shallow: z.boolean().optional(),
    alwaysUseLatest: z.boolean().optional(),
    workdir: z.string().refine(isSafeRelativePath, 'must be a relative path without ".."').optional(),
    timeout: z.number().positive().nullable().optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string()).optional(),
  });
  // A build without its sources has nothing to build: a failed checkout halts it.
  protected override readonly defaultFlags = { ...FLUNKING_FLAGS, haltOnFailure: true };

  constructor(options: GitOptions) {
    super({ name: 'git', ...options });
  }

  override providedProperties(): string[] {
    return ['got_revision', 'got_repository'];
  }

  async run(ctx: StepContext): Promise<StepOutcome> {
    const target = this.target(ctx);
    if ('error' in target) return { result: Results.FAILURE, stateString: target.error };
    const { branch, revision, pullRequest } = target;
    const o = this.options;
    const exec = (args: string[], collectStdout = false) =>
      ctx.runCommand({
        command: ['git', ...args],
        workdir: o.workdir ?? 'build',
        env: { GIT_TERMINAL_PROMPT: '0', ...o.env },
        timeout: o.timeout === undefined ? DEFAULT_TIMEOUT_S : o.timeout,
        maxTime: null,
        collectStdout,
      });
    const ref = pullRequest === null ? `refs/heads/${branch}` : pullRequestHeadRef(pullRequest);
    const tracking = pullRequest === null ? `refs/remotes/caliper/${branch}` : `refs/remotes/caliper/pull/${pullRequest}/head`;
    // `init` in an existing repository only re-initialises it; in a folder with files, it keeps them.
    const init = await exec(['init', '--quiet']);
    const initFailed = this.failed(init, 'git init');
    if (initFailed) return initFailed;
    let depth: string[] = [];
    if (o.shallow === true && revision === null) depth = ['--depth', '1'];
    else if (o.shallow === true) {
      // A build of a given revision needs the history an earlier shallow fetch left out.
      const probe = await exec(['rev-parse', '--is-shallow-repository'], true);
      if (probe.exitCode === 0 && probe.stdout.trim() === 'true') depth = ['--unshallow'];
    }
    const commands: [string, string[]][] = [
      ['fetch', ['fetch', '--no-tags', ...depth, '--', o.repourl, `+${ref}:${tracking}`]],
      ['checkout', ['checkout', '--force', ...(pullRequest === null ? ['-B', branch] : ['--detach']), revision ?? tracking]],
    ];
    if (o.mode === 'full') commands.push(['clean', ['clean', '-d', '-f', '-f', '-x']]);
    for (const [what, args] of commands) {
      const r = await exec(args);
      const failed = this.failed(r, `git ${what}`);
      if (failed) return failed;
    }
    const head = await exec(['rev-parse', 'HEAD'], true);
    const failed = this.failed(head, 'git rev-parse');
    if (failed) return failed;
    const got = head.stdout.trim();
    // got_repository says which repository got_revision belongs to (a Trigger step passes both on).
    ctx.properties.setAll({ got_revision: got, got_repository: o.repourl }, this.name);
    const what = pullRequest === null ? branch : `pull request #${pullRequest}`;
    return { result: Results.SUCCESS, stateString: `${what} at ${got.slice(0, 12)}` };
  }

  /**
   * The branch (or pull request) and revision to build: the build's properties for this repository,
   * else the step's branch.
   */
  private target(ctx: StepContext): { branch: string; revision: string | null; pullRequest: number | null } | { error: string } {
    const p = ctx.properties;
    const repository = p.get('repository');
    const ours = repository === undefined || repository === null || repository === '' || repository === this.options.repourl;
    const fromProps = (name: string) => {
      const v = ours ? p.get(name) : undefined;
      return v === undefined || v === null || v === '' ? null : v;
    };
    const branch = fromProps('branch') ?? this.options.branch ?? 'main';
    const validBranch = refName.safeParse(branch);
    if (!validBranch.success) return { error: `property branch: ${JSON.stringify(branch)} is not a valid git branch name` };
    const prProperty = fromProps('pr_number');
    const pullRequest = prProperty === null ? pullRequestOfBranch(validBranch.data) : pullRequestNumber(prProperty);
    if (prProperty !== null && pullRequest === null)
      return { error: `property pr_number: ${JSON.stringify(prProperty)} is not a pull request number` };
    const revision = this.options.alwaysUseLatest ? null : fromProps('revision');
    if (revision === null) return { branch: validBranch.data, revision: null, pullRequest };
    const validRevision = revisionId.safeParse(revision);
    if (!validRevision.success) return { error: `property revision: ${JSON.stringify(revision)} is not a valid revision` };
    return { branch: validBranch.data, revision: validRevision.data, pullRequest };
  }

  private failed(r: CommandResult, what: string): StepOutcome | null {
    const outcome = commandOutcome(r, this.options);
    if (outcome.result === Results.SUCCESS) return null;
    return { ...outcome, stateString: `${what} failed: ${outcome.stateString ?? ''}` };
  }
}
