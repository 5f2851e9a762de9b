/**
 * The regression watcher as the master wires it: the change points' repository, the reruns through
 * the request submitter, the grouped alert through the reporter service, the Prometheus counts.
 */
import type { DataSource } from 'typeorm';
import type { Logger } from '../../core/logger.ts';
import type { MetricsService } from '../../metrics/metrics-service.ts';
import type { ChangePointCounts } from '../../metrics/prometheus.ts';
import { ChangePointsRepo } from '../db/change-points.ts';
import type { Repositories } from '../db/repositories.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { RegressionItem } from '../reporters/reporter.ts';
import type { SubmitRequest } from '../scheduler/request-submitter.ts';
import { confirmReruns } from './confirm-reruns.ts';
import { regressionItems } from './regression-alert.ts';
import { RegressionWatcher, type WatchedBuilder } from './regression-watcher.ts';

export interface StartWatcherDeps {
  bus: EventBus;
  repos: Repositories;
  metrics: MetricsService;
  builders: ReadonlyMap<number, WatchedBuilder>;
  submit: SubmitRequest;
  /** The reporter service's grouped alert (ReporterService.regressed). */
  regressed: (buildid: number, items: RegressionItem[]) => Promise<void>;
  /** Where the web UI answers, ending in "/" (web.publicUrl): links in the alerts. */
  publicUrl: () => string;
  counts: ChangePointCounts | null;
  log: Logger;
  now: () => number;
}

/** The repository alone: the API reads it before the watcher starts. */
export function changePointsRepo(source: DataSource): ChangePointsRepo {
  return new ChangePointsRepo(source);
}

export function startRegressionWatcher(deps: StartWatcherDeps, changePoints: ChangePointsRepo): RegressionWatcher {
  const watcher = new RegressionWatcher({
    bus: deps.bus,
    repos: deps.repos,
    metrics: deps.metrics,
    changePoints,
    builders: deps.builders,
    requestReruns: confirmReruns({ repos: deps.repos, submit: deps.submit, log: deps.log }),
    alert: async (buildid, rows) =>
      deps.regressed(buildid, await regressionItems(rows, { publicUrl: deps.publicUrl(), metrics: deps.metrics })),
    counts: deps.counts,
    log: deps.log,
    now: deps.now,
  });
  watcher.start();
  return watcher;
}
