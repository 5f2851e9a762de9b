/**
 * Watches a git repository for new commits, as Buildbot's GitPoller does: the master keeps a bare
 * clone, fetches the watched branches every `pollInterval` seconds and turns each new commit into a
 * change (oldest first).
 *
 * What has been turned into changes is kept in the clone itself, as `refs/caliper/seen/<branch>`,
 * moved only once the branch's changes are stored: commits pushed while the master was down become
 * changes at its next poll, and a poll that fails half-way (network, database) is redone, never skipped.
 * The very first poll only records where the branches are (no changes for the existing history; a
 * mark file in the clone says it happened, so a repository that had no branch yet is not skipped); a
 * branch that appears later gives a change per commit that no branch seen before has.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ChangeInput } from './change.ts';
import { pollerName, type ParsedChangeSource } from './change-source-config.ts';
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/error-message.ts';

const run = promisify(execFile);
/** Commits turned into changes per branch and poll, newest kept: a huge push does not flood the database. */
export const MAX_COMMITS_PER_POLL = 100;
const SEEN = 'refs/caliper/seen/';

export class GitPoller {
  readonly name: string;
  private readonly gitDir: string;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly config: ParsedChangeSource,
    private readonly basedir: string,
    private readonly addChange: (change: ChangeInput) => Promise<unknown>,
    private readonly log: Logger,
  ) {
    this.name = pollerName(config);
    this.gitDir = path.resolve(basedir, config.workdir ?? path.join('.caliper', 'gitpoller', this.name));
  }

  /** Polls now, then every pollInterval seconds (a poll never overlaps the previous one). */
  start(): void {
    const tick = () => {
      this.polling = this.poll()
        .then(() => undefined)
        .catch((e: unknown) =>
          this.log.error('git poller failed', { poller: this.name, repourl: this.config.repourl, error: errorMessage(e) }),
        )
        .finally(() => {
          this.polling = null;
          if (!this.stopped) this.timer = setTimeout(tick, this.config.pollInterval * 1000);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }

  /** One poll: fetch, then a change per new commit. Returns how many changes it added. */
  async poll(): Promise<number> {
    await this.ensureClone();
    const remote = await this.remoteBranches();
    if (remote.length > 0)
      await this.git([
        'fetch',
        '--quiet',
        '--no-tags',
        '--',
        this.config.repourl,
        ...remote.map((b) => `+refs/heads/${b}:refs/heads/${b}`),
      ]);
    const heads = await this.refs('refs/heads/');
    const seen = await this.refs(SEEN);
    const firstPoll = seen.size === 0 && !fs.existsSync(this.initializedMark);
    let added = 0;
    for (const branch of remote) {
      const head = heads.get(branch);
      const last = seen.get(branch);
      if (!head || head === last) continue;
      if (!firstPoll) {
        // A new branch: its commits that no branch seen before has (usually those made on it).
        for (const sha of await this.newCommits(head, last ? [last] : [...seen.values()])) {
          await this.addChange(await this.describe(sha, branch));
          // Moved after each stored change: a poll that fails half-way resumes after the last one.
          await this.git(['update-ref', `${SEEN}${branch}`, sha]);
          added++;
        }
      }
      await this.git(['update-ref', `${SEEN}${branch}`, head]);
    }
    if (firstPoll) {
      // Also when the repository has no branch yet: its first commits are changes.
      fs.writeFileSync(this.initializedMark, `${new Date().toISOString()}\n`);
      this.log.info('git poller watching', { poller: this.name, repourl: this.config.repourl, branches: remote });
    } else if (added > 0) this.log.info('git poller found changes', { poller: this.name, changes: added });
    return added;
  }

  /** Written by the first poll: from then on, every new commit is a change. */
  private get initializedMark(): string {
    return path.join(this.gitDir, 'caliper-initialized');
  }

  private async ensureClone(): Promise<void> {
    if (fs.existsSync(path.join(this.gitDir, 'HEAD'))) return;
    fs.mkdirSync(this.gitDir, { recursive: true });
    await run('git', ['init', '--bare', '--quiet', this.gitDir], { env: gitEnv(), cwd: this.basedir });
  }

  /** The watched branches that exist in the repository. */
  private async remoteBranches(): Promise<string[]> {
    const out = await this.git(['ls-remote', '--heads', '--', this.config.repourl]);
    const names = out
      .split('\n')
      .map((line) => line.split('\t')[1] ?? '')
      .filter((ref) => ref.startsWith('refs/heads/'))
      .map((ref) => ref.slice('refs/heads/'.length));
    const wanted = this.config.branches;
    return wanted === true ? names : wanted.filter((b) => names.includes(b));
  }

  private async refs(prefix: string): Promise<Map<string, string>> {
    const out = await this.git(['for-each-ref', '--format=%(objectname) %(refname)', prefix]);
    const refs = new Map<string, string>();
    for (const line of out.split('\n')) {
      const [sha, ref] = line.split(' ');
      if (sha && ref) refs.set(ref.slice(prefix.length), sha);
    }
    return refs;
  }

  /** Commits reachable from `head` but from none of `known`, oldest first (the newest MAX_COMMITS_PER_POLL). */
  private async newCommits(head: string, known: string[]): Promise<string[]> {
    const out = await this.git(['rev-list', `--max-count=${MAX_COMMITS_PER_POLL}`, head, ...known.map((k) => `^${k}`)]);
    const shas = out.split('\n').filter(Boolean).reverse();
    if (shas.length === MAX_COMMITS_PER_POLL)
      this.log.warn('git poller: many new commits, only the newest become changes', { poller: this.name, kept: MAX_COMMITS_PER_POLL });
    return shas;
  }

  private async describe(sha: string, branch: string): Promise<ChangeInput> {
    const meta = await this.git(['show', '--no-patch', '--format=%an <%ae>%x00%ct%x00%B', sha]);
    const [author = '', when = '0', comments = ''] = meta.split('\0');
    // A merge's files are those it changed on its first parent (the branch it was merged into).
    const files = await this.git(['diff-tree', '--no-commit-id', '--name-only', '-r', '--root', '-m', '--first-parent', sha]);
    return {
      repository: this.config.repourl,
      branch,
      revision: sha,
      author: author.slice(0, 500),
      comments: comments.trim().slice(0, 100_000),
      files: files.split('\n').filter(Boolean).slice(0, 10_000),
      project: this.config.project,
      category: null,
      when_timestamp: Number(when),
    };
  }

  private async git(args: string[]): Promise<string> {
    const { stdout } = await run('git', [`--git-dir=${this.gitDir}`, ...args], {
      env: gitEnv(),
      cwd: this.basedir, // a relative repourl is relative to the master's folder
      maxBuffer: 64 * 1024 * 1024,
      timeout: 300_000,
    });
    return stdout;
  }
}

/** Never prompt for credentials on the master's terminal: a poll that needs them fails and says so. */
function gitEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', LC_ALL: 'C' };
}
