/** Shapes of the Data API's answers (docs/api.md), as the UI reads them. */

export const RESULT_NAMES = ['success', 'warnings', 'failure', 'skipped', 'exception', 'retry', 'cancelled'] as const;
export type ResultName = (typeof RESULT_NAMES)[number];

export interface Links {
  grafana?: string;
  influxdb?: string;
}

export interface UiInfo {
  title: string;
  auth: boolean;
  grafana: Record<string, unknown> | null;
  influxdb: Record<string, unknown> | null;
}

export interface LastBuild {
  buildid: number;
  number: number;
  result: string | null;
  results: number | null;
  complete_at: number | null;
}

export interface Builder {
  builderid: number;
  name: string;
  description: string | null;
  tags: string[];
  last_build?: LastBuild | null;
  running?: number;
  average_duration?: number | null;
  links?: Links;
}

export type PropertyEntry = [value: unknown, source: string];

export interface Build {
  buildid: number;
  builderid: number;
  builder_name?: string;
  number: number;
  buildrequestid: number;
  agent: string;
  started_at: number;
  complete_at: number | null;
  complete: boolean;
  results: number | null;
  result: string | null;
  state_string: string;
  properties?: Record<string, PropertyEntry>;
  links?: Links;
}

export interface BuildRequest {
  buildrequestid: number;
  builderid: number;
  reason: string;
  complete: boolean;
  result: string | null;
  parent_buildid: number | null;
}

export interface Change {
  changeid: number;
  repository: string;
  branch: string | null;
  revision: string;
  author: string;
  comments: string;
  files: string[];
  project: string;
  category: string | null;
  when_timestamp: number;
  created_at: number;
}

export interface Step {
  stepid: number;
  buildid: number;
  number: number;
  name: string;
  started_at: number | null;
  complete_at: number | null;
  complete: boolean;
  results: number | null;
  result: string | null;
  state_string: string;
}

export interface Log {
  logid: number;
  stepid: number;
  name: string;
  slug: string;
  num_lines: number;
  num_bytes: number;
  complete?: boolean;
}

export interface LogChunk {
  logid: number;
  firstline: number;
  content: string;
}

export interface Agent {
  name: string;
  labels: string[];
  maxBuilds: number;
  connected: boolean;
  running_builds: number;
  info: { os?: string; version?: string } | null;
  last_connected_at: number | null;
}

export interface MetricSeries {
  series: string;
  kind: string;
  unit: string | null;
  tagKeys: string[];
  links?: Links;
}

export interface Baseline {
  median: number;
  spread: number;
  n: number;
}

export interface BuildMetric {
  series: string;
  time: number;
  value: number;
  tags: Record<string, string | undefined>;
  build_number: number | null;
  baseline: Baseline | null;
  score: number | null;
  unit?: string | null;
}

export interface MetricPoint {
  series: string;
  time: number;
  value: number;
  tags: Record<string, string | undefined>;
  build_number: number | null;
}

/** `GET /api/v2/metrics/{series}/summary`: what the metrics store computed over the points. */
export interface Summary {
  series: string;
  count: number;
  average: number | null;
  deviation: number | null;
  minimum: number | null;
  maximum: number | null;
  p50: number | null;
  p95: number | null;
  unit: string | null;
  /** Largest relative error of p50/p95: 0 when exact, the sketch's accuracy when read from rollups. */
  percentileError: number;
}

export interface Meta {
  total: number;
}
