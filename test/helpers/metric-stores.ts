/** Every metrics store the conformance suite runs against, each over a fresh database. */
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { silentLogger } from '../../core/logger.ts';
import { AggregationState } from '../../metrics/aggregation-state.ts';
import { MetricsService } from '../../metrics/metrics-service.ts';
import { SeriesRegistry } from '../../metrics/series-registry.ts';
import { InfluxDbStore, type InfluxDbSettings } from '../../metrics/stores/influxdb-store.ts';
import { MetricSpool } from '../../metrics/stores/metric-spool.ts';
import { SqlMetricsStore } from '../../metrics/stores/sql-store.ts';
import type { MetricsStore } from '../../metrics/stores/metrics-store.ts';
import { testDatabases } from './databases.ts';
import { testInfluxUrl, uniqueDatabase } from './influxd.ts';

export interface StoreUnderTest {
  name: string;
  /** A service over a fresh store; `nowUs` drives the capture clock. Reopen with `reopen`. */
  open(nowUs: () => number): Promise<{ service: MetricsService; db: Database; store: MetricsStore; reopen: () => Promise<MetricsService> }>;
}

export function influxSettings(url: string, database: string, exactSummaryLimit = 100_000): InfluxDbSettings {
  return { url, database, precision: 'u', batchSize: 5000, flushIntervalMs: 200, createDatabase: true, exactSummaryLimit };
}

export function storesUnderTest(): StoreUnderTest[] {
  const stores: StoreUnderTest[] = testDatabases().map((d) => ({
    name: `sql on ${d.kind}`,
    async open(nowUs) {
      const url = await d.create();
      const make = async () => {
        const db = await openDatabase(url);
        const store = new SqlMetricsStore(db.source, db.kind, silentLogger);
        return {
          db,
          store,
          service: new MetricsService(store, new AggregationState(db.source), new SeriesRegistry(db.source), silentLogger, nowUs),
        };
      };
      const first = await make();
      return { ...first, reopen: async () => (await make()).service };
    },
  }));
  const influxUrl = testInfluxUrl();
  if (influxUrl) {
    stores.push({
      name: 'influxdb 1.x',
      async open(nowUs) {
        const sqlUrl = await (testDatabases()[0] as { create(): Promise<string> }).create();
        const database = uniqueDatabase();
        const make = async () => {
          const db = await openDatabase(sqlUrl);
          const store = new InfluxDbStore(influxSettings(influxUrl, database), new MetricSpool(db.source), silentLogger);
          await store.start();
          return {
            db,
            store,
            service: new MetricsService(store, new AggregationState(db.source), new SeriesRegistry(db.source), silentLogger, nowUs),
          };
        };
        const first = await make();
        return { ...first, reopen: async () => (await make()).service };
      },
    });
  } else {
    console.warn('CALIPER_TEST_INFLUX_URL not set: InfluxDB store skipped (run `npm test` for the full suite)');
  }
  return stores;
}
