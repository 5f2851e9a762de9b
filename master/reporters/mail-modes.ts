/**
 * Which finished builds a mail notifier mails, by Buildbot's modes (reporters/generators/utils.py):
 *
 * | mode        | mails a build that ended …                                               |
 * |-------------|--------------------------------------------------------------------------|
 * | `all`       | success, warnings, failure, exception or cancelled                       |
 * | `failing`   | failure                                                                  |
 * | `problem`   | failure, when the builder's previous build did not fail (a new failure)  |
 * | `warnings`  | warnings or failure                                                      |
 * | `passing`   | success                                                                  |
 * | `change`    | with another result than the builder's previous build                    |
 * | `exception` | exception                                                                |
 * | `cancelled` | cancelled                                                                |
 *
 * `problem` and `change` need a previous finished build: the builder's first build is mailed by
 * neither (as in Buildbot). A list of modes mails a build when any of them does. `warnings` means
 * warnings or failure in a list too (Buildbot widens it only when given alone).
 */
import { z } from 'zod';
import { Results, type Result } from '../../core/results.ts';

export const MAIL_MODES = ['all', 'failing', 'problem', 'warnings', 'passing', 'change', 'exception', 'cancelled'] as const;
export type MailMode = (typeof MAIL_MODES)[number];

export const mailModeOption = z
  .union([z.enum(MAIL_MODES), z.array(z.enum(MAIL_MODES)).min(1)])
  // Buildbot's default: every build that passed, warned or failed.
  .default(['failing', 'passing', 'warnings'])
  .transform((m) => [...new Set(typeof m === 'string' ? [m] : m)]);

/** What a mode decides from the build's result alone, or that it needs the previous build's. */
type Verdict = 'yes' | 'no' | 'ask-previous';

function byResult(mode: MailMode, result: Result): Verdict {
  switch (mode) {
    case 'all':
      return result === Results.SKIPPED || result === Results.RETRY ? 'no' : 'yes';
    case 'failing':
      return result === Results.FAILURE ? 'yes' : 'no';
    case 'problem':
      return result === Results.FAILURE ? 'ask-previous' : 'no';
    case 'warnings':
      return result === Results.WARNINGS || result === Results.FAILURE ? 'yes' : 'no';
    case 'passing':
      return result === Results.SUCCESS ? 'yes' : 'no';
    case 'change':
      return 'ask-previous';
    case 'exception':
      return result === Results.EXCEPTION ? 'yes' : 'no';
    case 'cancelled':
      return result === Results.CANCELLED ? 'yes' : 'no';
    default: {
      const never: never = mode;
      throw new Error(`unknown mail mode ${String(never)}`);
    }
  }
}

/** Mailed by its result alone ('yes'), never ('no'), or only depending on the previous build. */
export function verdictByResult(modes: readonly MailMode[], result: Result): Verdict {
  const verdicts = modes.map((m) => byResult(m, result));
  if (verdicts.includes('yes')) return 'yes';
  return verdicts.includes('ask-previous') ? 'ask-previous' : 'no';
}

/** Whether the modes mail a build that ended `result` after a previous build that ended `previous` (null: none). */
export function modesMatch(modes: readonly MailMode[], result: Result, previous: Result | null): boolean {
  return modes.some((mode) => {
    const verdict = byResult(mode, result);
    if (verdict !== 'ask-previous') return verdict === 'yes';
    if (previous === null) return false;
    return mode === 'problem' ? previous !== Results.FAILURE : previous !== result;
  });
}
