/**
 * A series split by one tag (`?splitBy=node`): one summary per value of the tag, so a chart can draw
 * a matrix's series once per axis value. The values are those the series' newest points carry (up
 * to SPLIT_SCAN_POINTS of them); points without the tag belong to no group.
 */
import { STANDARD_TAGS, type SeriesFilter } from './series-filter.ts';
import type { MetricPoint } from './metric-point.ts';
import type { MetricsService } from './metrics-service.ts';
import type { Summary } from '../protocol/api-types.ts';

/** How many of the newest points are read to find the values of the tag. */
export const SPLIT_SCAN_POINTS = 10_000;

/** A point's value of `tag`, standard (builder, step, agent, result) or the user's. */
export function tagOf(point: MetricPoint, tag: string): string | undefined {
  return point.tags[tag];
}

/** The filter narrowed to one value of `tag`. */
export function withTag(filter: SeriesFilter, tag: string, value: string): SeriesFilter {
  return STANDARD_TAGS.some((t) => t === tag) ? { ...filter, [tag]: value } : { ...filter, tags: { ...filter.tags, [tag]: value } };
}

export async function splitSummaries(
  metrics: Pick<MetricsService, 'points' | 'getSummary'>,
  filter: SeriesFilter,
  tag: string,
): Promise<{ value: string; summary: Summary }[]> {
  const page = await metrics.points(filter, { limit: SPLIT_SCAN_POINTS, offset: 0, order: 'desc' });
  const values = [...new Set(page.points.map((p) => tagOf(p, tag)).filter((v): v is string => v !== undefined))].sort();
  return Promise.all(values.map(async (value) => ({ value, summary: await metrics.getSummary(withTag(filter, tag, value)) })));
}

/** A page of points grouped by their value of `tag`, in the order the values first appear. */
export function groupPoints<P>(points: readonly P[], valueOf: (p: P) => string | undefined): { value: string; points: P[] }[] {
  const groups = new Map<string, P[]>();
  for (const p of points) {
    const v = valueOf(p);
    if (v !== undefined) groups.set(v, [...(groups.get(v) ?? []), p]);
  }
  return [...groups].map(([value, pts]) => ({ value, points: pts }));
}
