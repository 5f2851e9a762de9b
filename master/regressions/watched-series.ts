/**
 * Which series a point belongs to for the watcher: its name and its tag combination, as
 * `GET /metrics/{series}/changes` splits them (every tag but `result`, `revision` and `agent`), plus
 * the branch its build was of when the point carries none, so main and a feature branch are watched
 * apart. A series is per agent only where its builder says so (`changePoints: { perAgent: true }`).
 */
import type { MetricPoint } from '../../metrics/metric-point.ts';

/** Tags that vary from point to point of one watched series. */
const UNSPLIT = new Set(['result', 'revision']);

export interface WatchedSeries {
  series: string;
  /** Sorted by name. */
  tags: Record<string, string>;
  /** Canonical: what the detector cache and the `change_points.tag_key` column hold. */
  key: string;
}

export function watchedSeries(point: MetricPoint, branch: string | null, perAgent: boolean): WatchedSeries {
  const entries = Object.entries(point.tags).filter(([k]) => !UNSPLIT.has(k) && (perAgent || k !== 'agent'));
  if (branch !== null && !entries.some(([k]) => k === 'branch')) entries.push(['branch', branch]);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const tags = Object.fromEntries(entries);
  return { series: point.series, tags, key: JSON.stringify(tags) };
}
