/**
 * Status badges for READMEs and wikis, drawn by badge-maker (shields.io's renderer):
 *
 * - `GET /badges/{builder}.svg`: the result of the builder's last finished build;
 * - `GET /badges/{builder}/{series}.svg`: the series' last value for the builder, with its unit and
 *   its trend against the baseline (▲/▼ and the delta in %, red when it is a regression for the
 *   series' kind, green when an improvement, blue within the noise). The numbers are the build
 *   page's (master/reporters/metric-deltas.ts).
 *
 * Query: `style` (flat, flat-square, for-the-badge, plastic), `label` (the left text), `branch`
 * (only builds of that branch). Builds of pull requests never count: a README badge tells the
 * state of the branch, not of a proposal (as GitHub's workflow badges do).
 *
 * Caching: `Cache-Control: no-cache` with an ETag. GitHub shows README images through its camo
 * proxy, which keeps an image as long as its headers allow; no-cache makes it ask again on every
 * view, and the ETag turns the answer into an empty 304 while the badge has not changed. A max-age
 * would show a stale result for that long after a build ends.
 *
 * An unknown builder is a 404 whose body is still a badge ("not found"), so a broken embed says what
 * is wrong where it is shown. Read protection (web.auth.readProtected) covers badges as the rest of
 * the API: without a session or a token they answer 401 (see app.ts).
 */
import { Router, type Response } from 'express';
import { makeBadge } from 'badge-maker';
import { z } from 'zod';
import { Results, resultName, type Result } from '../../core/results.ts';
import type { BuildRow } from '../db/entities.ts';
import { seriesName } from '../../metrics/capture-options.ts';
import { branchOfProperties, formatPercent, pointDeltas } from '../reporters/metric-deltas.ts';
import type { MetricDelta } from '../reporters/reporter.ts';
import type { ApiDeps } from './deps.ts';
import { parseQuery, single } from './params.ts';

export type BadgeDeps = Pick<ApiDeps, 'repos' | 'builders' | 'metrics' | 'regressionWindow'>;

/** shields.io's palette, by name, so the colors read as every other badge on the page. */
export const BADGE_COLORS = {
  brightgreen: '#4c1',
  yellow: '#dfb317',
  red: '#e05d44',
  purple: '#8e44ad',
  orange: '#fe7d37',
  blue: '#007ec6',
  lightgrey: '#9f9f9f',
} as const;

export function resultColor(result: Result | null): string {
  switch (result) {
    case null:
      return BADGE_COLORS.lightgrey;
    case Results.SUCCESS:
      return BADGE_COLORS.brightgreen;
    case Results.WARNINGS:
      return BADGE_COLORS.yellow;
    case Results.FAILURE:
      return BADGE_COLORS.red;
    case Results.EXCEPTION:
      return BADGE_COLORS.purple;
    case Results.RETRY:
      return BADGE_COLORS.orange;
    case Results.SKIPPED:
    case Results.CANCELLED:
      return BADGE_COLORS.lightgrey;
    default: {
      const never: never = result;
      return never;
    }
  }
}

const badgeQuery = z.strictObject({
  style: z
    .enum(['flat', 'flat-square', 'for-the-badge', 'plastic'], {
      error: () => 'style must be flat, flat-square, for-the-badge or plastic',
    })
    .default('flat'),
  label: single('label').max(100).optional(),
  branch: single('branch').max(200).optional(),
});
type BadgeQuery = z.output<typeof badgeQuery>;

/** How many of the builder's latest builds (or points) are looked through for one of the right branch. */
const SCAN = 50;

/** Not a pull-request build, and of the branch asked for (if one was). */
function counts(build: BuildRow, branch: string | undefined): boolean {
  const b = branchOfProperties(build);
  return b.pullRequest === null && (branch === undefined || b.branch === branch);
}

function sendBadge(res: Response, status: number, query: BadgeQuery, label: string, message: string, color: string): void {
  const svg = makeBadge({ label: query.label ?? label, message, color, style: query.style });
  res.status(status);
  res.set({
    'Content-Type': 'image/svg+xml; charset=utf-8',
    'Cache-Control': 'no-cache',
    // Helmet's default (same-origin) would keep other sites' pages from showing the image.
    'Cross-Origin-Resource-Policy': 'cross-origin',
  });
  res.send(svg); // express adds the ETag and answers 304 to a matching If-None-Match
}

function formatValue(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(4)));
}

/** "1234 bytes ▲ +12.3 %": the value, and its trend when there is a baseline. */
export function seriesMessage(d: MetricDelta): string {
  const value = `${formatValue(d.value)}${d.unit ? ` ${d.unit}` : ''}`;
  if (d.baseline === null) return value;
  const arrow = d.value > d.baseline ? '▲' : d.value < d.baseline ? '▼' : '=';
  return `${value} ${arrow} ${formatPercent(d.deltaPercent)}`;
}

export function trendColor(d: MetricDelta): string {
  if (d.baseline === null) return BADGE_COLORS.lightgrey;
  switch (d.flag) {
    case 'regression':
      return BADGE_COLORS.red;
    case 'improvement':
      return BADGE_COLORS.brightgreen;
    case null:
      return BADGE_COLORS.blue;
    default: {
      const never: never = d.flag;
      return never;
    }
  }
}

/** The last segment's name without `.svg`, or null when it does not end so. */
const svgName = (segment: string | undefined) => (segment?.endsWith('.svg') ? segment.slice(0, -4) : null);

export function badgesRouter(deps: BadgeDeps): Router {
  const r = Router();
  const builderNamed = (name: string) => deps.builders.find((b) => b.config.name === name);

  const lastBuild = async (builderid: number, branch: string | undefined): Promise<BuildRow | null> => {
    const { rows } = await deps.repos.builds.query(
      // results__ge: finished builds only (a running build's results are NULL and match no comparison).
      { results__ge: '0', order: '-buildid', limit: String(SCAN) },
      { builderid },
    );
    return rows.find((b) => counts(b, branch)) ?? null;
  };

  r.get('/:file', async (req, res) => {
    const query = parseQuery(req, badgeQuery);
    const name = svgName(req.params.file);
    const builder = name === null ? undefined : builderNamed(name);
    if (name === null || !builder) return sendBadge(res, 404, query, name ?? 'badge', 'not found', BADGE_COLORS.lightgrey);
    const build = await lastBuild(builder.id, query.branch);
    const result = build?.results ?? null;
    sendBadge(res, 200, query, builder.config.name, resultName(result) ?? 'unknown', resultColor(result));
  });

  r.get('/:builder/:file', async (req, res) => {
    const query = parseQuery(req, badgeQuery);
    const series = svgName(req.params.file);
    const builder = builderNamed(req.params.builder);
    if (series === null || !seriesName.safeParse(series).success || !builder)
      return sendBadge(res, 404, query, series ?? 'badge', 'not found', BADGE_COLORS.lightgrey);
    const { points } = await deps.metrics.points({ series, builder: builder.config.name }, { limit: SCAN, offset: 0, order: 'desc' });
    for (const point of points) {
      if (point.buildid === null) continue;
      const build = await deps.repos.builds.get(point.buildid);
      if (!build || !counts(build, query.branch)) continue;
      const deltas = await pointDeltas({ repos: deps.repos, metrics: deps.metrics, window: deps.regressionWindow }, build);
      // The build's last point of the series from the same step: what the build page shows for it.
      const delta = deltas.filter((d) => d.delta.series === series && d.point.tags.step === point.tags.step).at(-1)?.delta;
      if (delta) return sendBadge(res, 200, query, series, seriesMessage(delta), trendColor(delta));
    }
    sendBadge(res, 200, query, series, 'no data', BADGE_COLORS.lightgrey);
  });
  return r;
}
