/** `caliper metrics SERIES [--builder B] [--points N]`: a series' summary and a sparkline of its latest points. */
import type { PointsPage, SummaryAnswer } from '../../protocol/api-types.ts';
import type { ApiClient } from './api-client.ts';
import { num } from './format.ts';
import { sparkline } from './sparkline.ts';

export async function metricsCommand(
  api: ApiClient,
  series: string,
  opts: { builder?: string; points: number; json: boolean },
): Promise<string> {
  const path = `/metrics/${encodeURIComponent(series)}`;
  const filter = opts.builder !== undefined ? { builder: opts.builder } : {};
  const { summary } = await api.get<SummaryAnswer>(`${path}/summary`, filter);
  // The newest points, shown oldest first: the line reads left to right in time.
  const { points } = await api.get<PointsPage>(`${path}/points`, { ...filter, order: '-time', limit: opts.points });
  const values = points.map((p) => p.value).reverse();
  if (opts.json) return JSON.stringify({ summary, points: values });
  const unit = summary.unit ? ` ${summary.unit}` : '';
  return [
    `${summary.series}${opts.builder !== undefined ? ` (builder ${opts.builder})` : ''}: ${summary.count} points${unit ? `, in${unit}` : ''}`,
    `  average ${num(summary.average)}  deviation ${num(summary.deviation)}  min ${num(summary.minimum)}  max ${num(summary.maximum)}`,
    `  p50 ${num(summary.p50)}  p95 ${num(summary.p95)}`,
    values.length > 0
      ? `  last ${values.length}: ${sparkline(values)}  (${num(values[0] ?? null)} … ${num(values[values.length - 1] ?? null)})`
      : '  no points',
  ].join('\n');
}
