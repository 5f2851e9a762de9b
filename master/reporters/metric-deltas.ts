/**
 * Metric deltas: every series a build measured, against the baseline of the same builder (median
 * and robust spread of its last good builds, as metrics/regression.ts computes them).
 *
 * Which builds make the baseline:
 * - a pull-request build (properties `pr_number` and `base_branch`): the builder's last good builds
 *   of the BASE branch that are not pull-request builds themselves, so the review says what the
 *   change does against where it would land ("bundle_size +12.3 % vs main");
 * - any other build: the builder's last good builds that are not pull-request builds (a PR's
 *   experiment does not move the baseline of the branch it has not landed on).
 * A build's branch is its `branch` property (set by the change scheduler from its change). Candidates are found by reading the builder's latest good builds, at most
 * `window × 10` (and 500), newest first: bounded, and no JSON query that SQLite and PostgreSQL would
 * spell differently. The baseline builds' values are read per build (one bounded query each), so the
 * cost follows the window, not the number of series.
 */
import { z } from 'zod';
import type { Repositories } from '../db/repositories.ts';
import type { BuildRow } from '../db/entities.ts';
import type { MetricsService } from '../../metrics/metrics-service.ts';
import type { MetricPoint } from '../../metrics/metric-point.ts';
import { worseWhen } from '../../metrics/direction.ts';
import { computeBaseline, regressionScore, resolutionOf, type Baseline } from '../../metrics/regression.ts';
import { parseJson } from '../../core/parse-json.ts';
import type { MetricDelta } from './reporter.ts';

/** The regression gate's default threshold (steps/regression-gate.ts): a score beyond it is flagged. */
export const DEFAULT_DELTA_THRESHOLD = 3;
const SCAN_FACTOR = 10;
const MAX_SCAN = 500;
/** Points of a build are looked for from a second before it started to a minute after it ended. */
const BEFORE_MS = 1000;
const AFTER_MS = 60_000;

export interface MetricDeltaDeps {
  repos: { builds: Pick<Repositories['builds'], 'get' | 'lastSuccessful'> };
  metrics: Pick<MetricsService, 'buildPoints' | 'describe'>;
  /** How many good builds make a baseline (`metrics.regression.window`). */
  window: number;
  /** |score| beyond which a delta is flagged (default 3). */
  threshold?: number;
}

/** A point of the build with its delta, and the baseline it was compared with (for the API). */
export interface PointDelta {
  point: MetricPoint;
  kind: string | null;
  baseline: Baseline | null;
  score: number | null;
  delta: MetricDelta;
}

const propertyText = z
  .tuple([z.unknown(), z.string()])
  .transform(([v]) => (typeof v === 'string' || typeof v === 'number' ? String(v) : null));
const branchProperties = z.object({
  branch: propertyText.optional(),
  pr_number: propertyText.optional(),
  base_branch: propertyText.optional(),
});

/** Where a build stands: its branch, and for a pull request the base branch it is compared with. */
export interface BuildBranch {
  branch: string | null;
  pullRequest: { number: string; baseBranch: string } | null;
}

export function branchOfProperties(build: BuildRow): BuildBranch {
  const p = parseJson(build.properties, branchProperties, `build ${build.id}'s properties`);
  const pr = p.pr_number && p.base_branch ? { number: p.pr_number, baseBranch: p.base_branch } : null;
  return { branch: p.branch ?? null, pullRequest: pr };
}

export function flagOf(score: number | null, kind: string | null, threshold: number): MetricDelta['flag'] {
  if (score === null) return null;
  const worse = worseWhen(kind) === 'higher' ? score : -score;
  if (worse > threshold) return 'regression';
  if (-worse > threshold) return 'improvement';
  return null;
}

export function deltaPercent(value: number, baseline: number | null): number | null {
  if (baseline === null || baseline === 0) return null;
  return ((value - baseline) / Math.abs(baseline)) * 100;
}

/** Key of a measured series within a build: the same series can come from several steps. */
const keyOf = (p: MetricPoint): string => JSON.stringify([p.series, p.tags.step ?? null]);

/** The last point per (series, step): what the build reported, as the baseline counts it. */
function lastPerSeries(points: MetricPoint[]): Map<string, MetricPoint> {
  const out = new Map<string, MetricPoint>();
  for (const p of [...points].sort((a, b) => a.time - b.time)) out.set(keyOf(p), p);
  return out;
}

const pointsOf = (metrics: MetricDeltaDeps['metrics'], b: BuildRow): Promise<MetricPoint[]> =>
  metrics.buildPoints(b.id, b.started_at - BEFORE_MS, (b.complete_at ?? Date.now()) + AFTER_MS);

/** The builds that make `build`'s baseline, newest first, and the base branch they are of (null: the builder's own builds). */
export async function baselineBuilds(deps: MetricDeltaDeps, build: BuildRow): Promise<{ builds: BuildRow[]; branch: string | null }> {
  const own = branchOfProperties(build);
  const branch = own.pullRequest?.baseBranch ?? null;
  const scan = Math.min(deps.window * SCAN_FACTOR, MAX_SCAN);
  const candidates = await deps.repos.builds.lastSuccessful(build.builderid, scan, build.id);
  const picked: BuildRow[] = [];
  for (const c of candidates) {
    if (picked.length >= deps.window) break;
    const theirs = branchOfProperties(c);
    if (theirs.pullRequest) continue;
    if (own.pullRequest && theirs.branch !== own.pullRequest.baseBranch) continue;
    picked.push(c);
  }
  return { builds: picked, branch };
}

/**
 * Every point `build` produced (in store order, as the API lists them), each with its delta. A
 * series several points of the build hold is compared point by point with the same baseline.
 */
export async function pointDeltas(deps: MetricDeltaDeps, build: BuildRow): Promise<PointDelta[]> {
  const points = await pointsOf(deps.metrics, build);
  if (points.length === 0) return [];
  const { builds, branch } = await baselineBuilds(deps, build);
  const history = new Map<string, number[]>();
  for (const b of builds) {
    for (const [key, p] of lastPerSeries(await pointsOf(deps.metrics, b))) {
      const values = history.get(key) ?? [];
      values.push(p.value);
      history.set(key, values);
    }
  }
  const threshold = deps.threshold ?? DEFAULT_DELTA_THRESHOLD;
  const kinds = new Map<string, { kind: string; unit: string | null } | null>();
  const out: PointDelta[] = [];
  for (const point of points) {
    if (!kinds.has(point.series)) kinds.set(point.series, await deps.metrics.describe(point.series));
    const description = kinds.get(point.series) ?? null;
    const baseline = computeBaseline(history.get(keyOf(point)) ?? [], resolutionOf(point.series));
    const score = baseline ? regressionScore(point.value, baseline) : null;
    const kind = description?.kind ?? null;
    out.push({
      point,
      kind,
      baseline,
      score,
      delta: {
        series: point.series,
        step: point.tags.step ?? null,
        unit: description?.unit ?? null,
        value: point.value,
        baseline: baseline?.median ?? null,
        deltaPercent: deltaPercent(point.value, baseline?.median ?? null),
        flag: flagOf(score, kind, threshold),
        baselineBranch: branch,
      },
    });
  }
  return out;
}

/** The reporters' view: one delta per series (and step) the build measured, its last value. */
export function metricDeltas(deps: MetricDeltaDeps): (buildid: number) => Promise<MetricDelta[]> {
  return async (buildid) => {
    const build = await deps.repos.builds.get(buildid);
    if (!build) return [];
    const last = new Map<string, MetricDelta>();
    for (const d of await pointDeltas(deps, build)) last.set(JSON.stringify([d.delta.series, d.delta.step]), d.delta);
    return [...last.values()];
  };
}

/** The worst regression, by how far it is off in percent: what a one-line summary names. */
export function worstRegression(deltas: MetricDelta[]): MetricDelta | null {
  let worst: MetricDelta | null = null;
  for (const d of deltas) {
    if (d.flag !== 'regression') continue;
    if (!worst || Math.abs(d.deltaPercent ?? 0) > Math.abs(worst.deltaPercent ?? 0)) worst = d;
  }
  return worst;
}

/** "+12.3 %", "−4.0 %", "±0.0 %": a delta as people read it. */
export function formatPercent(p: number | null): string {
  if (p === null) return 'n/a';
  const sign = p > 0 ? '+' : p < 0 ? '−' : '±';
  return `${sign}${Math.abs(p).toFixed(1)} %`;
}
