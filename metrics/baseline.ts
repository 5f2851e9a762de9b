import type { Repositories } from '../master/db/index.ts';
import type { MetricsService } from './metrics-service.ts';
import { computeBaseline, resolutionOf, type Baseline } from './regression.ts';

export interface BaselineScope {
  builderid: number;
  builder: string;
  step?: string | undefined;
  /** Only builds before this one count. */
  beforeBuildId: number;
}

/** Baseline of `series` over the builder's last `window` successful builds (the last value each reported). */
export async function seriesBaseline(
  metrics: MetricsService,
  repos: Repositories,
  window: number,
  series: string,
  scope: BaselineScope,
): Promise<Baseline | null> {
  const builds = await repos.builds.lastSuccessful(scope.builderid, window, scope.beforeBuildId);
  if (builds.length === 0) return null;
  const ids = new Set(builds.map((b) => b.id));
  const from = Math.min(...builds.map((b) => b.started_at));
  const to = Math.max(...builds.map((b) => b.complete_at ?? b.started_at)) + 60_000;
  const { points } = await metrics.points(
    { series, builder: scope.builder, ...(scope.step ? { step: scope.step } : {}), from, to },
    { limit: 10_000, offset: 0, order: 'asc' },
  );
  const perBuild = new Map<number, number>();
  for (const p of points) if (p.buildid !== null && ids.has(p.buildid)) perBuild.set(p.buildid, p.value);
  return computeBaseline([...perBuild.values()], resolutionOf(series));
}
