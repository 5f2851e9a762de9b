/**
 * The `retention` part of the config (Buildbot's LogChunksJanitor, buildHorizon and changeHorizon):
 * how long logs, builds and changes are kept, and when the janitor runs. Each horizon is optional;
 * one left out keeps that kind of record for ever. Metric points are never removed by it.
 */
import { z } from 'zod';
import { DURATION_SYNTAX, parseDuration } from './duration.ts';
import { cronPatternProblem } from '../scheduler/cron.ts';

const horizon = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `must be ${DURATION_SYNTAX}, got "${text}"` });
    return z.NEVER;
  }
  return ms;
});

/** Daily at midnight (the master's time zone), as Buildbot's JanitorConfigurator. */
export const DEFAULT_JANITOR_SCHEDULE = '0 0 * * *';

export const retentionSchema = z
  .strictObject({
    /** Logs of builds finished longer ago than this lose their chunks; the log rows stay, marked expired. */
    logs: horizon.optional(),
    /** Builds finished longer ago than this are removed with their steps, logs and artifacts. */
    builds: horizon.optional(),
    /** Changes stored longer ago than this are removed, unless a kept build or a queued request uses them. */
    changes: horizon.optional(),
    /** When the janitor runs: a cron pattern (default daily at midnight). */
    schedule: z
      .string()
      .superRefine((v, ctx) => {
        const problem = cronPatternProblem(v);
        if (problem)
          ctx.addIssue({ code: 'custom', message: `must be a cron pattern (minute hour day-of-month month day-of-week): ${problem}` });
      })
      .default(DEFAULT_JANITOR_SCHEDULE),
  })
  .superRefine((v, ctx) => {
    // A log outliving its build would be removed with the build anyway: say so instead of ignoring it.
    if (v.logs !== undefined && v.builds !== undefined && v.logs > v.builds)
      ctx.addIssue({ code: 'custom', path: ['logs'], message: 'is longer than builds: a build takes its logs with it when it goes' });
  });

export type RetentionConfig = z.output<typeof retentionSchema>;
