/**
 * Metrics over the API: the series list, a series' summary and points (filtered by builder, step,
 * agent, result, `tag.<name>` user tags, `from`/`to` in epoch seconds or ISO 8601), and a build's
 * points with their regression baseline.
 */
import { Router } from 'express';
import type { SeriesFilter } from '../../metrics/series-filter.ts';
import type { MetricPoint } from '../../metrics/metric-point.ts';
import { regressionScore } from '../../metrics/regression.ts';
import { seriesBaseline } from '../../metrics/baseline.ts';
import { seriesName } from '../../metrics/capture-options.ts';
import { BadRequestError, NotFoundError } from '../../core/errors/index.ts';
import type { ApiDeps } from './deps.ts';
import { found, idParam } from './params.ts';

const FILTER_KEYS = ['builder', 'step', 'agent', 'result'] as const;

function time(raw: unknown, name: string): number {
  const v = String(raw);
  if (/^-?\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new BadRequestError(`${name} must be epoch seconds or an ISO 8601 time, got "${v}"`);
  return t;
}

export function parseSeriesFilter(series: string, query: Record<string, unknown>, extra: string[] = []): SeriesFilter {
  if (!seriesName.safeParse(series).success) throw new BadRequestError(`"${series}" is not a valid series name`);
  const filter: SeriesFilter = { series };
  for (const [key, raw] of Object.entries(query)) {
    if (typeof raw !== 'string') throw new BadRequestError(`query parameter ${key} must be given once`);
    if ((FILTER_KEYS as readonly string[]).includes(key)) filter[key as (typeof FILTER_KEYS)[number]] = raw;
    else if (key === 'from') filter.from = time(raw, 'from');
    else if (key === 'to') filter.to = time(raw, 'to');
    else if (key.startsWith('tag.') && key.length > 4) filter.tags = { ...filter.tags, [key.slice(4)]: raw };
    else if (!extra.includes(key))
      throw new BadRequestError(`unknown parameter "${key}"`, { allowed: [...FILTER_KEYS, 'from', 'to', 'tag.<name>', ...extra] });
  }
  return filter;
}

export function serializePoint(p: MetricPoint) {
  return { series: p.series, time: p.time / 1e6, value: p.value, tags: p.tags, build_number: p.buildNumber, buildid: p.buildid };
}

function pageParam(raw: unknown, name: string, def: number, max: number): number {
  if (raw === undefined) return def;
  const v = String(raw);
  if (!/^\d{1,9}$/.test(v) || Number(v) > max) throw new BadRequestError(`${name} must be an integer from 0 to ${max}, got "${v}"`);
  return Number(v);
}

export function metricsRouter(deps: ApiDeps): Router {
  const r = Router();
  /** All series; with ?builder= (and ?step=) only those with points for it, with links. */
  r.get('/metrics', async (req, res) => {
    const { builder, step, ...rest } = req.query;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw new BadRequestError(`unknown parameter "${unknown}"`, { allowed: ['builder', 'step'] });
    if ((builder !== undefined && typeof builder !== 'string') || (step !== undefined && typeof step !== 'string'))
      throw new BadRequestError('builder and step are given once');
    let series = await deps.metrics.listSeries();
    if (builder !== undefined || step !== undefined) {
      const present = new Set(await deps.metrics.seriesWith({ ...(builder ? { builder } : {}), ...(step ? { step } : {}) }));
      series = series.filter((s) => present.has(s.series));
    }
    const metrics = series.map((s) => ({ ...s, links: deps.links.series(s.series, builder) }));
    res.json({ metrics, meta: { total: metrics.length } });
  });
  r.get('/metrics/:series/summary', async (req, res) => {
    const filter = parseSeriesFilter(req.params.series as string, req.query);
    if (!(await deps.metrics.describe(filter.series))) throw new NotFoundError(`series "${filter.series}" not found`);
    res.json({ summary: await deps.metrics.getSummary(filter) });
  });
  r.get('/metrics/:series/points', async (req, res) => {
    const { limit, offset, order, ...rest } = req.query;
    const filter = parseSeriesFilter(req.params.series as string, rest);
    if (!(await deps.metrics.describe(filter.series))) throw new NotFoundError(`series "${filter.series}" not found`);
    if (order !== undefined && order !== 'time' && order !== '-time') throw new BadRequestError('order must be "time" or "-time"');
    const page = await deps.metrics.points(filter, {
      limit: pageParam(limit, 'limit', 1000, 10_000),
      offset: pageParam(offset, 'offset', 0, 1e9),
      order: order === '-time' ? 'desc' : 'asc',
    });
    res.json({ points: page.points.map(serializePoint), meta: { total: page.total } });
  });
  /** A build's points, each with the baseline of its series over the builder's last successful builds. */
  r.get('/builds/:id/metrics', async (req, res) => {
    const build = found(await deps.repos.builds.get(idParam(req.params.id as string, 'build id')), `build ${req.params.id as string}`);
    const builder = deps.builders.find((b) => b.id === build.builderid);
    const points = await deps.metrics.buildPoints(build.id, build.started_at - 1000, (build.complete_at ?? Date.now()) + 60_000);
    const out = [];
    for (const p of points) {
      const baseline = builder
        ? await seriesBaseline(deps.metrics, deps.repos, deps.regressionWindow, p.series, {
            builderid: builder.id,
            builder: builder.config.name,
            step: p.tags.step,
            beforeBuildId: build.id,
          })
        : null;
      out.push({ ...serializePoint(p), baseline, score: baseline ? regressionScore(p.value, baseline) : null });
    }
    res.json({ metrics: out, meta: { total: out.length, window: deps.regressionWindow } });
  });
  return r;
}
