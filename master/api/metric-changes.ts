/**
 * Change points over the API, and points measured outside builds:
 * - `GET /metrics/{series}/changes` (the summary's tag filters): the series' points, split into one
 *   series per tag combination (builder, step, branch, … — not `result`, `agent` unless
 *   `splitBy=agent`, nor `revision`), each run through the change-point detector. Detectors are kept
 *   per filter and combination, so a later request only feeds them the points added since.
 * - `POST /metrics/{series}/points` (a write: token or allowed user): benchmarks run elsewhere land
 *   in the same series, charts and detection, through the metrics service.
 */
import { Router } from 'express';
import { z } from 'zod';
import { ChangePointDetector, verdict, type ChangePoint } from '../../metrics/change-points/index.ts';
import { MAX_SAMPLES, METRIC_KINDS, seriesName, tagKey } from '../../metrics/capture-options.ts';
import type { MetricPoint } from '../../metrics/metric-point.ts';
import { NotFoundError } from '../../core/errors/index.ts';
import type * as Api from '../../protocol/api-types.ts';
import { TIME_RANGE_TEXT, timeInRange } from '../db/collection-query.ts';
import { requireToken } from './auth.ts';
import type { ApiDeps } from './deps.ts';
import { parseSeriesFilter, presentPoint } from './metrics.ts';
import { parseBody, parseParams, parseQuery } from './params.ts';

/** Points read per request: the most recent ones. */
const MAX_POINTS = 10_000;
/** Points one POST may carry. */
export const MAX_POSTED_POINTS = 1000;
/** Detectors kept (per filter and tag combination); past this the cache starts over. */
const MAX_DETECTORS = 500;

const seriesPath = z.object({
  series: z.string().refine((s) => seriesName.safeParse(s).success, {
    error: (issue) => `"${String(issue.input)}" is not a valid series name`,
  }),
});
const changesQuery = z.object({
  splitBy: z.enum(['agent'], { error: () => 'splitBy must be "agent" (every other tag already splits)' }).optional(),
});

/** Epoch seconds (a number) or an ISO 8601 string, to epoch microseconds. */
const pointTime = z.union([z.number(), z.string()]).transform((raw, ctx) => {
  const ms = typeof raw === 'number' ? raw * 1000 : Date.parse(raw);
  if (!Number.isFinite(ms) || !timeInRange(ms) || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `must be epoch seconds or an ISO 8601 time after 1970 within ${TIME_RANGE_TEXT}` });
    return z.NEVER;
  }
  return Math.round(ms * 1000);
});

const postedPoint = z.strictObject({
  value: z.number({ error: () => 'must be a finite number' }).refine(Number.isFinite, 'must be a finite number'),
  time: pointTime.optional(),
  tags: z
    .record(tagKey, z.string().min(1).max(200))
    .refine((t) => !('revision' in t), 'give the revision as the point\'s "revision", not as a tag')
    .optional(),
  revision: z.string().min(1).max(200).optional(),
  build_number: z.number().int().min(0).optional(),
  /** The runs behind the value (a repeated benchmark): kept with the point, used by the detector's t-tests. */
  samples: z
    .array(z.number({ error: () => 'must be a finite number' }).refine(Number.isFinite, 'must be a finite number'))
    .min(1)
    .max(MAX_SAMPLES, `at most ${MAX_SAMPLES} samples per point`)
    .optional(),
});
const postedPoints = z.strictObject({
  kind: z.enum(METRIC_KINDS).optional(),
  unit: z.string().max(30).optional(),
  points: z.array(postedPoint).min(1).max(MAX_POSTED_POINTS, `at most ${MAX_POSTED_POINTS} points per request`),
});

/** Tags that vary from point to point of one watched series, so they do not split it. */
const UNSPLIT = ['result', 'revision'];

function combination(tags: Record<string, string>, splitByAgent: boolean): Record<string, string> {
  return Object.fromEntries(
    Object.entries(tags)
      .filter(([k]) => !UNSPLIT.includes(k) && (splitByAgent || k !== 'agent'))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

interface Watched {
  detector: ChangePointDetector;
  /** Times of the points fed, in order: a later read that starts the same only adds the rest. */
  times: number[];
}

function endpoint(p: MetricPoint): Api.ChangeEndpoint {
  return { time: p.time / 1e6, value: p.value, build_number: p.buildNumber, buildid: p.buildid, revision: p.tags.revision ?? null };
}

function present(
  series: string,
  kind: string,
  tags: Record<string, string>,
  points: MetricPoint[],
  c: ChangePoint,
): Api.MetricChange | null {
  const before = points[c.index - 1];
  const after = points[c.index];
  if (!before || !after) return null;
  return {
    series,
    tags,
    before: endpoint(before),
    after: endpoint(after),
    mean_before: c.before.mean,
    mean_after: c.after.mean,
    stddev_before: c.before.stddev,
    stddev_after: c.after.stddev,
    points_before: c.before.end - c.before.start,
    points_after: c.after.end - c.after.start,
    magnitude_percent: c.magnitudePercent,
    p_value: c.pValue,
    change: c.change,
    verdict: verdict(c.change, kind),
  };
}

export function metricChangesRouter(deps: ApiDeps): Router {
  const r = Router();
  const watched = new Map<string, Watched>();

  /** The detector for this filter and combination, fed up to `points` (started over if history moved). */
  const detectorFor = (key: string, points: MetricPoint[]): ChangePointDetector => {
    let w = watched.get(key);
    const fed = w?.times.length ?? 0;
    const same = w !== undefined && fed <= points.length && w.times.every((t, i) => points[i]?.time === t);
    if (!w || !same) {
      if (watched.size >= MAX_DETECTORS) watched.clear();
      w = { detector: new ChangePointDetector(), times: [] };
      watched.set(key, w);
    }
    for (const p of points.slice(w.times.length)) {
      w.detector.add(p.value, p.samples);
      w.times.push(p.time);
    }
    return w.detector;
  };

  r.get('/metrics/:series/changes', async (req, res) => {
    const filter = parseSeriesFilter(parseParams(req, seriesPath).series, req.query, ['splitBy']);
    const { splitBy } = parseQuery(req, changesQuery);
    const description = await deps.metrics.describe(filter.series);
    if (!description) throw new NotFoundError(`series "${filter.series}" not found`);
    const page = await deps.metrics.points(filter, { limit: MAX_POINTS, offset: 0, order: 'desc' });
    const groups = new Map<string, { tags: Record<string, string>; points: MetricPoint[] }>();
    for (const p of page.points.reverse()) {
      const tags = combination(p.tags, splitBy === 'agent');
      const key = JSON.stringify(tags);
      const group = groups.get(key) ?? { tags, points: [] };
      group.points.push(p);
      groups.set(key, group);
    }
    const changes: Api.MetricChange[] = [];
    for (const [key, group] of groups) {
      const detector = detectorFor(`${JSON.stringify(filter)}|${splitBy ?? ''}|${key}`, group.points);
      for (const c of detector.changes()) {
        const shown = present(filter.series, description.kind, group.tags, group.points, c);
        if (shown) changes.push(shown);
      }
    }
    changes.sort((a, b) => a.after.time - b.after.time);
    res.json({
      changes,
      meta: { total: changes.length, kind: description.kind, points: page.points.length },
    } satisfies Api.MetricChangesPage);
  });

  r.post('/metrics/:series/points', requireToken(deps.authTokens), async (req, res) => {
    const { series } = parseParams(req, seriesPath);
    const body = parseBody(req, postedPoints);
    const stored: Api.MetricPoint[] = [];
    for (const p of body.points) {
      const point = await deps.metrics.captureData(series, p.value, {
        tags: { ...p.tags, ...(p.revision === undefined ? {} : { revision: p.revision }) },
        ...(body.kind === undefined ? {} : { kind: body.kind }),
        ...(body.unit === undefined ? {} : { unit: body.unit }),
        ...(p.time === undefined ? {} : { time: p.time }),
        ...(p.build_number === undefined ? {} : { buildNumber: p.build_number }),
        ...(p.samples === undefined ? {} : { samples: p.samples }),
      });
      if (point) stored.push(presentPoint(point));
    }
    res.status(201).json({ points: stored } satisfies Api.PointsAdded);
  });
  return r;
}
