import type { SchedulerConfig } from '../config/schedulers.ts';
import type { Logger } from '../../core/logger.ts';

/** Starts every periodic scheduler; returns a function that stops them all. */
export function startPeriodicSchedulers(
  schedulers: SchedulerConfig[],
  submit: (builderName: string, reason: string, properties: Record<string, unknown>) => Promise<number>,
  log: Logger,
): () => void {
  const timers: NodeJS.Timeout[] = [];
  for (const s of schedulers) {
    if (s.type !== 'periodic') continue;
    timers.push(
      setInterval(() => {
        for (const name of s.builderNames) {
          submit(name, s.reason ?? `The Periodic scheduler named '${s.name}' triggered this build`, s.properties ?? {}).catch(
            (e: unknown) => log.error('periodic scheduler failed', { scheduler: s.name, error: String(e) }),
          );
        }
      }, s.periodicBuildTimer * 1000),
    );
  }
  return () => timers.forEach(clearInterval);
}
