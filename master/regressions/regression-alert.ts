/**
 * A build's confirmed worse change points, as the reporters' grouped alert lists them
 * (`build.regressed`, master/reporters/regression-text.ts): each with its unit, the pages of the
 * builds on either side and the series' chart in the web UI, filtered to the watched tags.
 */
import type { MetricsService } from '../../metrics/metrics-service.ts';
import type { ChangePointRow } from '../db/change-points.ts';
import type { RegressionItem } from '../reporters/reporter.ts';

/** The explorer's filters (frontend/src/components/explorer-state.ts): standard tags by name, the others as `tag.NAME`. */
const STANDARD = new Set(['builder', 'step', 'agent', 'result']);

export function chartUrl(publicUrl: string, series: string, tags: Record<string, string>): string {
  const q = new URLSearchParams();
  q.append('series', series);
  for (const [k, v] of Object.entries(tags)) {
    // A branch taken from the build's properties is no tag of the points: the chart cannot filter on it.
    if (k === 'branch') continue;
    q.set(STANDARD.has(k) ? k : `tag.${k}`, v);
  }
  return `${publicUrl}#/metrics?${q.toString()}`;
}

export async function regressionItems(
  rows: readonly ChangePointRow[],
  sources: { publicUrl: string; metrics: Pick<MetricsService, 'describe'> },
): Promise<RegressionItem[]> {
  const buildUrl = (id: number | null) => (id === null ? null : `${sources.publicUrl}#/builds/${id}`);
  const items: RegressionItem[] = [];
  for (const c of rows) {
    const description = await sources.metrics.describe(c.series);
    items.push({
      id: c.id,
      series: c.series,
      tags: c.tags,
      unit: description?.unit ?? null,
      meanBefore: c.mean_before,
      meanAfter: c.mean_after,
      magnitudePercent: c.magnitude,
      pValue: c.p_value,
      before: { buildid: c.before_buildid, revision: c.before_revision, url: buildUrl(c.before_buildid) },
      after: { buildid: c.after_buildid, revision: c.after_revision, url: buildUrl(c.after_buildid) },
      chartUrl: chartUrl(sources.publicUrl, c.series, c.tags),
    });
  }
  return items;
}
