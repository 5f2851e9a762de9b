/**
 * The retention janitor (Buildbot's LogChunksJanitor with buildHorizon and changeHorizon): one pass
 * removes, oldest first,
 *   1. the chunks of logs of builds finished before the logs horizon (the log rows stay, marked
 *      expired, so a build's page still lists them and says they were removed by retention);
 *   2. builds finished before the builds horizon, with their steps, logs and artifacts (files too);
 *   3. changes stored before the changes horizon that no kept build and no queued request uses.
 * Metric points are kept: series and charts outlive the builds they came from.
 * A dry run counts what a pass would remove and removes nothing.
 */
import type { ArtifactsRepo } from '../db/artifacts.ts';
import { removeBuildArtifacts } from '../build/file-transfer-artifacts.ts';
import type { RetentionConfig } from './retention-config.ts';
import type { RetentionRepo } from './retention-repo.ts';

export interface JanitorDeps {
  retention: RetentionRepo;
  artifacts: ArtifactsRepo;
  /** Where this master keeps artifacts (removeBuildArtifacts also removes the build's folder there). */
  masterBasedir?: string;
  now: () => number;
}

export interface JanitorReport {
  dryRun: boolean;
  /** Logs whose chunks were (or would be) removed, and those chunks' stored size. */
  logs: { expired: number; chunks: number; storedBytes: number };
  builds: { removed: number; artifacts: number };
  changes: { removed: number };
}

const LOG_BATCH = 500;
const BUILD_BATCH = 100;
const CHANGE_BATCH = 500;

export async function runJanitor(
  deps: JanitorDeps,
  horizons: Pick<RetentionConfig, 'logs' | 'builds' | 'changes'>,
  options: { dryRun?: boolean } = {},
): Promise<JanitorReport> {
  const dryRun = options.dryRun ?? false;
  const now = deps.now();
  const report: JanitorReport = {
    dryRun,
    logs: { expired: 0, chunks: 0, storedBytes: 0 },
    builds: { removed: 0, artifacts: 0 },
    changes: { removed: 0 },
  };
  const { retention } = deps;

  if (horizons.logs !== undefined) {
    const cutoff = now - horizons.logs;
    if (dryRun) {
      const found = await retention.countLogs(cutoff);
      report.logs = { expired: found.logs, chunks: found.chunks, storedBytes: found.storedBytes };
    } else {
      for (;;) {
        const done = await retention.expireLogs(cutoff, now, LOG_BATCH);
        report.logs.expired += done.logs;
        report.logs.chunks += done.chunks;
        report.logs.storedBytes += done.storedBytes;
        if (done.logs < LOG_BATCH) break;
      }
    }
  }

  if (horizons.builds !== undefined) {
    const cutoff = now - horizons.builds;
    if (dryRun) report.builds.removed = await retention.countBuilds(cutoff);
    else {
      for (;;) {
        const ids = await retention.buildsBefore(cutoff, BUILD_BATCH);
        for (const buildid of ids) {
          // Files first: a build whose files could not be removed keeps its rows, and the next pass tries again.
          report.builds.artifacts += await removeBuildArtifacts(deps.artifacts, buildid, deps.masterBasedir);
          await retention.removeBuild(buildid);
          report.builds.removed++;
        }
        if (ids.length < BUILD_BATCH) break;
      }
    }
  }

  if (horizons.changes !== undefined) {
    const cutoff = now - horizons.changes;
    if (dryRun) report.changes.removed = await retention.countChanges(cutoff);
    else {
      for (;;) {
        const removed = await retention.removeChanges(cutoff, CHANGE_BATCH);
        report.changes.removed += removed;
        if (removed < CHANGE_BATCH) break;
      }
    }
  }
  return report;
}

/** One line for the log and the command: what a pass removed (or would). */
export function describeReport(r: JanitorReport): string {
  const verb = r.dryRun ? 'would remove' : 'removed';
  const mib = (r.logs.storedBytes / (1024 * 1024)).toFixed(1);
  return (
    `janitor ${verb}: the chunks of ${r.logs.expired} logs (${r.logs.chunks} chunks, ${mib} MiB stored), ` +
    `${r.builds.removed} builds` +
    (r.dryRun ? '' : ` (${r.builds.artifacts} artifacts)`) +
    `, ${r.changes.removed} changes`
  );
}
