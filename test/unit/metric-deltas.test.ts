/** Metric deltas without a database: which builds make the baseline (the PR's base branch), the numbers, the flags. */
import { describe, expect, it } from 'vitest';
import type { BuildRow } from '../../master/db/entities.ts';
import type { MetricPoint } from '../../metrics/metric-point.ts';
import {
  deltaPercent,
  flagOf,
  formatPercent,
  metricDeltas,
  worstRegression,
  type MetricDeltaDeps,
} from '../../master/reporters/metric-deltas.ts';
import { describeBuild, githubRepo } from '../../master/reporters/github-status.ts';
import type { BuildReport, MetricDelta } from '../../master/reporters/reporter.ts';

const props = (p: Record<string, string | number>): string =>
  JSON.stringify(Object.fromEntries(Object.entries(p).map(([k, v]) => [k, [v, 'test']])));
const build = (id: number, p: Record<string, string | number>): BuildRow => ({
  id,
  builderid: 1,
  buildrequestid: id,
  number: id,
  masterid: 1,
  agent: 'a',
  started_at: id * 1000,
  complete_at: id * 1000 + 500,
  results: 0,
  state_string: 'finished',
  properties: props(p),
});
const point = (buildid: number, value: number, series = 'bundle_size'): MetricPoint => ({
  series,
  time: buildid * 1e6,
  value,
  tags: { builder: 'b', step: 'measure' },
  buildNumber: buildid,
  buildid,
});

/** Builds 1-3 on main (100, 101, 99), 4-5 on a release branch (500), 6 a PR against main (150), 7 a PR build measuring 130. */
function fakeDeps(window = 10): MetricDeltaDeps {
  const builds = [
    build(1, { branch: 'main' }),
    build(2, { branch: 'main' }),
    build(3, { branch: 'main' }),
    build(4, { branch: 'release' }),
    build(5, { branch: 'release' }),
    build(6, { branch: 'other', pr_number: 6, base_branch: 'main' }),
    build(7, { branch: 'feature', pr_number: 7, base_branch: 'main' }),
    build(8, { branch: 'release' }),
  ];
  const values: Record<number, number> = { 1: 100, 2: 101, 3: 99, 4: 500, 5: 500, 6: 150, 7: 130, 8: 400 };
  return {
    window,
    repos: {
      builds: {
        get: async (id) => builds.find((b) => b.id === id) ?? null,
        lastSuccessful: async (_builder, n, before) =>
          builds
            .filter((b) => b.id < before)
            .reverse()
            .slice(0, n),
      },
    },
    metrics: {
      buildPoints: async (id) => [point(id, values[id] ?? 0)],
      describe: async (series) => ({ series, kind: 'size', unit: 'bytes', tagKeys: [] }),
    },
  };
}

describe('metric deltas', () => {
  it('compares a pull-request build with its base branch only, leaving other PRs and branches out', async () => {
    const [d] = await metricDeltas(fakeDeps())(7);
    expect(d).toEqual({
      series: 'bundle_size',
      step: 'measure',
      unit: 'bytes',
      value: 130,
      baseline: 100,
      deltaPercent: 30,
      flag: 'regression',
      baselineBranch: 'main',
    } satisfies MetricDelta);
  });

  it('compares another build with the builder’s own builds, pull requests left out', async () => {
    const [d] = await metricDeltas(fakeDeps())(8);
    // 100, 101, 99, 500, 500: median 101, and 400 is far above it.
    expect(d).toMatchObject({ value: 400, baseline: 101, flag: 'regression', baselineBranch: null });
  });

  it('has no baseline with fewer than 3 good builds, and no delta for a build it does not know', async () => {
    const [d] = await metricDeltas(fakeDeps(2))(7);
    expect(d).toMatchObject({ baseline: null, deltaPercent: null, flag: null });
    expect(await metricDeltas(fakeDeps())(99)).toEqual([]);
  });

  it('flags by kind: sizes and times grow worse, ratios shrink worse; within the threshold nothing', () => {
    expect(flagOf(5, 'size', 3)).toBe('regression');
    expect(flagOf(-5, 'duration', 3)).toBe('improvement');
    expect(flagOf(-5, 'ratio', 3)).toBe('regression');
    expect(flagOf(5, 'ratio', 3)).toBe('improvement');
    expect(flagOf(2.9, 'size', 3)).toBeNull();
    expect(flagOf(null, 'size', 3)).toBeNull();
    expect(deltaPercent(110, 100)).toBeCloseTo(10, 10);
    expect(deltaPercent(-90, -100)).toBeCloseTo(10, 10);
    expect(deltaPercent(5, 0)).toBeNull();
    expect([formatPercent(12.34), formatPercent(-4), formatPercent(0), formatPercent(null)]).toEqual([
      '+12.3 %',
      '−4.0 %',
      '±0.0 %',
      'n/a',
    ]);
  });

  it('names the worst regression in a status description of at most 140 characters', () => {
    const delta = (series: string, deltaPercent: number, flag: MetricDelta['flag']): MetricDelta => ({
      series,
      step: null,
      unit: null,
      value: 1,
      baseline: 1,
      deltaPercent,
      flag,
      baselineBranch: 'main',
    });
    const metrics = [
      delta('a', 50, null),
      delta('bundle_size', 12.34, 'regression'),
      delta('c', 5, 'regression'),
      delta('d', -80, 'improvement'),
    ];
    expect(worstRegression(metrics)?.series).toBe('bundle_size');
    const report = {
      event: 'build.finished',
      build: { number: 12, results: 2 },
      metrics,
    } satisfies { event: BuildReport['event']; build: Pick<BuildReport['build'], 'number' | 'results'>; metrics: MetricDelta[] };
    expect(describeBuild(report)).toBe('Build #12 failed: bundle_size +12.3 % vs main');
    const long = describeBuild({ ...report, metrics: [delta('x'.repeat(200), 10, 'regression')] });
    expect(long).toHaveLength(140);
    expect(long.endsWith('…')).toBe(true);
  });

  it('reads owner/repo from https, ssh and scp-like URLs on the GitHub host only', () => {
    const ref = { owner: 'acme', repo: 'widget' };
    for (const url of [
      'https://github.com/acme/widget',
      'https://github.com/acme/widget.git',
      'git@github.com:acme/widget.git',
      'ssh://git@github.com/acme/widget.git',
      'https://user@github.com/acme/widget/',
    ])
      expect(githubRepo(url, 'github.com'), url).toEqual(ref);
    expect(githubRepo('https://gitlab.com/acme/widget.git', 'github.com')).toBeNull();
    expect(githubRepo('https://github.com/acme/widget/tree/main', 'github.com')).toBeNull();
    expect(githubRepo('/srv/git/widget.git', 'github.com')).toBeNull();
    expect(githubRepo('git@ghe.example.com:acme/widget.git', 'ghe.example.com')).toEqual(ref);
  });
});
