/** Builds the metrics service for a master: the store its config asks for, over the master's database. */
import type { Database } from '../master/db/index.ts';
import type { Logger } from '../core/logger.ts';
import { AggregationState } from './aggregation-state.ts';
import type { InfluxDbConfig } from './config.ts';
import { MetricsService } from './metrics-service.ts';
import { SeriesRegistry } from './series-registry.ts';
import { InfluxDbStore } from './stores/influxdb-store.ts';
import { MetricSpool } from './stores/metric-spool.ts';
import { SqlMetricsStore } from './stores/sql-store.ts';
import type { MetricsStore } from './stores/metrics-store.ts';

/** `masterId`: the master's `masters` row, owner of the batches it spools for InfluxDB. */
export async function createMetricsService(
  db: Database,
  influx: InfluxDbConfig | undefined,
  log: Logger,
  masterId: number | null = null,
): Promise<MetricsService> {
  let store: MetricsStore;
  if (influx) {
    const influxStore = new InfluxDbStore(influx, new MetricSpool(db.source, masterId), log);
    await influxStore.start();
    store = influxStore;
  } else {
    store = new SqlMetricsStore(db.source, db.kind, log);
  }
  return new MetricsService(store, new AggregationState(db.source), new SeriesRegistry(db.source), log);
}
