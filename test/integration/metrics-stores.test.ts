/**
 * Store conformance: every metrics store (SQL on SQLite and PostgreSQL, InfluxDB) answers every getter
 * as simple-statistics does on the same values, to 1e-9 relative error, with tag filters and time
 * ranges, for small and 100 000-point series.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { max, mean, min, quantile, sampleStandardDeviation } from 'simple-statistics';
import type { MetricsService } from '../../metrics/metrics-service.ts';
import type { MetricPoint } from '../../metrics/metric-point.ts';
import type { SeriesFilter } from '../../metrics/series-filter.ts';
import { MetricInputError } from '../../core/errors/index.ts';
import { storesUnderTest } from '../helpers/metric-stores.ts';

const T0_MS = Date.UTC(2026, 0, 1);

/** Deterministic values: a tiny LCG so every store sees the same data. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Sample {
  value: number;
  timeMs: number;
  builder: string;
  step: string;
  flavour: string;
}

function sample(n: number, seed: number): Sample[] {
  const r = random(seed);
  return Array.from({ length: n }, (_, i) => ({
    value: Math.round((r() * 2000 - 300) * 1000) / 1000 + (i % 7 === 0 ? 1e6 * r() : 0),
    timeMs: T0_MS + i * 1000,
    builder: r() < 0.5 ? 'alpha' : 'beta',
    step: r() < 0.3 ? 'compile' : 'test',
    flavour: r() < 0.5 ? 'debug' : 'release',
  }));
}

function expectClose(actual: number | null, expected: number, what: string): void {
  expect(actual, what).not.toBeNull();
  const scale = Math.max(Math.abs(expected), 1e-300);
  expect(Math.abs((actual as number) - expected) / scale, `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(1e-9);
}

async function expectAgreement(service: MetricsService, filter: SeriesFilter, values: number[], what: string): Promise<void> {
  expect(values.length, `${what}: test data must not be empty`).toBeGreaterThan(1);
  const summary = await service.getSummary(filter);
  expect(summary.count, `${what}: count`).toBe(values.length);
  expectClose(summary.average, mean(values), `${what}: average`);
  expectClose(summary.deviation, sampleStandardDeviation(values), `${what}: deviation`);
  expectClose(summary.minimum, min(values), `${what}: minimum`);
  expectClose(summary.maximum, max(values), `${what}: maximum`);
  expectClose(summary.p50, quantile(values, 0.5), `${what}: p50`);
  expectClose(summary.p95, quantile(values, 0.95), `${what}: p95`);
  for (const p of [0, 0.1, 0.333, 0.9, 1])
    expectClose(await service.getPercentile(filter, p), quantile(values, p), `${what}: percentile ${p}`);
  expectClose(await service.getAverage(filter), mean(values), `${what}: getAverage`);
  expectClose(await service.getDeviation(filter), sampleStandardDeviation(values), `${what}: getDeviation`);
  expect(await service.getCount(filter)).toBe(values.length);
}

async function captureAll(service: MetricsService, series: string, data: Sample[], clock: { nowUs: number }): Promise<void> {
  for (const d of data) {
    clock.nowUs = d.timeMs * 1000;
    await service.captureData(series, d.value, {
      tags: { builder: d.builder, step: d.step, flavour: d.flavour },
      buildNumber: 1,
      unit: 'ms',
    });
  }
  await service.flush();
}

describe.each(storesUnderTest())('metrics store conformance: $name', (store) => {
  const clock = { nowUs: T0_MS * 1000 };
  let service: MetricsService;
  let reopen: () => Promise<MetricsService>;
  let closeDb: () => Promise<void>;
  const small = sample(300, 7);

  beforeAll(async () => {
    const opened = await store.open(() => clock.nowUs);
    service = opened.service;
    reopen = opened.reopen;
    closeDb = () => opened.db.close();
    await captureAll(service, 'conf_small', small, clock);
  });
  afterAll(async () => {
    await service?.close();
    await closeDb?.();
  });

  it('agrees with simple-statistics on a small series, with tag filters and time ranges', async () => {
    await expectAgreement(
      service,
      { series: 'conf_small' },
      small.map((d) => d.value),
      'all',
    );
    await expectAgreement(
      service,
      { series: 'conf_small', builder: 'alpha' },
      small.filter((d) => d.builder === 'alpha').map((d) => d.value),
      'builder',
    );
    await expectAgreement(
      service,
      { series: 'conf_small', builder: 'beta', step: 'compile' },
      small.filter((d) => d.builder === 'beta' && d.step === 'compile').map((d) => d.value),
      'builder+step',
    );
    await expectAgreement(
      service,
      { series: 'conf_small', tags: { flavour: 'debug' } },
      small.filter((d) => d.flavour === 'debug').map((d) => d.value),
      'user tag',
    );
    const from = T0_MS + 40_000;
    const to = T0_MS + 170_000;
    await expectAgreement(
      service,
      { series: 'conf_small', from, to },
      small.filter((d) => d.timeMs >= from && d.timeMs <= to).map((d) => d.value),
      'time range',
    );
    await expectAgreement(
      service,
      { series: 'conf_small', builder: 'alpha', tags: { flavour: 'release' }, from },
      small.filter((d) => d.builder === 'alpha' && d.flavour === 'release' && d.timeMs >= from).map((d) => d.value),
      'everything',
    );
  });

  it('answers empty filters with count 0 and nulls', async () => {
    const s = await service.getSummary({ series: 'conf_small', builder: 'nobody' });
    expect(s).toMatchObject({ count: 0, average: null, deviation: null, minimum: null, maximum: null, p50: null, p95: null });
    expect((await service.getSummary({ series: 'conf_small', tags: { flavour: 'it\'s "quoted"' } })).count).toBe(0);
  });

  it('pages points in time order with their tags and fields', async () => {
    const page = await service.points({ series: 'conf_small', builder: 'alpha' }, { limit: 5, offset: 2, order: 'asc' });
    const alpha = small.filter((d) => d.builder === 'alpha');
    expect(page.total).toBe(alpha.length);
    expect(page.points.map((p) => p.value)).toEqual(alpha.slice(2, 7).map((d) => d.value));
    expect(page.points[0]).toMatchObject({
      series: 'conf_small',
      tags: { builder: 'alpha', step: alpha[2]?.step, flavour: alpha[2]?.flavour },
      buildNumber: 1,
    });
    const last = await service.points({ series: 'conf_small' }, { limit: 1, offset: 0, order: 'desc' });
    expect(last.points[0]?.value).toBe(small[small.length - 1]?.value);
  });

  it('reads the newest points of several series at once, from a time on, oldest first', async () => {
    const alpha = small.filter((d) => d.builder === 'alpha');
    const debugBeta = small.filter((d) => d.builder === 'beta' && d.flavour === 'debug');
    const since = alpha[alpha.length - 4];
    expect(since, 'test data: alpha has 4 points').toBeDefined();
    const [newest, fromSince, tagged, none] = await service.recentPoints([
      { filter: { series: 'conf_small', builder: 'alpha' }, limit: 5 },
      { filter: { series: 'conf_small', builder: 'alpha' }, sinceUs: (since?.timeMs ?? 0) * 1000, limit: 100 },
      { filter: { series: 'conf_small', builder: 'beta', tags: { flavour: 'debug' } }, limit: 3 },
      { filter: { series: 'conf_nothing' }, limit: 10 },
    ]);
    expect(newest?.map((p) => p.value)).toEqual(alpha.slice(-5).map((d) => d.value));
    expect(newest?.map((p) => p.time)).toEqual(alpha.slice(-5).map((d) => d.timeMs * 1000));
    // Inclusive: the point at sinceUs itself is read again (the watcher finds its place by it).
    expect(fromSince?.map((p) => p.value)).toEqual(alpha.slice(-4).map((d) => d.value));
    expect(tagged?.map((p) => p.value)).toEqual(debugBeta.slice(-3).map((d) => d.value));
    expect(tagged?.[0]).toMatchObject({ series: 'conf_small', tags: { builder: 'beta', flavour: 'debug' }, buildNumber: 1 });
    expect(none).toEqual([]);
    // More series than one statement holds (the SQL store reads 50 per statement): each its own answer.
    const many = await service.recentPoints(
      Array.from({ length: 120 }, (_, i) => ({ filter: { series: 'conf_small', builder: i % 2 ? 'alpha' : 'beta' }, limit: 1 + (i % 3) })),
    );
    const beta = small.filter((d) => d.builder === 'beta');
    expect(many.map((points) => points.length)).toEqual(Array.from({ length: 120 }, (_, i) => 1 + (i % 3)));
    expect(many[119]?.map((p) => p.value)).toEqual(alpha.slice(-3).map((d) => d.value));
    expect(many[118]?.map((p) => p.value)).toEqual(beta.slice(-2).map((d) => d.value));
    expect(await service.recentPoints([])).toEqual([]);
  });

  it('reads the points of many steps from their own times as it reads each alone, a step last run long ago too', async () => {
    // The watcher's read at a build's end: one query per step, each from the time its detector stopped.
    // Two agents' points of a step share a time; `rare` ran once, long before the others.
    const t0 = T0_MS + 20_000_000;
    clock.nowUs = t0 * 1000;
    await service.captureData('conf_steps', -1, { tags: { builder: 'alpha', step: 'rare', agent: 'a1' } });
    const steps = Array.from({ length: 10 }, (_, i) => `s${i}`);
    for (let build = 0; build < 12; build++)
      for (const [k, step] of steps.entries()) {
        clock.nowUs = (t0 + 1000 + build * 100 + k) * 1000;
        for (const agent of ['a1', 'a2'])
          await service.captureData('conf_steps', build * 100 + k + (agent === 'a2' ? 0.5 : 0), {
            tags: { builder: 'alpha', step, agent },
          });
      }
    await service.captureData('conf_steps', 7, { tags: { builder: 'beta', step: 's0', agent: 'a1' } });
    await service.flush();
    const all = async (step: string) =>
      (await service.points({ series: 'conf_steps', builder: 'alpha', step }, { limit: 1000, offset: 0, order: 'asc' })).points;
    const queries = await Promise.all(
      [...steps, 'rare'].map(async (step, i) => {
        const points = await all(step);
        // From an older point for each step (a step's detector stopped at different builds), at most 4 or
        // 400: even, as the two agents' points of a time are a pair, and which of a pair a limit cuts is not said.
        const since = points[Math.max(0, points.length - 2 - 2 * (i % 5))]?.time ?? 0;
        return { step, since, limit: i % 3 === 0 ? 4 : 400, points };
      }),
    );
    const read = await service.recentPoints(
      queries.map((q) => ({ filter: { series: 'conf_steps', builder: 'alpha', step: q.step }, sinceUs: q.since, limit: q.limit })),
    );
    const shape = (points: readonly { time: number; value: number; tags: Record<string, string> }[]) =>
      points.map((p) => `${p.time} ${p.value} ${p.tags.step} ${p.tags.agent}`).sort();
    const check = (what: string, asked: { step: string; since?: number; limit: number; points: MetricPoint[] }[], got: MetricPoint[][]) =>
      asked.forEach((q, i) => {
        const expected = q.points.filter((p) => q.since === undefined || p.time >= q.since).slice(-q.limit);
        expect(expected.length, `test data: step ${q.step} has points to read`).toBeGreaterThan(0);
        // Two agents' points of one time may come in either order; the times must come oldest first.
        expect(shape(got[i] ?? []), `${what}: step ${q.step}`).toEqual(shape(expected));
        const times = (got[i] ?? []).map((p) => p.time);
        expect(times, `${what}: step ${q.step}: oldest first`).toEqual([...times].sort((a, b) => a - b));
      });
    check('from their times', queries, read);
    // Detectors seeded (no time: the newest `limit` of each step), some with others from a time on.
    const seeded = queries.map((q, i) => (i % 2 === 0 ? { ...q, since: undefined, limit: 6 } : q));
    check(
      'seeded',
      seeded,
      await service.recentPoints(
        seeded.map((q) => ({ filter: { series: 'conf_steps', builder: 'alpha', step: q.step }, sinceUs: q.since, limit: q.limit })),
      ),
    );
  });

  it('never lets two points of a series share a timestamp (InfluxDB would overwrite one)', async () => {
    clock.nowUs = (T0_MS + 10_000_000) * 1000; // frozen clock: every capture asks for the same time
    for (let i = 0; i < 500; i++) await service.captureData('conf_same_time', i, { tags: { builder: 'alpha' } });
    await service.flush();
    const s = await service.getSummary({ series: 'conf_same_time' });
    expect(s.count).toBe(500);
    expect(s.average).toBe(249.5);
  });

  it('accumulates, adds absolute values and diffs, and keeps that state across a restart', async () => {
    clock.nowUs = (T0_MS + 20_000_000) * 1000;
    const acc = [];
    for (const v of [5, -2, 10])
      acc.push((await service.captureData('conf_total', v, { accumulate: true, tags: { builder: 'alpha' } }))?.value);
    expect(acc).toEqual([5, 3, 13]);
    const abs = [];
    for (const v of [5, -2]) abs.push((await service.captureData('conf_abs', v, { absValue: true }))?.value);
    expect(abs).toEqual([5, 7]);
    expect(await service.captureData('conf_diff', 100, { diff: true })).toBeNull();
    expect((await service.captureData('conf_diff', 130, { diff: true }))?.value).toBe(30);

    // A new service over the same database: a master restart (which flushes on the way down), a
    // moment later (a new clock cannot know the old one's last timestamp; real time moves on).
    await service.flush();
    clock.nowUs += 1_000_000;
    const restarted = await reopen();
    expect((await restarted.captureData('conf_total', 1, { accumulate: true, tags: { builder: 'alpha' } }))?.value).toBe(14);
    expect((await restarted.captureData('conf_abs', -3, { absValue: true }))?.value).toBe(10);
    expect((await restarted.captureData('conf_diff', 125, { diff: true }))?.value).toBe(-5);
    // Another tag set is another total.
    expect((await restarted.captureData('conf_total', 1, { accumulate: true, tags: { builder: 'beta' } }))?.value).toBe(1);
    await restarted.flush();
    expect(
      (await restarted.points({ series: 'conf_total', builder: 'alpha' }, { limit: 10, offset: 0, order: 'asc' })).points.map(
        (p) => p.value,
      ),
    ).toEqual([5, 3, 13, 14]);
  });

  it('refuses bad input with a clear error and stores nothing', async () => {
    const before = await service.getCount({ series: 'conf_small' });
    await expect(service.captureData('conf_small', Number.NaN)).rejects.toThrow(MetricInputError);
    await expect(service.captureData('conf_small', 1, { tags: { value: 'x' } })).rejects.toThrow(/field name/);
    await expect(service.captureData('bad name!', 1)).rejects.toThrow(/series "bad name!"/);
    await expect(service.captureData('caliper_rollup_x', 1)).rejects.toThrow(/InfluxDB store's own/);
    await expect(service.captureData('conf_small', 1, { tags: { caliper_writer: 'x' } })).rejects.toThrow(/caliper_/);
    await service.captureData('conf_overflow', 1.5e308, { accumulate: true });
    await expect(service.captureData('conf_overflow', 1.5e308, { accumulate: true })).rejects.toThrow(/range of a double/);
    expect(await service.getMaximum({ series: 'conf_overflow' })).toBe(1.5e308);
    expect(await service.getCount({ series: 'conf_overflow' })).toBe(1);
    await expect(service.captureData('conf_small', 1, { accumulate: true, diff: true })).rejects.toThrow(/exclude each other/);
    expect(await service.getCount({ series: 'conf_small' })).toBe(before);
  });

  it('agrees with simple-statistics on a 100 000-point series', async () => {
    const big = sample(100_000, 99);
    await captureAll(service, 'conf_big', big, clock);
    await expectAgreement(
      service,
      { series: 'conf_big' },
      big.map((d) => d.value),
      'big: all',
    );
    await expectAgreement(
      service,
      { series: 'conf_big', builder: 'beta', step: 'test' },
      big.filter((d) => d.builder === 'beta' && d.step === 'test').map((d) => d.value),
      'big: filtered',
    );
  }, 180_000);
});
