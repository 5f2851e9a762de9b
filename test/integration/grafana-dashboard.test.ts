/**
 * The shipped Grafana files work: every InfluxQL query of docs/grafana/caliper-dashboard.json runs on
 * a real InfluxDB holding what Caliper writes (with Grafana's variables filled in as Grafana would),
 * the variables the links set exist, and the provisioning YAML parses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { silentLogger } from '../../core/logger.ts';
import { AggregationState } from '../../metrics/aggregation-state.ts';
import { MetricsService } from '../../metrics/metrics-service.ts';
import { SeriesRegistry } from '../../metrics/series-registry.ts';
import { InfluxDbStore } from '../../metrics/stores/influxdb-store.ts';
import { MetricSpool } from '../../metrics/stores/metric-spool.ts';
import { linkMaker } from '../../metrics/links.ts';
import { testDatabases } from '../helpers/databases.ts';
import { testInfluxUrl, uniqueDatabase } from '../helpers/influxd.ts';
import { influxSettings } from '../helpers/metric-stores.ts';
import { ROOT } from '../helpers/harness.ts';

const DIR = path.join(ROOT, 'docs', 'grafana');
interface Panel {
  title: string;
  targets: { query: string }[];
}
const dashboard = JSON.parse(fs.readFileSync(path.join(DIR, 'caliper-dashboard.json'), 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query: string; type: string; regex?: string }[] };
};

/** Grafana's substitutions for a 7-day range, builder "All" and series "bundle_size". */
function interpolate(q: string): string {
  return q
    .replace(/\$timeFilter/g, 'time > now() - 7d')
    .replace(/\$__interval/g, '1h')
    .replace(/\$builder/g, '.*')
    .replace(/\$series/g, 'bundle_size');
}

describe('Grafana files', () => {
  it('define the variables the links set, and provisioning that parses', () => {
    const names = dashboard.templating.list.map((v) => v.name);
    expect(names).toEqual(expect.arrayContaining(['builder', 'series', 'datasource']));
    const link = new URL(
      linkMaker({ type: 'grafana', url: 'http://grafana:3000', dashboardUid: dashboard.uid }, undefined).series('bundle_size', 'sample')
        .grafana as string,
    );
    expect(link.pathname).toBe(`/d/${dashboard.uid}`);
    for (const key of link.searchParams.keys()) if (key.startsWith('var-')) expect(names).toContain(key.slice(4));
    const ds = parse(fs.readFileSync(path.join(DIR, 'provisioning/datasources/caliper-influxdb.yaml'), 'utf8')) as {
      datasources: { type: string }[];
    };
    expect(ds.datasources[0]?.type).toBe('influxdb');
    const dashboards = parse(fs.readFileSync(path.join(DIR, 'provisioning/dashboards/caliper.yaml'), 'utf8')) as {
      providers: { type: string }[];
    };
    expect(dashboards.providers[0]?.type).toBe('file');
  });
});

describe.skipIf(testInfluxUrl() === null)('Grafana dashboard queries on InfluxDB', () => {
  let db: Database;
  let store: InfluxDbStore;
  const database = uniqueDatabase();

  beforeAll(async () => {
    db = await openDatabase(await (testDatabases()[0] as { create(): Promise<string> }).create());
    store = new InfluxDbStore(influxSettings(testInfluxUrl() as string, database), new MetricSpool(db.source), silentLogger);
    await store.start();
    const service = new MetricsService(store, new AggregationState(db.source), new SeriesRegistry(db.source), silentLogger);
    for (let i = 0; i < 5; i++) {
      const tags = { builder: 'sample', agent: 'a1', result: i === 4 ? 'failure' : 'success' };
      await service.captureData('build_duration', 10 + i, { tags, kind: 'duration', unit: 's', buildNumber: i + 1, buildid: i + 1 });
      await service.captureData('queue_latency', 0.5, { tags: { builder: 'sample', agent: 'a1' }, buildNumber: i + 1, buildid: i + 1 });
      await service.captureData('step_duration', 3 + i, { tags: { ...tags, step: 'test' }, buildNumber: i + 1, buildid: i + 1 });
      await service.captureData('bundle_size', 1000 + i, {
        tags: { builder: 'sample', step: 'bundle_size', agent: 'a1' },
        buildNumber: i + 1,
        buildid: i + 1,
      });
    }
    await service.flush();
  });
  afterAll(async () => {
    await store?.close();
    await db?.close();
  });

  it('answers every panel query and variable query with data', async () => {
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
      const rows = await store.query(interpolate(v.query));
      // Grafana keeps the values its "/pattern/" regex matches (a JavaScript RegExp, in the browser).
      const regex = v.regex ? new RegExp((/^\/(.*)\/$/.exec(v.regex) as RegExpExecArray)[1] as string) : null;
      const values = (rows[0]?.values ?? []).map((x) => String(x[0])).filter((x) => !regex || regex.test(x));
      expect(values.length, `variable ${v.name}`).toBeGreaterThan(0);
      if (v.name === 'series') expect(values.sort()).toEqual(['build_duration', 'bundle_size', 'queue_latency', 'step_duration']);
    }
    for (const panel of dashboard.panels) {
      for (const t of panel.targets) {
        const rows = await store.query(interpolate(t.query));
        const values = rows.flatMap((r) => r.values).filter((v) => v[1] !== null);
        expect(values.length, `panel "${panel.title}": ${t.query}`).toBeGreaterThan(0);
      }
    }
  });
});
