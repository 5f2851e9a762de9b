/**
 * Runs the janitor at the times of `retention.schedule` (croner, as the cron schedulers). A pass that
 * outlasts the next tick is not overlapped (`protect`); masters sharing PostgreSQL take turns through
 * the advisory lock, so each tick one of them runs it.
 */
import { Cron } from 'croner';
import type { Database } from '../db/data-source.ts';
import type { Logger } from '../../core/logger.ts';
import { CRON_OPTIONS } from '../scheduler/cron.ts';
import { describeReport, runJanitor, type JanitorDeps } from './janitor.ts';
import { withJanitorLock } from './janitor-lock.ts';
import type { RetentionConfig } from './retention-config.ts';

/** Runs one pass now, under the lock; null when another master was running one. */
export async function janitorPass(db: Database, deps: JanitorDeps, retention: RetentionConfig, log: Logger, dryRun = false) {
  const report = await withJanitorLock(db, () => runJanitor(deps, retention, { dryRun }));
  if (report === null) log.info('janitor: another master is running it; skipped');
  else log.info(describeReport(report), { report });
  return report;
}

/** Starts the schedule; returns what stops it. */
export function startJanitor(db: Database, deps: JanitorDeps, retention: RetentionConfig, log: Logger): () => void {
  const job = new Cron(retention.schedule, { ...CRON_OPTIONS, protect: true }, async () => {
    await janitorPass(db, deps, retention, log).catch((e: unknown) => log.error('janitor failed', { error: String(e) }));
  });
  return () => job.stop();
}
