/**
 * Metrics over the API: the series list, a series' summary and points (filtered by builder, step,
 * agent, result, `tag.<name>` user tags, `from`/`to` in epoch seconds or ISO 8601), the tag values a
 * series' points carry (the metrics explorer offers them as filters), and a build's points with their
 * regression baseline and delta (for a pull request: against its base branch).
 */
import { Router } from 'express';
import { z } from 'zod';
import { STANDARD_TAGS, type SeriesFilter, type StandardTag } from '../../metrics/series-filter.ts';
import type { MetricPoint } from '../../metrics/metric-point.ts';
import { DEFAULT_DELTA_THRESHOLD, pointDeltas } from '../reporters/metric-deltas.ts';
import { resolutionOf } from '../../metrics/regression.ts';
import { seriesName } from '../../metrics/capture-options.ts';
import { BadRequestError, NotFoundError } from '../../core/errors/index.ts';
import type * as Api from '../../protocol/api-types.ts';
import type { ApiDeps } from './deps.ts';
import { bound, found, idPath, parseParams, parseQuery, single } from './params.ts';
import { TIME_RANGE_TEXT, timeInRange } from '../db/collection-query.ts';
import { groupPoints, splitSummaries } from '../../metrics/series-split.ts';

const seriesPath = z.object({
  series: z.string().refine((s) => seriesName.safeParse(s).success, {
    error: (issue) => `"${String(issue.input)}" is not a valid series name`,
  }),
});
const seriesListQuery = z.strictObject({ builder: single('builder').optional(), step: single('step').optional() });
const PAGE_PARAMS = ['limit', 'offset', 'order', 'splitBy'];
/** `splitBy=<tag>`: the answer grouped by the tag's values (a matrix axis, an agent, …; metrics/series-split.ts). */
const splitQuery = z.object({
  splitBy: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'splitBy must be a tag name (letters, digits and "_")')
    .optional(),
});
const pointsQuery = z.object({
  limit: bound('limit', 10_000).default(1000),
  offset: bound('offset', 1e9).default(0),
  order: z.enum(['time', '-time'], { error: () => 'order must be "time" or "-time"' }).default('time'),
});
const buildPath = idPath('build id');
/** Points `/tags` reads, the most recent: enough to name every value in use, bounded on a big store. */
const TAG_SCAN = 10_000;
/** Tags left out of `/tags`: a revision is one value per build, never a useful filter. */
const UNLISTED_TAGS = new Set(['revision']);

/** `from`/`to` in epoch ms, within what every store holds (InfluxDB's nanoseconds end in 2262). */
function time(raw: string, name: string): number {
  const t = /^-?\d+(\.\d+)?$/.test(raw) ? Math.round(Number(raw) * 1000) : Date.parse(raw);
  if (Number.isNaN(t)) throw new BadRequestError(`${name} must be epoch seconds or an ISO 8601 time, got "${raw}"`);
  if (!timeInRange(t)) throw new BadRequestError(`${name} must be within ${TIME_RANGE_TEXT}, got "${raw.slice(0, 40)}"`);
  return t;
}

const isStandardTag = (key: string): key is StandardTag => STANDARD_TAGS.some((t) => t === key);

/**
 * The points a query asks for. Parsed by hand, not by a schema: `tag.<name>` keys are the user's own,
 * so the parameters are not a fixed set.
 */
export function parseSeriesFilter(series: string, query: Record<string, unknown>, extra: string[] = []): SeriesFilter {
  const filter: SeriesFilter = { series };
  for (const [key, raw] of Object.entries(query)) {
    if (extra.includes(key)) continue;
    if (typeof raw !== 'string') throw new BadRequestError(`query parameter ${key} must be given once`);
    if (isStandardTag(key)) filter[key] = raw;
    else if (key === 'from') filter.from = time(raw, 'from');
    else if (key === 'to') filter.to = time(raw, 'to');
    else if (key.startsWith('tag.') && key.length > 4) filter.tags = { ...filter.tags, [key.slice(4)]: raw };
    else throw new BadRequestError(`unknown parameter "${key}"`, { allowed: [...STANDARD_TAGS, 'from', 'to', 'tag.<name>', ...extra] });
  }
  return filter;
}

export function presentPoint(p: MetricPoint): Api.MetricPoint {
  return {
    series: p.series,
    time: p.time / 1e6,
    value: p.value,
    tags: p.tags,
    build_number: p.buildNumber,
    buildid: p.buildid,
    ...(p.samples ? { samples: p.samples } : {}),
  };
}

export function metricsRouter(deps: ApiDeps): Router {
  const r = Router();
  const knownSeries = async (params: { params: unknown }, query: Record<string, unknown>, extra: string[] = []) => {
    const filter = parseSeriesFilter(parseParams(params, seriesPath).series, query, extra);
    if (!(await deps.metrics.describe(filter.series))) throw new NotFoundError(`series "${filter.series}" not found`);
    return filter;
  };
  /** All series; with ?builder= (and ?step=) only those with points for it, with links. */
  r.get('/metrics', async (req, res) => {
    const { builder, step } = parseQuery(req, seriesListQuery);
    let series = await deps.metrics.listSeries();
    if (builder !== undefined || step !== undefined) {
      const present = new Set(await deps.metrics.seriesWith({ ...(builder ? { builder } : {}), ...(step ? { step } : {}) }));
      series = series.filter((s) => present.has(s.series));
    }
    const metrics = series.map((s): Api.MetricSeries => ({
      series: s.series,
      kind: s.kind,
      unit: s.unit,
      tagKeys: s.tagKeys,
      links: deps.links.series(s.series, builder),
      resolution: resolutionOf(s.series),
    }));
    // The gate's baseline (metrics/regression.ts), so a chart draws the band the gate would use.
    const regression = { window: deps.regressionWindow, threshold: DEFAULT_DELTA_THRESHOLD };
    res.json({ metrics, meta: { total: metrics.length, regression } } satisfies Api.MetricSeriesPage);
  });
  r.get('/metrics/:series/summary', async (req, res) => {
    const filter = await knownSeries(req, req.query, ['splitBy']);
    const { splitBy } = parseQuery(req, splitQuery);
    const summary = await deps.metrics.getSummary(filter);
    if (splitBy === undefined) res.json({ summary } satisfies Api.SummaryAnswer);
    else
      res.json({
        summary,
        split: { tag: splitBy, groups: await splitSummaries(deps.metrics, filter, splitBy) },
      } satisfies Api.SummaryAnswer);
  });
  r.get('/metrics/:series/points', async (req, res) => {
    const filter = await knownSeries(req, req.query, PAGE_PARAMS);
    const { limit, offset, order, splitBy } = parseQuery(req, pointsQuery.extend(splitQuery.shape));
    const page = await deps.metrics.points(filter, { limit, offset, order: order === '-time' ? 'desc' : 'asc' });
    const points = page.points.map(presentPoint);
    const split = splitBy === undefined ? {} : { split: { tag: splitBy, groups: groupPoints(points, (p) => p.tags[splitBy]) } };
    res.json({ points, meta: { total: page.total }, ...split } satisfies Api.PointsPage);
  });
  /** Each tag's values among the series' latest points (in `from`/`to` when given), sorted. */
  r.get('/metrics/:series/tags', async (req, res) => {
    const filter = await knownSeries(req, req.query);
    const page = await deps.metrics.points(filter, { limit: TAG_SCAN, offset: 0, order: 'desc' });
    const values = new Map<string, Set<string>>();
    for (const p of page.points)
      for (const [k, v] of Object.entries(p.tags)) {
        if (UNLISTED_TAGS.has(k)) continue;
        const set = values.get(k) ?? new Set<string>();
        set.add(v);
        values.set(k, set);
      }
    const tags = Object.fromEntries([...values].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, set]) => [k, [...set].sort()]));
    res.json({ tags, meta: { total: Object.keys(tags).length, points: page.points.length } } satisfies Api.SeriesTags);
  });
  /** A build's points, each with its baseline and delta (master/reporters/metric-deltas.ts: the reporters' numbers). */
  r.get('/builds/:id/metrics', async (req, res) => {
    const { id } = parseParams(req, buildPath);
    const build = found(await deps.repos.builds.get(id), `build ${id}`);
    const deltas = await pointDeltas({ repos: deps.repos, metrics: deps.metrics, window: deps.regressionWindow }, build);
    const metrics = deltas.map((d): Api.BuildMetric => ({
      ...presentPoint(d.point),
      baseline: d.baseline,
      score: d.score,
      kind: d.kind,
      unit: d.delta.unit,
      delta_percent: d.delta.deltaPercent,
      flag: d.delta.flag,
      baseline_branch: d.delta.baselineBranch,
    }));
    res.json({ metrics, meta: { total: metrics.length, window: deps.regressionWindow } } satisfies Api.BuildMetricsPage);
  });
  return r;
}
