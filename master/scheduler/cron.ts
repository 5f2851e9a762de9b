/**
 * Cron schedulers: a build of each builder at the times of a cron pattern, in a time zone (croner
 * computes the times, daylight saving included). Runs missed while the master was down are not made
 * up, as in Buildbot's Nightly; masters sharing a database each fire their own cron schedulers.
 */
import { Cron } from 'croner';
import type { CronSchedulerConfig, SchedulerConfig } from '../config/schedulers.ts';
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/error-message.ts';

/**
 * How patterns are read, at config time and at run time alike: five fields, or six with seconds
 * first (no seven-field years); a time with no wildcard in its second, minute and hour fields
 * (`30 2,14 * * *`) runs once on the day a daylight-saving change repeats or skips it, as in Vixie cron.
 */
export const CRON_OPTIONS = { mode: '5-or-6-parts', fixedTimeRule: 'no-wildcard' } as const;

/** Why a cron pattern cannot be used, or null. A pattern that never fires again is refused too. */
export function cronPatternProblem(pattern: string, timezone?: string): string | null {
  try {
    const job = new Cron(pattern, { ...CRON_OPTIONS, ...(timezone ? { timezone } : {}), paused: true });
    if (job.nextRun() === null) return 'never fires (no such date ahead)';
    return null;
  } catch (e) {
    return errorMessage(e);
  }
}

export function startCronSchedulers(
  schedulers: SchedulerConfig[],
  submit: (builderName: string, reason: string, properties: Record<string, unknown>) => Promise<number>,
  log: Logger,
): () => void {
  const jobs = schedulers
    .filter((s): s is CronSchedulerConfig => s.type === 'cron')
    .map(
      (s) =>
        new Cron(s.cron, { ...CRON_OPTIONS, ...(s.timezone ? { timezone: s.timezone } : {}), protect: true }, async () => {
          for (const builder of s.builderNames) {
            await submit(builder, s.reason ?? `The Cron scheduler '${s.name}' triggered this build`, s.properties ?? {}).catch(
              (e: unknown) => log.error('cron scheduler failed', { scheduler: s.name, builder, error: String(e) }),
            );
          }
        }),
    );
  return () => jobs.forEach((j) => j.stop());
}
