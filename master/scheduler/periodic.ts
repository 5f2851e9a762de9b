import type { SchedulerConfig } from '../config/schedulers.ts';
import type { Logger } from '../../core/logger.ts';
import type { SubmitBuildset } from './request-submitter.ts';

/** Starts every periodic scheduler (a buildset of its builders each `periodicBuildTimer` seconds); returns a function that stops them all. */
export function startPeriodicSchedulers(schedulers: readonly SchedulerConfig[], submit: SubmitBuildset, log: Logger): () => void {
  const timers: NodeJS.Timeout[] = [];
  for (const s of schedulers) {
    if (s.type !== 'periodic') continue;
    timers.push(
      setInterval(() => {
        submit({
          scheduler: s.name,
          builderNames: s.builderNames,
          reason: s.reason ?? `The Periodic scheduler named '${s.name}' triggered this build`,
          properties: s.properties ?? {},
        }).catch((e: unknown) => log.error('periodic scheduler failed', { scheduler: s.name, error: String(e) }));
      }, s.periodicBuildTimer * 1000),
    );
  }
  return () => timers.forEach(clearInterval);
}
