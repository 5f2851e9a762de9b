/**
 * `caliper janitor [--config FILE] [--db URL] [--dry-run] [--json]`: one retention pass now, against
 * the database the config names (Buildbot's `cleanupdb` without compaction). Safe beside running
 * masters: on PostgreSQL it takes the same lock as their scheduled passes.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../db/data-source.ts';
import { createRepositories } from '../db/repositories.ts';
import { silentLogger } from '../../core/logger.ts';
import type { CompiledConfig } from '../config/compile.ts';
import { describeReport } from './janitor.ts';
import { janitorPass } from './janitor-schedule.ts';
import { RetentionRepo } from './retention-repo.ts';

export const JANITOR_HELP = `Usage: caliper janitor [--config FILE] [--db URL] [--dry-run] [--json]

Runs the retention janitor once, now, with the horizons of the config's \`retention\`
(logs, builds, changes): removes the chunks of old logs (the logs stay, marked expired), old builds
with their steps, logs and artifacts, and old changes no kept build uses. Metric points are kept.

  --config FILE  config module (default ./master.config.ts)
  --db URL       database (default: db.url from the config)
  --dry-run      count what would be removed; remove nothing
  --json         print the report as JSON`;

export class JanitorUsageError extends Error {}

export interface JanitorArgs {
  config: string;
  db?: string;
  dryRun: boolean;
  json: boolean;
}

export function parseJanitorArgs(args: string[]): JanitorArgs {
  try {
    const { values } = parseArgs({
      args,
      options: { config: { type: 'string' }, db: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    });
    return {
      config: values.config ?? 'master.config.ts',
      ...(values.db !== undefined ? { db: values.db } : {}),
      dryRun: values['dry-run'] ?? false,
      json: values.json ?? false,
    };
  } catch (e) {
    throw new JanitorUsageError(`${e instanceof Error ? e.message : String(e)}\n\n${JANITOR_HELP}`);
  }
}

/** Runs one pass; the exit code (1: no retention configured, or another master was running one). */
export async function runJanitorCommand(args: JanitorArgs, config: CompiledConfig): Promise<number> {
  if (!config.retention || (config.retention.logs ?? config.retention.builds ?? config.retention.changes) === undefined) {
    console.error(`${args.config}: no retention horizons (retention.logs, retention.builds, retention.changes): nothing to do`);
    return 1;
  }
  const basedir = path.dirname(path.resolve(args.config));
  const db = await openDatabase(args.db ?? config.db.url, { basedir });
  try {
    const deps = {
      retention: new RetentionRepo(db.source),
      artifacts: createRepositories(db).artifacts,
      masterBasedir: basedir,
      now: Date.now,
    };
    const report = await janitorPass(db, deps, config.retention, silentLogger, args.dryRun);
    if (report === null) {
      console.error('another master is running the janitor now; try again later');
      return 1;
    }
    console.log(args.json ? JSON.stringify(report) : describeReport(report));
    return 0;
  } finally {
    await db.close();
  }
}
