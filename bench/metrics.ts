/**
 * Caliper metrics benchmark: capture throughput and summary latency on every metrics store.
 *
 *   source scripts/services.sh && start_postgres && start_influxdb
 *   npx tsx bench/metrics.ts
 *
 * Needs CALIPER_TEST_PG_URL (a PostgreSQL it may CREATE DATABASE on) and CALIPER_TEST_INFLUX_URL
 * (an InfluxDB 1.x). Stores under test, each behind a real MetricsService built as
 * test/helpers/metric-stores.ts builds it:
 *   - sqlite   : SqlMetricsStore over a SQLite file in a temporary directory;
 *   - postgres : SqlMetricsStore over a fresh database (CREATE DATABASE caliper_bench_<hex>);
 *   - influxdb : InfluxDbStore on a fresh InfluxDB database (spool, state and series registry in
 *                a second SQLite file of the temporary directory).
 *
 *   1. capture: N (200 000) sequential `await service.captureData(...)` with four tags, then
 *      `service.flush()`; calls/s of the loop, time until everything is stored/delivered, points/s
 *      delivered; delivery checked with SQL COUNT / InfluxQL COUNT. InfluxDB with the default batch
 *      size (5000) and a larger one (50 000). Target: >= 100 000 points/s delivered into InfluxDB.
 *   2. summary: 1 000 000 points (4 builders) loaded into one series per store through the store's
 *      own write()/flush(); then service.getSummary({series}) and getSummary({series, builder}),
 *      one warm-up and the median of 5. Targets: <= 100 ms on InfluxDB, <= 300 ms on PostgreSQL
 *      (SQLite: reported only). Count, average (1e-9 relative), deviation, min, max, p50, p95 are
 *      checked against the values generated here.
 *   3. a figures block: one line per figure, target and met / NOT met.
 * Everything created (databases, files) is removed at the end. Exit code 1 if a check fails.
 * Knobs: BENCH_CAPTURE (200000), BENCH_SUMMARY_POINTS (1000000), BENCH_RUNS (5),
 * BENCH_INFLUX_BIG_BATCH (50000), BENCH_STORES (sqlite,postgres,influxdb).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { openDatabase, type Database } from '../master/db/data-source.ts';
import { silentLogger } from '../core/logger.ts';
import { AggregationState } from '../metrics/aggregation-state.ts';
import type { MetricPoint } from '../metrics/metric-point.ts';
import { MetricsService } from '../metrics/metrics-service.ts';
import type { SeriesFilter } from '../metrics/series-filter.ts';
import { SeriesRegistry } from '../metrics/series-registry.ts';
import { quantileFromPositions, quantilePositions, type Summary } from '../metrics/summary.ts';
import { InfluxDbStore, type InfluxDbSettings } from '../metrics/stores/influxdb-store.ts';
import { MetricSpool } from '../metrics/stores/metric-spool.ts';
import { SqlMetricsStore } from '../metrics/stores/sql-store.ts';
import type { MetricsStore } from '../metrics/stores/metrics-store.ts';

const CAPTURE = Number(process.env.BENCH_CAPTURE ?? 200_000);
const SUMMARY_POINTS = Number(process.env.BENCH_SUMMARY_POINTS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BIG_BATCH = Number(process.env.BENCH_INFLUX_BIG_BATCH ?? 50_000);
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres,influxdb').split(',').map((s) => s.trim());
const WARMUP_CAPTURES = 5_000;
const BUILDERS = 4;
const FILTER_BUILDER = 'b1';
const CAPTURE_TAGS = { builder: 'bench', step: 'compile', agent: 'agent-1', host: 'h1' };

const TARGET_INFLUX_POINTS_S = 100_000;
const TARGET_SUMMARY_MS: Record<StoreName, number | null> = { influxdb: 100, postgres: 300, sqlite: null };
const REL_TOL = 1e-9;

type StoreName = 'sqlite' | 'postgres' | 'influxdb';

const PG_URL = process.env.CALIPER_TEST_PG_URL;
const INFLUX_URL = process.env.CALIPER_TEST_INFLUX_URL;
if ((STORES.includes('postgres') && !PG_URL) || (STORES.includes('influxdb') && !INFLUX_URL)) {
  console.error('bench/metrics.ts needs CALIPER_TEST_PG_URL and CALIPER_TEST_INFLUX_URL:');
  console.error('  source scripts/services.sh && start_postgres && start_influxdb && npx tsx bench/metrics.ts');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------------
// small helpers

const started = performance.now();
const progress = (msg: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => n.toFixed(1);
const relErr = (a: number | null, b: number) => (a === null ? Infinity : b === 0 ? Math.abs(a) : Math.abs(a - b) / Math.abs(b));

/** mulberry32: a small seeded PRNG, so every run loads the same values. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A store that keeps nothing: captureData's own cost (validation, clock, registry) without a store.
 * Only what capturing touches; cast, so the benchmark does not break when the interface grows.
 */
function nullStore(): MetricsStore {
  const store = { kind: 'sql', timeStepUs: 1, write: async () => {}, flush: async () => {}, close: async () => {} };
  return store as unknown as MetricsStore;
}

// ---------------------------------------------------------------------------------------------------
// stores

interface Opened {
  name: StoreName;
  db: Database;
  store: MetricsStore;
  service: MetricsService;
  /** SQL COUNT / InfluxQL COUNT of a series, straight from the database. */
  count(series: string): Promise<number>;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-bench-metrics-'));
const pgDatabase = `caliper_bench_${randomBytes(5).toString('hex')}`;
const influxDatabase = `caliper_bench_${randomBytes(5).toString('hex')}`;
const cleanups: (() => Promise<void>)[] = [];

function serviceOver(db: Database, store: MetricsStore): MetricsService {
  return new MetricsService(store, new AggregationState(db.source), new SeriesRegistry(db.source), silentLogger);
}

async function sqlCount(db: Database, series: string): Promise<number> {
  const placeholder = db.kind === 'postgres' ? '$1' : '?';
  const rows = (await db.source.query(`SELECT COUNT(*) AS n FROM metric_points WHERE series = ${placeholder}`, [series])) as {
    n: string | number;
  }[];
  return Number(rows[0]?.n ?? 0);
}

async function openSqlite(): Promise<Opened> {
  const db = await openDatabase(`sqlite:${path.join(tmp, 'sql-store.sqlite')}`);
  cleanups.push(() => db.close());
  const store = new SqlMetricsStore(db.source, db.kind, silentLogger);
  return { name: 'sqlite', db, store, service: serviceOver(db, store), count: (s) => sqlCount(db, s) };
}

async function openPostgres(): Promise<Opened> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pgDatabase}`);
  await admin.end();
  cleanups.push(async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`);
    await c.end();
  });
  const u = new URL(PG_URL as string);
  u.pathname = `/${pgDatabase}`;
  const db = await openDatabase(u.toString());
  cleanups.push(() => db.close());
  const store = new SqlMetricsStore(db.source, db.kind, silentLogger);
  return { name: 'postgres', db, store, service: serviceOver(db, store), count: (s) => sqlCount(db, s) };
}

let influxSide: Database | null = null;
const influxSettings = (batchSize: number, exactSummaryLimit = 100_000): InfluxDbSettings => ({
  url: INFLUX_URL as string,
  database: influxDatabase,
  precision: 'u',
  batchSize,
  flushIntervalMs: 1000,
  createDatabase: true,
  exactSummaryLimit,
});

async function influxQuery(
  q: string,
  db = influxDatabase,
): Promise<{ series?: { columns: string[]; values: unknown[][] }[]; error?: string }[]> {
  const res = await fetch(`${(INFLUX_URL as string).replace(/\/+$/, '')}/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ db, q, epoch: 'u' }),
  });
  const body = (await res.json()) as {
    results?: { series?: { columns: string[]; values: unknown[][] }[]; error?: string }[];
    error?: string;
  };
  if (res.status !== 200 || body.error) throw new Error(`InfluxDB ${res.status}: ${body.error ?? JSON.stringify(body).slice(0, 300)}`);
  return body.results ?? [];
}

/** `exactSummaryLimit`: the default answers a 1M-point summary from rollups; a huge one forces raw points. */
async function openInflux(batchSize: number, exactSummaryLimit = 100_000): Promise<Opened> {
  if (!influxSide) {
    const side = await openDatabase(`sqlite:${path.join(tmp, 'influx-side.sqlite')}`);
    influxSide = side;
    cleanups.push(() => side.close());
    cleanups.push(async () => {
      await influxQuery(`DROP DATABASE "${influxDatabase}"`, '');
    });
  }
  const db = influxSide;
  const store = new InfluxDbStore(influxSettings(batchSize, exactSummaryLimit), new MetricSpool(db.source), silentLogger);
  await store.start();
  cleanups.push(() => store.close());
  return {
    name: 'influxdb',
    db,
    store,
    service: serviceOver(db, store),
    async count(series) {
      const rows = await store.query(`SELECT COUNT("value") FROM "${series}"`);
      return Number(rows[0]?.values[0]?.[1] ?? 0);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// 1. capture

interface CaptureResult {
  label: string;
  store: StoreName | 'none';
  batch: number | null;
  loopMs: number;
  flushMs: number;
  stored: number;
  /** InfluxDB only: points delivered (HTTP 204) while the capture loop was still running. */
  deliveredDuringLoop: number | null;
}
const callsPerS = (r: CaptureResult) => (CAPTURE / r.loopMs) * 1000;
const deliveredPerS = (r: CaptureResult) => (r.stored / (r.loopMs + r.flushMs)) * 1000;

async function captureLoop(service: MetricsService, series: string, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++)
    await service.captureData(series, 1 + (i % 1000) * 0.001, { tags: CAPTURE_TAGS, kind: 'duration', unit: 's' });
  return performance.now() - t0;
}

async function capture(o: Opened, label: string, batch: number | null): Promise<CaptureResult> {
  const series = `bench_capture${batch ? `_b${batch}` : ''}`;
  await captureLoop(o.service, 'bench_warmup', WARMUP_CAPTURES);
  await o.service.flush();
  progress(`${label}: ${int(CAPTURE)} x captureData ...`);
  const influx = o.store instanceof InfluxDbStore ? o.store : null;
  const delivered0 = influx?.delivered ?? 0;
  const loopMs = await captureLoop(o.service, series, CAPTURE);
  const deliveredDuringLoop = influx ? influx.delivered - delivered0 : null;
  const t1 = performance.now();
  await o.service.flush();
  const flushMs = performance.now() - t1;
  const stored = await o.count(series);
  const r: CaptureResult = { label, store: o.name, batch, loopMs, flushMs, stored, deliveredDuringLoop };
  progress(
    `${label}: loop ${ms(loopMs)} ms (${int(callsPerS(r))} calls/s)${deliveredDuringLoop === null ? '' : `, delivered during the loop ${int(deliveredDuringLoop)}`}, flush ${ms(flushMs)} ms, ` +
      `stored ${int(stored)}/${int(CAPTURE)} -> ${int(deliveredPerS(r))} points/s delivered`,
  );
  return r;
}

// ---------------------------------------------------------------------------------------------------
// 2. summary

interface Expected {
  count: number;
  average: number;
  deviation: number;
  minimum: number;
  maximum: number;
  p50: number;
  p95: number;
}

/** What a correct summary of `values` is, computed here (Neumaier sum, two-pass deviation, R-7 percentiles). */
function expectedOf(values: Float64Array): Expected {
  const n = values.length;
  let sum = 0;
  let c = 0;
  for (const v of values) {
    const t = sum + v;
    c += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
    sum = t;
  }
  const average = (sum + c) / n;
  let ss = 0;
  for (const v of values) ss += (v - average) * (v - average);
  const sorted = Float64Array.from(values).sort();
  const at = (k: number) => sorted[k] as number;
  return {
    count: n,
    average,
    deviation: Math.sqrt(ss / (n - 1)),
    minimum: at(0),
    maximum: at(n - 1),
    p50: quantileFromPositions(n, 0.5, at) as number,
    p95: quantileFromPositions(n, 0.95, at) as number,
  };
}

const SUMMARY_SERIES = 'bench_summary';
const values = new Float64Array(SUMMARY_POINTS);
{
  const rand = prng(20240607);
  for (let i = 0; i < SUMMARY_POINTS; i += 2) {
    // Box-Muller: two normal values per pair of uniforms; mean 100, sd 15.
    const u = 1 - rand();
    const r = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * rand();
    values[i] = 100 + 15 * r * Math.cos(th);
    if (i + 1 < SUMMARY_POINTS) values[i + 1] = 100 + 15 * r * Math.sin(th);
  }
}
const builderOf = (i: number) => `b${i % BUILDERS}`;
const T0_US = (Date.now() - 3_600_000) * 1000;

async function loadSummary(o: Opened): Promise<number> {
  const CHUNK = 50_000;
  const t0 = performance.now();
  for (let start = 0; start < SUMMARY_POINTS; start += CHUNK) {
    const points: MetricPoint[] = [];
    for (let i = start; i < Math.min(start + CHUNK, SUMMARY_POINTS); i++) {
      points.push({
        series: SUMMARY_SERIES,
        time: T0_US + i * 1000,
        value: values[i] as number,
        tags: { builder: builderOf(i), step: 'test' },
        buildNumber: null,
        buildid: null,
      });
    }
    await o.store.write(points);
    if ((start / CHUNK) % 5 === 4) progress(`${o.name}: loading ${int(start + CHUNK)} / ${int(SUMMARY_POINTS)} handed to the store`);
  }
  await o.store.flush();
  return performance.now() - t0;
}

interface SummaryTiming {
  store: StoreName;
  filter: string;
  runs: number[];
  median: number;
  summary: Summary;
  checks: { name: string; ok: boolean; detail: string }[];
  /** Shown for comparison, no target (InfluxDB forced to raw points). */
  reportOnly?: boolean;
}

function check(summary: Summary, exp: Expected): { name: string; ok: boolean; detail: string }[] {
  const rel = (name: keyof Expected, got: number | null) => {
    const e = relErr(got, exp[name]);
    return { name, ok: e <= REL_TOL, detail: `${got} vs ${exp[name]} (rel ${e.toExponential(1)})` };
  };
  // Percentiles answered from InfluxDB rollups are within the sketch's bound (percentileError), not 1e-9.
  const approx = (name: 'p50' | 'p95', got: number | null) => {
    const e = relErr(got, exp[name]);
    const tol = Math.max(REL_TOL, summary.percentileError);
    return { name, ok: e <= tol, detail: `${got} vs ${exp[name]} (rel ${e.toExponential(1)}, allowed ${tol})` };
  };
  return [
    { name: 'count', ok: summary.count === exp.count, detail: `${summary.count} vs ${exp.count}` },
    rel('average', summary.average),
    rel('deviation', summary.deviation),
    rel('minimum', summary.minimum),
    rel('maximum', summary.maximum),
    approx('p50', summary.p50),
    approx('p95', summary.p95),
  ];
}

async function timeSummary(o: Opened, filter: SeriesFilter, label: string, exp: Expected): Promise<SummaryTiming> {
  // Cold: every timed run skips the summary cache and asks the store.
  await o.service.getSummary(filter, { fresh: true }); // warm-up (the database's caches, not ours)
  const runs: number[] = [];
  let summary: Summary | null = null;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    summary = await o.service.getSummary(filter, { fresh: true });
    runs.push(performance.now() - t0);
  }
  const t1 = performance.now();
  await o.service.getSummary(filter);
  progress(`${o.name}: getSummary(${label}) repeated (served from the summary cache): ${ms(performance.now() - t1)} ms`);
  const s = summary as Summary;
  const checks = check(s, exp);
  const bad = checks.filter((c) => !c.ok);
  progress(
    `${o.name}: getSummary(${label}) median ${ms(median(runs))} ms [${runs.map(ms).join(', ')}]; count ${int(s.count)}, ` +
      `avg ${s.average}, p50 ${s.p50}, p95 ${s.p95}; checks ${bad.length === 0 ? 'OK' : `FAILED: ${bad.map((c) => `${c.name} ${c.detail}`).join('; ')}`}`,
  );
  return { store: o.name, filter: label, runs, median: median(runs), summary: s, checks };
}

/** Where a summary's time goes: the store's aggregates query and its percentile-positions query. */
async function breakdown(
  o: Opened,
  filter: SeriesFilter,
  count: number,
): Promise<{ aggregates: number; positions: number; registry: number }> {
  const positions = [...quantilePositions(count, 0.5), ...quantilePositions(count, 0.95)];
  const time = async (f: () => Promise<unknown>) => {
    const r: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await f();
      r.push(performance.now() - t0);
    }
    return median(r);
  };
  return {
    aggregates: await time(() => o.store.aggregates(filter)),
    positions: await time(() => o.store.valuesAtPositions(filter, positions, count)),
    registry: await time(() => o.service.describe(filter.series)),
  };
}

// ---------------------------------------------------------------------------------------------------
// run

const captures: CaptureResult[] = [];
const summaries: SummaryTiming[] = [];
const loads: { store: StoreName; ms: number }[] = [];
const breakdowns: { store: StoreName; filter: string; aggregates: number; positions: number; registry: number }[] = [];
let exitCode = 0;

try {
  progress(`metrics benchmark: ${int(CAPTURE)} captures, ${int(SUMMARY_POINTS)} summary points, stores ${STORES.join(', ')}; tmp ${tmp}`);
  const filterValues = Float64Array.from(values.filter((_, i) => builderOf(i) === FILTER_BUILDER));
  const expAll = expectedOf(values);
  const expBuilder = expectedOf(filterValues);

  // Reference: captureData's own cost over a store that keeps nothing, and InfluxDbStore.toLine alone.
  {
    const side = await openDatabase(`sqlite:${path.join(tmp, 'null-side.sqlite')}`);
    cleanups.push(() => side.close());
    const service = serviceOver(side, nullStore());
    await captureLoop(service, 'bench_warmup', WARMUP_CAPTURES);
    const loopMs = await captureLoop(service, 'bench_capture', CAPTURE);
    captures.push({
      label: 'no store (service only)',
      store: 'none',
      batch: null,
      loopMs,
      flushMs: 0,
      stored: CAPTURE,
      deliveredDuringLoop: null,
    });
    progress(`reference: captureData over a no-op store: ${ms(loopMs)} ms (${int((CAPTURE / loopMs) * 1000)} calls/s)`);
  }

  for (const name of STORES as StoreName[]) {
    progress(`=== ${name} ===`);
    let o: Opened;
    if (name === 'sqlite') o = await openSqlite();
    else if (name === 'postgres') o = await openPostgres();
    else if (name === 'influxdb') o = await openInflux(5000);
    else throw new Error(`unknown store ${String(name)}`);

    if (name === 'influxdb') {
      captures.push(await capture(o, 'influxdb (batch 5000)', 5000));
      const big = await openInflux(BIG_BATCH);
      captures.push(await capture(big, `influxdb (batch ${BIG_BATCH})`, BIG_BATCH));
      // Loading: the largest batch the configuration allows, line protocol in 100 000-line POSTs.
      o = await openInflux(100_000);
    } else {
      captures.push(await capture(o, name, null));
    }

    progress(`${name}: loading ${int(SUMMARY_POINTS)} points into "${SUMMARY_SERIES}" through the store's write()/flush() ...`);
    const loadMs = await loadSummary(o);
    loads.push({ store: name, ms: loadMs });
    const stored = await o.count(SUMMARY_SERIES);
    if (name === 'postgres') {
      // What autovacuum does within a minute of a bulk load; without it the planner may still
      // believe the table is tiny and pick another plan than a long-running master would see.
      const t0 = performance.now();
      await o.db.source.query('ANALYZE metric_points');
      progress(`postgres: ANALYZE metric_points (${ms(performance.now() - t0)} ms)`);
    }
    progress(`${name}: loaded in ${ms(loadMs)} ms (${int((SUMMARY_POINTS / loadMs) * 1000)} points/s); COUNT = ${int(stored)}`);

    for (const [label, filter, exp] of [
      ['series', { series: SUMMARY_SERIES }, expAll],
      [`builder=${FILTER_BUILDER}`, { series: SUMMARY_SERIES, builder: FILTER_BUILDER }, expBuilder],
    ] as const) {
      summaries.push(await timeSummary(o, filter, label, exp));
      if (name === 'influxdb' && label === 'series') {
        // The same summary with rollups turned off: every aggregate and percentile from raw points.
        const raw = await openInflux(5000, Number.MAX_SAFE_INTEGER);
        summaries.push({ ...(await timeSummary(raw, filter, 'series, raw points only', exp)), reportOnly: true });
      }
      const b = await breakdown(o, filter, exp.count);
      breakdowns.push({ store: name, filter: label, ...b });
      progress(
        `${name}: ${label}: store.aggregates ${ms(b.aggregates)} ms, store.valuesAtPositions (4 positions) ${ms(b.positions)} ms, registry ${ms(b.registry)} ms`,
      );
    }
  }

  // -------------------------------------------------------------------------------------------------
  // 3. figures
  const lines: string[] = [];
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const row = (what: string, figure: string, target: string) => lines.push(`${what.padEnd(56)} ${figure.padEnd(30)} ${target}`);
  for (const r of captures) {
    if (r.store === 'none') {
      row(`capture ${r.label}`, `${int(callsPerS(r))} calls/s`, '(reference)');
      continue;
    }
    row(`capture ${r.label}: captureData`, `${int(callsPerS(r))} calls/s`, '(report)');
    const delivered = deliveredPerS(r);
    const complete = r.stored === CAPTURE;
    const target =
      r.store === 'influxdb'
        ? `target >= ${int(TARGET_INFLUX_POINTS_S)}: ${met(delivered >= TARGET_INFLUX_POINTS_S && complete)}`
        : '(report)';
    row(`capture ${r.label}: delivered`, `${int(delivered)} points/s`, target);
    row(`capture ${r.label}: flush after the loop`, `${ms(r.flushMs)} ms`, '(report)');
    if (r.deliveredDuringLoop !== null)
      row(`capture ${r.label}: delivered during the loop`, `${int(r.deliveredDuringLoop)} points`, '(report)');
    row(`capture ${r.label}: COUNT stored`, `${int(r.stored)} / ${int(CAPTURE)}`, complete ? 'OK' : 'MISSING POINTS');
    if (!complete) exitCode = 1;
  }
  for (const l of loads)
    row(
      `load ${l.store}: ${int(SUMMARY_POINTS)} points via store`,
      `${ms(l.ms)} ms (${int((SUMMARY_POINTS / l.ms) * 1000)} points/s)`,
      '(report)',
    );
  for (const s of summaries) {
    const t = TARGET_SUMMARY_MS[s.store];
    row(
      `summary ${s.store} getSummary(${s.filter})`,
      `${ms(s.median)} ms (median of ${RUNS})`,
      t === null || s.reportOnly ? '(report)' : `target <= ${t} ms: ${met(s.median <= t)}`,
    );
  }
  for (const b of breakdowns)
    row(`  ${b.store} ${b.filter}: aggregates / positions`, `${ms(b.aggregates)} / ${ms(b.positions)} ms`, '(breakdown)');
  for (const s of summaries) {
    const bad = s.checks.filter((c) => !c.ok);
    if (bad.length > 0) exitCode = 1;
    row(
      `checks ${s.store} ${s.filter}: count, average...p95`,
      `count ${int(s.summary.count)}`,
      bad.length > 0
        ? `MISMATCH ${bad.map((c) => `${c.name}: ${c.detail}`).join('; ')}`
        : s.summary.percentileError > 0
          ? `OK (p50/p95 within ${s.summary.percentileError * 100}%: rollups)`
          : 'OK',
    );
  }
  console.log('\n=== metrics figures ===');
  for (const l of lines) console.log(l);
  console.log(`(total ${ms((performance.now() - started) / 1000)} s; ${os.cpus().length} CPUs)`);
} catch (e) {
  console.error('benchmark failed:', e);
  exitCode = 1;
} finally {
  for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error('cleanup:', String(e)));
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(exitCode);
