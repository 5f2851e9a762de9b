/** How answers are written: collections in Buildbot's shape, times in epoch seconds, field selection. */
import type { Response } from 'express';
import type { CollectionName, Collections } from '../../protocol/api-types.ts';

/** Epoch milliseconds (stored) to the API's epoch seconds. */
export function seconds(ms: number): number;
export function seconds(ms: number | null): number | null;
export function seconds(ms: number | null): number | null {
  return ms === null ? null : ms / 1000;
}

/** Keeps only the requested fields (`field=a,b`), in Buildbot's way; own fields only. */
export function selectFields<T extends object>(items: T[], fields: string[] | null): (T | Record<string, unknown>)[] {
  if (!fields) return items;
  return items.map((item) => {
    const own = new Map<string, unknown>(Object.entries(item));
    return Object.fromEntries(fields.filter((f) => own.has(f)).map((f) => [f, own.get(f)]));
  });
}

/**
 * Sends one page of a collection, `{"<key>": [items], "meta": {"total": n}}`. The key decides the
 * items' type (protocol/api-types.ts), so a collection cannot carry another's items.
 */
export function sendPage<K extends CollectionName>(
  res: Response,
  key: K,
  items: Collections[K][],
  total: number,
  fields: string[] | null = null,
): void {
  res.json({ [key]: selectFields(items, fields), meta: { total } });
}
