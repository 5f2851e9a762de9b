/**
 * What the culprit's author is told once a bisection names their commit: a mail (through a
 * configured mailNotifier's relay) and, when the commit came from a GitHub pull request, a comment
 * on it (through githubStatus). The pull request is read from the commit's subject, as GitHub
 * writes it for a merge ("Merge pull request #12 from …") or a squash ("Subject (#12)").
 * Sent once, when the culprit is named; not through the outbox (a master dying at that moment
 * loses the notice, the bisection and its page keep the culprit).
 */
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/error-message.ts';
import type { AuthorNotice, Reporter } from '../reporters/reporter.ts';
import type { CulpritFound } from './bisector.ts';

export function pullRequestOfSubject(subject: string | null): number | null {
  const m = /^Merge pull request #(\d+) /.exec(subject ?? '') ?? /\(#(\d+)\)\s*$/.exec(subject ?? '');
  return m?.[1] ? Number(m[1]) : null;
}

export function culpritNotice({ bisection: b, builder }: CulpritFound, pageUrl: string): AuthorNotice {
  const culprit = b.culprit ?? b.bad;
  const tags = Object.entries(b.tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const text = [
    `Caliper's bisection #${b.id} names commit ${culprit} as the first one where ${b.series}${tags ? ` (${tags})` : ''} on builder ${builder} got worse.`,
    '',
    `Commit: ${culprit}${b.culprit_subject ? ` "${b.culprit_subject}"` : ''}`,
    `Author: ${b.culprit_author ?? 'unknown'}${b.culprit_email ? ` <${b.culprit_email}>` : ''}`,
    `Searched: ${b.commits.length} commits after ${b.good} up to ${b.bad}`,
    '',
    `The builds, their values and each step's verdict: ${pageUrl}`,
  ].join('\n');
  return {
    email: b.culprit_email,
    repository: b.repourl,
    revision: culprit,
    pullRequest: pullRequestOfSubject(b.culprit_subject),
    subject: `[Caliper] ${b.series} regressed at ${culprit.slice(0, 12)} (${builder})`,
    text,
  };
}

/** Hands the notice to every reporter that can deliver one; one failing does not stop the others. */
export async function tellCulprit(found: CulpritFound, reporters: readonly Reporter[], publicUrl: string, log: Logger): Promise<void> {
  const notice = culpritNotice(found, `${publicUrl.replace(/\/$/, '')}/#/bisections/${found.bisection.id}`);
  for (const r of reporters) {
    if (!r.notifyAuthor) continue;
    await r
      .notifyAuthor(notice)
      .catch((e: unknown) =>
        log.error('telling the culprit failed', { reporter: r.name, bisection: found.bisection.id, error: errorMessage(e) }),
      );
  }
}
