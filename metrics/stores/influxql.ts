/** InfluxQL text for a series filter: identifiers and strings quoted so no value can change the query. */
import { STANDARD_TAGS, userTagFilter, type SeriesFilter } from '../series-filter.ts';

export const ident = (name: string): string => `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
export const literal = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** `FROM "rp"."series" WHERE ...` for a filter (times are epoch ms, inclusive), and any `extra` conditions. */
export function fromWhere(filter: SeriesFilter, retentionPolicy?: string, extra: readonly string[] = []): string {
  const from = retentionPolicy ? `${ident(retentionPolicy)}.${ident(filter.series)}` : ident(filter.series);
  const conditions = [...tagConditions(filter), ...extra];
  if (filter.from !== undefined) conditions.push(`time >= ${BigInt(Math.trunc(filter.from)) * 1_000_000n}`);
  if (filter.to !== undefined) conditions.push(`time <= ${BigInt(Math.trunc(filter.to)) * 1_000_000n + 999_999n}`);
  return `FROM ${from}${conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : ''}`;
}

/** The filter's tag conditions (standard tags, then user tags). */
export function tagConditions(filter: SeriesFilter): string[] {
  const conditions: string[] = [];
  for (const tag of STANDARD_TAGS) {
    const v = filter[tag];
    if (v !== undefined) conditions.push(`${ident(tag)} = ${literal(v)}`);
  }
  for (const [k, v] of userTagFilter(filter)) conditions.push(`${ident(k)} = ${literal(v)}`);
  return conditions;
}
