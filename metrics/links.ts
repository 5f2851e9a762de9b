/**
 * Links from Caliper to Grafana and InfluxDB. With no grafana(...) service configured there are no
 * Grafana links at all; the shipped dashboard (docs/grafana/) reads the `builder` and `series`
 * template variables these links set.
 */
import type { GrafanaConfig, InfluxDbConfig } from './config.ts';
import { ident, literal } from './stores/influxql.ts';

export interface Links {
  grafana?: string;
  influxdb?: string;
}

export interface LinkMaker {
  builder(builder: string): Links;
  series(series: string, builder?: string): Links;
  build(builder: string, startedMs: number, completeMs: number | null): Links;
}

/** Time around a build shown in Grafana: a minute before and after. */
const MARGIN_MS = 60_000;

export function linkMaker(grafana: GrafanaConfig | undefined, influx: InfluxDbConfig | undefined): LinkMaker {
  const dashboard = (vars: Record<string, string>, range?: { from: number; to: number }): string | undefined => {
    if (!grafana) return undefined;
    const params = new URLSearchParams({ orgId: String(grafana.orgId ?? 1) });
    if (grafana.datasource) params.set('var-datasource', grafana.datasource);
    for (const [k, v] of Object.entries(vars)) params.set(`var-${k}`, v);
    if (range) {
      params.set('from', String(range.from));
      params.set('to', String(range.to));
    }
    return `${grafana.url.replace(/\/+$/, '')}/d/${encodeURIComponent(grafana.dashboardUid)}?${params}`;
  };
  const influxQuery = (series: string, builder?: string): string | undefined => {
    if (!influx) return undefined;
    const db = influx.database ?? influx.bucket ?? '';
    const where = builder ? ` WHERE "builder" = ${literal(builder)}` : '';
    const q = `SELECT * FROM ${ident(series)}${where} ORDER BY time DESC LIMIT 100`;
    return `${influx.url.replace(/\/+$/, '')}/query?${new URLSearchParams({ db, q })}`;
  };
  // Only the links there are: no key with an undefined value.
  const compact = (l: { grafana?: string | undefined; influxdb?: string | undefined }): Links => {
    const out: Links = {};
    if (l.grafana !== undefined) out.grafana = l.grafana;
    if (l.influxdb !== undefined) out.influxdb = l.influxdb;
    return out;
  };
  return {
    builder: (builder) => compact({ grafana: dashboard({ builder }) }),
    series: (series, builder) =>
      compact({ grafana: dashboard(builder ? { series, builder } : { series }), influxdb: influxQuery(series, builder) }),
    build: (builder, startedMs, completeMs) =>
      compact({ grafana: dashboard({ builder }, { from: startedMs - MARGIN_MS, to: (completeMs ?? Date.now()) + MARGIN_MS }) }),
  };
}
