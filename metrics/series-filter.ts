/** Which points a getter looks at: one series, optional tag filters, optional time range. */
export interface SeriesFilter {
  series: string;
  builder?: string;
  step?: string;
  agent?: string;
  result?: string;
  /** User tags, all of which must match. */
  tags?: Record<string, string>;
  /** Epoch milliseconds, inclusive. */
  from?: number;
  /** Epoch milliseconds, inclusive. */
  to?: number;
}

/** The tags every point may carry, besides user tags. */
export const STANDARD_TAGS = ['builder', 'step', 'agent', 'result'] as const;
export type StandardTag = (typeof STANDARD_TAGS)[number];

/** Field names: a tag may never use one (InfluxDB 3 rejects a tag and a field with the same name). */
export const FIELD_NAMES = ['value', 'build_number', 'buildid', 'samples'] as const;
export const RESERVED_TAG_NAMES = new Set<string>([...FIELD_NAMES, 'time', 'series']);
/** Tag names with this prefix are the InfluxDB store's own (its rollup rows' fields and writer tag). */
export const RESERVED_TAG_PREFIX = 'caliper_';

export function reservedTagName(name: string): boolean {
  return RESERVED_TAG_NAMES.has(name) || name.startsWith(RESERVED_TAG_PREFIX);
}

export function userTagFilter(filter: SeriesFilter): [string, string][] {
  return Object.entries(filter.tags ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
