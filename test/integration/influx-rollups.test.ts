/**
 * Summaries from rollups on a real InfluxDB: count, average, deviation, minimum and maximum agree
 * with simple-statistics to 1e-9 and p50/p95 to the sketch's 0.1%, with tag filters, time ranges that
 * cut hours, a restarted writer adding to the same hours, and a series that already held points
 * written before rollups existed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { max, mean, min, quantile, sampleStandardDeviation } from 'simple-statistics';
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { silentLogger } from '../../core/logger.ts';
import type { MetricPoint } from '../../metrics/metric-point.ts';
import type { SeriesFilter } from '../../metrics/series-filter.ts';
import { InfluxDbStore } from '../../metrics/stores/influxdb-store.ts';
import { MetricSpool } from '../../metrics/stores/metric-spool.ts';
import { ROLLUP_BUCKET_US, SKETCH_ACCURACY } from '../../metrics/stores/rollup.ts';
import { testDatabases } from '../helpers/databases.ts';
import { testInfluxUrl, uniqueDatabase } from '../helpers/influxd.ts';
import { influxSettings } from '../helpers/metric-stores.ts';
import { waitFor } from '../helpers/harness.ts';

const HOUR_MS = ROLLUP_BUCKET_US / 1000;
const T0_MS = Date.UTC(2026, 0, 1); // an hour boundary

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** `n` points over `hours` hours from `startMs`, negative values and outliers included. */
function points(series: string, n: number, startMs: number, hours: number, seed: number): MetricPoint[] {
  const r = random(seed);
  const stepUs = Math.floor((hours * ROLLUP_BUCKET_US) / n);
  return Array.from({ length: n }, (_, i) => ({
    series,
    time: startMs * 1000 + i * stepUs + (seed % 97),
    value: Math.round((r() * 2000 - 300) * 1000) / 1000 + (i % 7 === 0 ? 1e4 * r() : 0),
    tags: { builder: r() < 0.5 ? 'alpha' : 'beta', step: r() < 0.3 ? 'compile' : 'test' },
    buildNumber: null,
    buildid: null,
  }));
}

function within(actual: number | null, expected: number, tolerance: number, what: string): void {
  expect(actual, what).not.toBeNull();
  const err = Math.abs((actual as number) - expected) / Math.max(Math.abs(expected), 1e-300);
  expect(err, `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance);
}

function matching(all: MetricPoint[], f: SeriesFilter): number[] {
  return all
    .filter((p) => (f.builder === undefined || p.tags.builder === f.builder) && (f.step === undefined || p.tags.step === f.step))
    .filter((p) => (f.from === undefined || p.time >= f.from * 1000) && (f.to === undefined || p.time <= f.to * 1000 + 999))
    .map((p) => p.value);
}

describe.skipIf(testInfluxUrl() === null)('InfluxDB rollups', () => {
  let db: Database;
  const stores: InfluxDbStore[] = [];
  const database = uniqueDatabase();
  const url = testInfluxUrl() as string;

  /** A store that answers from rollups above `limit` points (0: always when it can). */
  async function open(limit: number): Promise<InfluxDbStore> {
    const store = new InfluxDbStore(influxSettings(url, database, limit), new MetricSpool(db.source), silentLogger);
    await store.start();
    stores.push(store);
    return store;
  }

  async function expectRollupAnswer(store: InfluxDbStore, all: MetricPoint[], f: SeriesFilter, what: string): Promise<void> {
    const values = matching(all, f);
    const s = await store.statistics(f, [0.5, 0.95]);
    expect(s.percentileError, `${what}: answered from rollups`).toBe(SKETCH_ACCURACY);
    expect(s.count, `${what}: count`).toBe(values.length);
    within(s.average, mean(values), 1e-9, `${what}: average`);
    within(s.deviation, sampleStandardDeviation(values), 1e-9, `${what}: deviation`);
    within(s.minimum, min(values), 0, `${what}: minimum`);
    within(s.maximum, max(values), 0, `${what}: maximum`);
    within(s.percentiles[0] ?? null, quantile(values, 0.5), SKETCH_ACCURACY, `${what}: p50`);
    within(s.percentiles[1] ?? null, quantile(values, 0.95), SKETCH_ACCURACY, `${what}: p95`);
    const agg = await store.aggregates(f);
    expect(agg.count).toBe(values.length);
  }

  /** `precision: 's'`: timestamps alone cannot tell two writers' rows apart. */
  async function openCoarse(): Promise<InfluxDbStore> {
    const store = new InfluxDbStore({ ...influxSettings(url, database, 0), precision: 's' }, new MetricSpool(db.source), silentLogger);
    await store.start();
    stores.push(store);
    return store;
  }

  const point = (series: string, sec: number, value: number, tags: Record<string, string>): MetricPoint => ({
    series,
    time: (T0_MS + sec * 1000) * 1000,
    value,
    tags,
    buildNumber: null,
    buildid: null,
  });

  async function coverageMarked(store: InfluxDbStore, series: string): Promise<void> {
    await waitFor(`the coverage mark of ${series}`, async () => {
      await store.flush();
      return (await store.query(`SELECT COUNT("since") FROM "caliper_rollup_since" WHERE "series" = '${series}'`)).length > 0;
    });
  }

  beforeAll(async () => {
    db = await openDatabase(await (testDatabases()[0] as { create(): Promise<string> }).create());
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await db?.close();
  });

  it('answers whole hours from rollups and the cut ends from raw points, exactly but for the percentiles', async () => {
    const store = await open(0);
    const all = points('rolled', 30_000, T0_MS, 5, 1);
    for (let i = 0; i < all.length; i += 7000) await store.write(all.slice(i, i + 7000));
    await coverageMarked(store, 'rolled');

    await expectRollupAnswer(store, all, { series: 'rolled' }, 'whole series');
    await expectRollupAnswer(store, all, { series: 'rolled', builder: 'alpha' }, 'builder=alpha');
    await expectRollupAnswer(store, all, { series: 'rolled', builder: 'beta', step: 'compile' }, 'builder=beta step=compile');
    const cut = { series: 'rolled', from: T0_MS + 1.5 * HOUR_MS + 123, to: T0_MS + 4.2 * HOUR_MS };
    await expectRollupAnswer(store, all, cut, 'a range cutting two hours');
    await expectRollupAnswer(store, all, { ...cut, builder: 'alpha' }, 'a cut range and a builder');

    // No whole hour inside the range: the raw path answers, exactly.
    const inside = { series: 'rolled', from: T0_MS + 2.1 * HOUR_MS, to: T0_MS + 2.9 * HOUR_MS };
    const values = matching(all, inside);
    const exact = await store.statistics(inside, [0.5, 0.95]);
    expect(exact.percentileError).toBe(0);
    expect(exact.count).toBe(values.length);
    within(exact.percentiles[0] ?? null, quantile(values, 0.5), 1e-9, 'p50 inside one hour');

    // Under the limit, the same store settings answer exactly.
    const exactStore = await open(1_000_000);
    const e = await exactStore.statistics({ series: 'rolled' }, [0.5, 0.95]);
    expect(e.percentileError).toBe(0);
    within(e.percentiles[1] ?? null, quantile(matching(all, { series: 'rolled' }), 0.95), 1e-9, 'exact p95');
  }, 60_000);

  it('adds up the rows of a restarted writer in the same hours', async () => {
    const first = await open(0);
    const before = points('restarted', 6000, T0_MS, 3, 2);
    await first.write(before);
    await coverageMarked(first, 'restarted');
    await first.close();

    const second = await open(0);
    const after = points('restarted', 4000, T0_MS + 1000, 3, 3);
    await second.write(after);
    await second.flush();
    await expectRollupAnswer(second, [...before, ...after], { series: 'restarted' }, 'two writers');
  }, 60_000);

  it('counts points written before rollups existed from the raw series', async () => {
    // An older master wrote these: raw points only, no rollup rows.
    const legacy = points('legacy', 3000, T0_MS, 2, 4);
    const old = await open(0);
    const body = legacy.map((p) => old.toLine(p)).join('\n');
    const res = await fetch(`${url}/write?db=${database}&precision=u`, { method: 'POST', body });
    expect(res.status).toBe(204);

    const later = points('legacy', 9000, T0_MS + 2 * HOUR_MS + 17, 3, 5);
    await old.write(later);
    await coverageMarked(old, 'legacy');
    const mark = await old.query(`SELECT MIN("since") FROM "caliper_rollup_since" WHERE "series" = 'legacy'`);
    expect(Number(mark[0]?.values[0]?.[1])).toBe(later[0]?.time);
    await expectRollupAnswer(old, [...legacy, ...later], { series: 'legacy' }, 'legacy and new points');
  }, 60_000);

  it('keeps the rows of two writers, and of the same tags in another order, apart (precision s)', async () => {
    const [a, b] = [await openCoarse(), await openCoarse()];
    const written = [
      point('shared', 1, 1, { builder: 'alpha', step: 'test' }),
      point('shared', 2, 2, { step: 'test', builder: 'alpha' }),
      point('shared', 3, 3, { builder: 'alpha', step: 'test' }),
      point('shared', 4, 4, { builder: 'alpha', step: 'test' }),
    ];
    await a.write(written.slice(0, 2));
    await b.write(written.slice(2));
    await coverageMarked(a, 'shared');
    await coverageMarked(b, 'shared');
    await expectRollupAnswer(a, written, { series: 'shared' }, 'two writers, tags in two orders');
  }, 30_000);

  it('reads exactly the percentiles whose neighbours straddle zero, and copes with a raw value far from the rest', async () => {
    const store = await open(0);
    const signs = Array.from({ length: 100 }, (_, i) => point('signs', i, i < 50 ? -1000 - i : 1000.5 + i, { builder: 'alpha' }));
    await store.write(signs);
    await coverageMarked(store, 'signs');
    const s = await store.statistics({ series: 'signs' }, [0.5, 0.95]);
    expect(s.percentileError).toBe(SKETCH_ACCURACY);
    within(
      s.percentiles[0] ?? null,
      quantile(
        signs.map((p) => p.value),
        0.5,
      ),
      1e-9,
      'p50 between -1000 and +1000.5',
    );

    // Whole hours hold 1 and 2; the cut end of the range a value 1e-120 (no sketch spans both).
    const wide = [point('wide', 0, 1, {}), point('wide', 1, 2, {}), point('wide', 3700, 1e-120, {})];
    await store.write(wide);
    await coverageMarked(store, 'wide');
    const range = { series: 'wide', to: T0_MS + 3800 * 1000 };
    const w = await store.statistics(range, [0.5]);
    expect(w.count).toBe(3);
    expect(w.percentiles[0]).toBe(1);
    expect(w.percentileError).toBe(0);
  }, 30_000);

  it('re-sends only the spooled batches of its own master (and ownerless ones)', async () => {
    const [mine, theirs, legacy] = [new MetricSpool(db.source, 101), new MetricSpool(db.source, 102), new MetricSpool(db.source)];
    await mine.add(['m value=1 1'], 1);
    await theirs.add(['t value=1 1'], 1);
    await legacy.add(['l value=1 1'], 1);
    expect((await mine.oldest(10)).map((r) => r.lines)).toEqual(['m value=1 1', 'l value=1 1']);
    expect((await theirs.oldest(10)).map((r) => r.lines)).toEqual(['t value=1 1', 'l value=1 1']);
    for (const r of await mine.oldest(10)) await mine.remove(r.id);
    for (const r of await theirs.oldest(10)) await theirs.remove(r.id);
  });
});
