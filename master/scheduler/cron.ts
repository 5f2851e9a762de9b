/**
 * Cron schedulers: a build of each builder at the times of a cron pattern, in a time zone (croner
 * computes the times, daylight saving included). Runs missed while the master was down are not made
 * up, as in Buildbot's Nightly; masters sharing a database each fire their own cron schedulers.
 */
import { Cron } from 'croner';
import type { CronField, CronSchedulerConfig, CronTimes, SchedulerConfig } from '../config/schedulers.ts';
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/error-message.ts';
import type { SubmitBuildset } from './request-submitter.ts';

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

/** Buildbot's Nightly time fields, by name, with their defaults. */
export const CRON_FIELDS = ['minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek'] as const;
const DEFAULTS = { minute: 0, hour: '*', dayOfMonth: '*', month: '*', dayOfWeek: '*' } as const;

/** Buildbot numbers days from Monday (0) to Sunday (6); cron from Sunday (0). */
const mondayFirst = (day: number) => (day + 1) % 7;

function fieldText(field: CronField, dayOfWeek: boolean): string {
  if (typeof field === 'number') return String(dayOfWeek ? mondayFirst(field) : field);
  if (Array.isArray(field)) return field.map((n) => (dayOfWeek ? mondayFirst(n) : n)).join(',');
  if (!dayOfWeek) return field;
  // As Buildbot: in '5,sun' the number is Monday-first, the name is cron's.
  return field
    .split(',')
    .map((part) => (/^\d+$/.test(part) ? String(mondayFirst(Number(part))) : part))
    .join(',');
}

/** The cron pattern a scheduler's times stand for: its `cron`, or the pattern of its Nightly fields. */
export function cronPatternOf(times: CronTimes): string {
  if (times.cron !== undefined) return times.cron;
  return CRON_FIELDS.map((name) => fieldText(times[name] ?? DEFAULTS[name], name === 'dayOfWeek')).join(' ');
}

/** A croner job calling `fire` at the scheduler's times (`protect`: a slow run is not overlapped). */
export function cronJob(times: CronTimes, fire: () => Promise<void>): Cron {
  return new Cron(cronPatternOf(times), { ...CRON_OPTIONS, ...(times.timezone ? { timezone: times.timezone } : {}), protect: true }, fire);
}

export function startCronSchedulers(schedulers: readonly SchedulerConfig[], submit: SubmitBuildset, log: Logger): () => void {
  const jobs = schedulers
    .filter((s): s is CronSchedulerConfig => s.type === 'cron')
    .map((s) =>
      cronJob(s, async () => {
        await submit({
          scheduler: s.name,
          builderNames: s.builderNames,
          reason: s.reason ?? `The Cron scheduler '${s.name}' triggered this build`,
          properties: s.properties ?? {},
        }).catch((e: unknown) => log.error('cron scheduler failed', { scheduler: s.name, error: String(e) }));
      }),
    );
  return () => jobs.forEach((j) => j.stop());
}
