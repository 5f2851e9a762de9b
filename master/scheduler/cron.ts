/**
 * Cron schedulers: a build of each builder at the times of a cron pattern, in a time zone (croner
 * computes the times, daylight saving included). Runs missed while the master was down are not made
 * up, as in Buildbot's Nightly; masters sharing a database each fire their own cron schedulers.
 */
import { Cron } from 'croner';
import type { CronSchedulerConfig, SchedulerConfig } from '../config/schedulers.ts';
import type { Logger } from '../logger.ts';

export function startCronSchedulers(
  schedulers: SchedulerConfig[],
  submit: (builderName: string, reason: string, properties: Record<string, unknown>) => Promise<number>,
  log: Logger,
): () => void {
  const jobs = schedulers
    .filter((s): s is CronSchedulerConfig => s.type === 'cron')
    .map(
      (s) =>
        new Cron(s.cron, { ...(s.timezone ? { timezone: s.timezone } : {}), protect: true }, async () => {
          for (const builder of s.builderNames) {
            await submit(builder, s.reason ?? `The Cron scheduler '${s.name}' triggered this build`, s.properties ?? {}).catch(
              (e: unknown) => log.error('cron scheduler failed', { scheduler: s.name, builder, error: String(e) }),
            );
          }
        }),
    );
  return () => jobs.forEach((j) => j.stop());
}
