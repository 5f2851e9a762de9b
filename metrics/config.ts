/**
 * Metrics configuration as users write it: the `influxdb(...)`, `grafana(...)` and `prometheus(...)`
 * services, and per-builder tracking (`trackStepTimes`, `trackProperties`, `trackCustomStep`), after
 * the metrics proposal we follow: series names and extra tags settable per builder, because big
 * installations have hundreds of builders whose step names do not line up.
 */
import { z } from 'zod';
import { seriesName } from './capture-options.ts';
import { reservedTagName } from './series-filter.ts';

export const tagMap = z.record(
  z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'tag names: a letter or "_" first, then letters, digits or "_"')
    .refine((k) => !reservedTagName(k), 'is a field name (or starts with "caliper_") and cannot be a tag'),
  z.string().min(1).max(200),
);

export const influxdbSchema = z
  .strictObject({
    type: z.literal('influxdb'),
    url: z.url(),
    database: z.string().min(1).optional(),
    retentionPolicy: z.string().min(1).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    bucket: z.string().min(1).optional(),
    org: z.string().optional(),
    token: z.string().optional(),
    precision: z.enum(['ns', 'u', 'ms', 's']).default('u'),
    batchSize: z.number().int().min(1).max(100_000).default(5000),
    flushIntervalMs: z.number().int().min(10).default(1000),
    createDatabase: z.boolean().default(true),
    /** Filters over more points than this are summarised from rollups (p50/p95 then within 0.1%). */
    exactSummaryLimit: z.number().int().min(0).default(100_000),
    /** Capture build duration, step durations and queue latency (default true). */
    trackBuildTimes: z.boolean().default(true),
  })
  .refine((o) => Boolean(o.database) !== Boolean(o.bucket), {
    message: 'needs exactly one of "database" (InfluxDB 1.x) or "bucket" (2.x/3.x)',
    path: ['database'],
  });

export const grafanaSchema = z.strictObject({
  type: z.literal('grafana'),
  url: z.url(),
  dashboardUid: z.string().min(1).max(100),
  orgId: z.number().int().min(1).optional(),
  /** Name of the Grafana data source for the dashboard's `datasource` variable. */
  datasource: z.string().optional(),
});

export const prometheusSchema = z.strictObject({
  type: z.literal('prometheus'),
  /** Serve /metrics (default true). */
  enabled: z.boolean().default(true),
});

export const serviceSchema = z.discriminatedUnion('type', [influxdbSchema, grafanaSchema, prometheusSchema]);
export type InfluxDbConfig = z.output<typeof influxdbSchema>;
export type GrafanaConfig = z.output<typeof grafanaSchema>;
export type ServiceInput = z.input<typeof serviceSchema>;

export function influxdb(options: Omit<z.input<typeof influxdbSchema>, 'type'>): z.input<typeof influxdbSchema> {
  return { type: 'influxdb', ...options };
}
export function grafana(options: Omit<z.input<typeof grafanaSchema>, 'type'>): z.input<typeof grafanaSchema> {
  return { type: 'grafana', ...options };
}
export function prometheus(options: Omit<z.input<typeof prometheusSchema>, 'type'> = {}): z.input<typeof prometheusSchema> {
  return { type: 'prometheus', ...options };
}

const trackOptions = { series: seriesName.optional(), tags: tagMap.optional() };
export const trackingSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('stepTimes'), step: z.string().min(1), ...trackOptions }),
  z.strictObject({ type: z.literal('property'), property: z.string().min(1), ...trackOptions }),
  z.strictObject({ type: z.literal('customStep'), step: z.string().min(1), ...trackOptions }),
]);
export type Tracking = z.output<typeof trackingSchema>;
/** What the metrics need to know of a builder: its name and what it tracks. */
export interface MeasuredBuilder {
  name: string;
  metrics: Tracking[];
}
type TrackOptions = { series?: string; tags?: Record<string, string> };

/** Capture this step's duration (seconds) into `series` (default `<step>_duration`) with extra tags. */
export function trackStepTimes(step: string, options: TrackOptions = {}): Tracking {
  return { type: 'stepTimes', step, ...options };
}
/** Capture this numeric build property at the end of each build into `series` (default: its name). */
export function trackProperties(property: string, options: TrackOptions = {}): Tracking {
  return { type: 'property', property, ...options };
}
/** Capture what this (measuring) step reports under `series` with extra tags, instead of its own names. */
export function trackCustomStep(step: string, options: TrackOptions = {}): Tracking {
  return { type: 'customStep', step, ...options };
}

export const regressionSchema = z
  .strictObject({
    /** How many of the builder's latest successful builds make the baseline. */
    window: z.number().int().min(3).max(1000).default(10),
  })
  .prefault({});
