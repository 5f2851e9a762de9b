/**
 * The master's own bare mirror of a builder's repository, under `<basedir>/bisect/`, from which a
 * bisection lists the commits between good and bad (first-parent) and describes the culprit. Git is
 * run as the git poller runs it: no prompts, C locale, relative URLs from the master's folder.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CommitInfo {
  author: string;
  email: string;
  subject: string;
}

export class GitMirror {
  readonly gitDir: string;

  constructor(
    private readonly repourl: string,
    private readonly basedir: string,
  ) {
    const key = createHash('sha256').update(repourl).digest('hex').slice(0, 16);
    this.gitDir = path.join(basedir, 'bisect', `${key}.git`);
  }

  /** Brings the mirror up to date, and makes sure it holds `revisions` (fetched by id if no branch has them). */
  async update(revisions: readonly string[]): Promise<void> {
    if (!fs.existsSync(path.join(this.gitDir, 'HEAD'))) {
      fs.mkdirSync(this.gitDir, { recursive: true });
      await this.git(['init', '--bare', '--quiet']);
    }
    await this.git(['fetch', '--quiet', '--prune', '--', this.repourl, '+refs/heads/*:refs/heads/*']);
    for (const rev of revisions) {
      if (await this.has(rev)) continue;
      await this.git(['fetch', '--quiet', '--', this.repourl, rev]).catch(() => {});
      if (!(await this.has(rev))) throw new Error(`commit ${rev} is not in ${this.repourl}`);
    }
  }

  /** The commits after `good` up to `bad`, first-parent, oldest first: `bad` is the last. */
  async between(good: string, bad: string): Promise<string[]> {
    const out = await this.git(['rev-list', '--first-parent', '--reverse', `${good}..${bad}`]);
    return out.split('\n').filter(Boolean);
  }

  /** The full id of a revision the mirror holds. */
  async resolve(rev: string): Promise<string> {
    return (await this.git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])).trim();
  }

  async describe(sha: string): Promise<CommitInfo> {
    const out = await this.git(['show', '--no-patch', '--format=%an%x00%ae%x00%s', sha]);
    const [author = '', email = '', subject = ''] = out.trim().split('\0');
    return { author, email, subject };
  }

  private async has(rev: string): Promise<boolean> {
    return this.git(['cat-file', '-e', `${rev}^{commit}`]).then(
      () => true,
      () => false,
    );
  }

  private async git(args: string[]): Promise<string> {
    const { stdout } = await run('git', [`--git-dir=${this.gitDir}`, ...args], {
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', LC_ALL: 'C' },
      cwd: this.basedir,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 300_000,
    });
    return stdout;
  }
}
