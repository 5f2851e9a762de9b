/**
 * Buildbot-style collection queries (`limit`, `offset`, `order=-field`, `field__op=value`) turned into
 * a TypeORM query with bound parameters. Only fields listed in the resource's spec can be filtered or
 * ordered on, so a query string never reaches SQL as text.
 */
import type { ObjectLiteral, Repository, SelectQueryBuilder } from 'typeorm';
import { BadRequestError } from '../../core/errors/index.ts';

/** `int`: a 32-bit `integer` column; `time`: a bigint column of epoch ms, given as epoch seconds. */
export type FieldType = 'int' | 'string' | 'bool' | 'time';
export interface FieldSpec {
  column: string;
  type: FieldType;
}
export type FieldMap = Record<string, FieldSpec>;

export const OPS = { eq: '=', ne: '<>', lt: '<', le: '<=', gt: '>', ge: '>=', contains: 'LIKE' } as const;
type Op = keyof typeof OPS;
const isOp = (name: string): name is Op => Object.hasOwn(OPS, name);

/** The spec of a field the resource lists; never one of the names every object inherits (`constructor`). */
export function specOf(fields: FieldMap, name: string): FieldSpec | undefined {
  return Object.hasOwn(fields, name) ? fields[name] : undefined;
}

export interface Filter {
  field: string;
  op: Op;
  values: unknown[];
}
export interface CollectionQuery {
  limit: number | null;
  offset: number;
  order: { field: string; desc: boolean }[];
  filters: Filter[];
  fields: string[] | null;
}

const MAX_LIMIT = 10_000;

/**
 * What an `int` field's column holds: ids, numbers and counters are 32-bit `integer` on SQLite and
 * PostgreSQL alike. A value outside is refused: PostgreSQL would fail the query (a 500), SQLite would
 * quietly match nothing.
 */
export const INT_RANGE = { min: -2_147_483_648, max: 2_147_483_647 } as const;

/**
 * Every time the API takes, in epoch ms: whole seconds within InfluxDB's int64 nanoseconds
 * (1677-09-21 to 2262-04-11), leaving room for a range's inclusive end (`to` + 999 999 ns). The SQL
 * columns (bigint ms, bigint µs) hold more; one range for every store keeps the API the same on each.
 */
export const TIME_RANGE_MS = { min: -9_223_372_035_000, max: 9_223_372_035_000 } as const;
export const TIME_RANGE_TEXT = `${TIME_RANGE_MS.min / 1000} to ${TIME_RANGE_MS.max / 1000} epoch seconds (1677-09-21T00:12:45Z to 2262-04-11T23:47:15Z)`;

/** True when `ms` (possibly NaN or infinite) is a time the API takes. */
export const timeInRange = (ms: number): boolean => ms >= TIME_RANGE_MS.min && ms <= TIME_RANGE_MS.max;

function parseValue(raw: string, spec: FieldSpec, name: string): unknown {
  switch (spec.type) {
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw new BadRequestError(`filter ${name}: "${raw}" is not an integer`);
      const n = Number(raw);
      if (!(n >= INT_RANGE.min && n <= INT_RANGE.max))
        throw new BadRequestError(
          `filter ${name}: ${raw.slice(0, 40)} is out of range (an integer from ${INT_RANGE.min} to ${INT_RANGE.max})`,
        );
      return n;
    }
    case 'time': {
      // Decimal only: Number() would also take "0x10", "1e3" and " 5 ".
      if (!/^-?\d+(\.\d+)?$/.test(raw)) throw new BadRequestError(`filter ${name}: "${raw}" is not a time in epoch seconds`);
      const ms = Math.round(Number(raw) * 1000);
      if (!timeInRange(ms)) throw new BadRequestError(`filter ${name}: ${raw.slice(0, 40)} is out of range (times are ${TIME_RANGE_TEXT})`);
      return ms;
    }
    case 'bool': {
      if (['true', '1', 'yes'].includes(raw)) return true;
      if (['false', '0', 'no'].includes(raw)) return false;
      throw new BadRequestError(`filter ${name}: "${raw}" is not a boolean`);
    }
    case 'string':
      // PostgreSQL's text cannot hold NUL, so no stored value contains one; the query would fail.
      if (raw.includes('\u0000')) throw new BadRequestError(`filter ${name}: text may not contain NUL (%00)`);
      return raw;
    default: {
      const never: never = spec.type;
      return never;
    }
  }
}

/** A parameter's values: express gives a string, or a list when it is repeated; anything else is malformed. */
function many(value: unknown, name: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) {
    const strings = value.filter((v): v is string => typeof v === 'string');
    if (strings.length === value.length) return strings;
  }
  throw new BadRequestError(`query parameter ${name} is malformed`);
}

/** A parameter given once, or the last of its repeats. */
function one(value: unknown, name: string): string {
  const last = many(value, name).at(-1);
  if (last === undefined) throw new BadRequestError(`query parameter ${name} is malformed`);
  return last;
}

/** Parses express's `req.query` against a resource's fields. Unknown fields are a 400. */
export function parseCollectionQuery(query: Record<string, unknown>, fields: FieldMap, extraParams: string[] = []): CollectionQuery {
  const out: CollectionQuery = { limit: null, offset: 0, order: [], filters: [], fields: null };
  for (const [key, rawValue] of Object.entries(query)) {
    if (extraParams.includes(key)) continue;
    if (key === 'limit' || key === 'offset') {
      const v = one(rawValue, key);
      if (!/^\d{1,9}$/.test(v)) throw new BadRequestError(`${key} must be a non-negative integer, got "${v}"`);
      const n = Number(v);
      if (key === 'limit') {
        if (n > MAX_LIMIT) throw new BadRequestError(`limit must be at most ${MAX_LIMIT}`);
        out.limit = n;
      } else out.offset = n;
      continue;
    }
    if (key === 'order') {
      for (const v of many(rawValue, key).flatMap((x) => x.split(','))) {
        const desc = v.startsWith('-');
        const field = desc ? v.slice(1) : v;
        if (!specOf(fields, field)) throw new BadRequestError(`cannot order by unknown field "${field}"`, { allowed: Object.keys(fields) });
        out.order.push({ field, desc });
      }
      continue;
    }
    if (key === 'field') {
      out.fields = many(rawValue, key).flatMap((x) => x.split(','));
      continue;
    }
    const [field, op = 'eq', ...rest] = key.split('__');
    if (rest.length > 0 || !field) throw new BadRequestError(`malformed filter "${key}"`);
    const spec = specOf(fields, field);
    if (!spec) throw new BadRequestError(`unknown field "${field}" in filter "${key}"`, { allowed: Object.keys(fields) });
    if (!isOp(op)) throw new BadRequestError(`unknown operator "${op}" in filter "${key}"`, { allowed: Object.keys(OPS) });
    if (op === 'contains' && spec.type !== 'string') throw new BadRequestError(`filter "${key}": contains applies to text fields only`);
    const raws = many(rawValue, key);
    if (raws.length > 1 && op !== 'eq' && op !== 'ne')
      throw new BadRequestError(`filter "${key}" takes one value; only eq and ne take several`);
    out.filters.push({ field, op, values: raws.map((r) => parseValue(r, spec, key)) });
  }
  return out;
}

/** Applies filters, order and paging; returns the page and the total before paging. */
export async function runCollectionQuery<T extends ObjectLiteral>(
  qb: SelectQueryBuilder<T>,
  alias: string,
  fields: FieldMap,
  q: CollectionQuery,
  defaultOrder: { field: string; desc: boolean },
): Promise<{ rows: T[]; total: number }> {
  // A query parsed against other fields could name one this resource lacks: refused, never interpolated.
  const column = (field: string) => {
    const spec = specOf(fields, field);
    if (!spec) throw new BadRequestError(`unknown field "${field}"`, { allowed: Object.keys(fields) });
    return `${alias}.${spec.column}`;
  };
  q.filters.forEach((f, i) => {
    const col = column(f.field);
    if ((f.op === 'eq' || f.op === 'ne') && f.values.length > 1) {
      qb.andWhere(`${col} ${f.op === 'eq' ? 'IN' : 'NOT IN'} (:...p${i})`, { [`p${i}`]: f.values });
    } else if (f.op === 'contains') {
      const needle = String(f.values[0]).replace(/[\\%_]/g, (c) => `\\${c}`);
      // Case-insensitive on both databases (SQLite's LIKE already is; PostgreSQL's is not).
      qb.andWhere(`LOWER(${col}) LIKE LOWER(:p${i}) ESCAPE '\\'`, { [`p${i}`]: `%${needle}%` });
    } else {
      qb.andWhere(`${col} ${OPS[f.op]} :p${i}`, { [`p${i}`]: f.values[0] });
    }
  });
  const total = await qb.getCount();
  const order = q.order.length > 0 ? q.order : [defaultOrder];
  order.forEach((o, i) => {
    const col = column(o.field);
    if (i === 0) qb.orderBy(col, o.desc ? 'DESC' : 'ASC');
    else qb.addOrderBy(col, o.desc ? 'DESC' : 'ASC');
  });
  if (q.limit !== null) qb.take(q.limit);
  if (q.offset > 0) qb.skip(q.offset);
  return { rows: await qb.getMany(), total };
}

/**
 * A resource's collection query, optionally scoped to a parent (`{ buildid: 3 }` for a build's
 * steps): the scope's column equals its value, whatever filters the caller adds.
 */
export async function scopedCollectionQuery<T extends ObjectLiteral>(
  repo: Repository<T>,
  fields: FieldMap,
  raw: Record<string, unknown>,
  defaultOrder: { field: string; desc: boolean },
  scope: Record<string, number | undefined> = {},
): Promise<{ rows: T[]; total: number }> {
  const q = parseCollectionQuery(raw, fields);
  const qb = repo.createQueryBuilder('t');
  for (const [column, value] of Object.entries(scope))
    if (value !== undefined) qb.andWhere(`t.${column} = :scope_${column}`, { [`scope_${column}`]: value });
  return runCollectionQuery(qb, 't', fields, q, defaultOrder);
}

/**
 * The same collection query over a list held in memory (the configured agents and builders): filters,
 * order and paging as the SQL versions apply them, so `/agents` and `/builders` page like any other
 * collection. A field's `column` names the item's property; `time` properties hold epoch ms. As in
 * SQL, a comparison with a null value matches nothing, and nulls sort first. Without an order the
 * list keeps its own (the order of the configuration).
 */
export function memoryCollectionQuery<T extends object>(
  items: readonly T[],
  fields: FieldMap,
  q: CollectionQuery,
): { rows: T[]; total: number } {
  const valueOf = (item: T, field: string): unknown => {
    const spec = specOf(fields, field);
    if (!spec) throw new BadRequestError(`unknown field "${field}"`, { allowed: Object.keys(fields) });
    return (item as Record<string, unknown>)[spec.column];
  };
  const matches = (item: T, f: Filter): boolean => {
    const v = valueOf(item, f.field);
    if (v === null || v === undefined) return false;
    switch (f.op) {
      case 'eq':
        return f.values.some((x) => x === v);
      case 'ne':
        return f.values.every((x) => x !== v);
      case 'lt':
        return compare(v, f.values[0]) < 0;
      case 'le':
        return compare(v, f.values[0]) <= 0;
      case 'gt':
        return compare(v, f.values[0]) > 0;
      case 'ge':
        return compare(v, f.values[0]) >= 0;
      case 'contains':
        return String(v).toLowerCase().includes(String(f.values[0]).toLowerCase());
      default: {
        const never: never = f.op;
        return never;
      }
    }
  };
  let rows = items.filter((item) => q.filters.every((f) => matches(item, f)));
  if (q.order.length > 0) {
    rows = rows
      .map((item, index) => ({ item, index }))
      .sort((a, b) => {
        for (const o of q.order) {
          const c = compare(valueOf(a.item, o.field), valueOf(b.item, o.field));
          if (c !== 0) return o.desc ? -c : c;
        }
        return a.index - b.index;
      })
      .map((x) => x.item);
  }
  const total = rows.length;
  const end = q.limit === null ? undefined : q.offset + q.limit;
  return { rows: rows.slice(q.offset, end), total };
}

/** SQL's order of two values of one field: nulls first, then numbers, booleans (false first) or text. */
function compare(a: unknown, b: unknown): number {
  const nullA = a === null || a === undefined;
  const nullB = b === null || b === undefined;
  if (nullA || nullB) return nullA === nullB ? 0 : nullA ? -1 : 1;
  const x = typeof a === 'boolean' ? Number(a) : a;
  const y = typeof b === 'boolean' ? Number(b) : b;
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  const sx = String(x);
  const sy = String(y);
  return sx < sy ? -1 : sx > sy ? 1 : 0;
}
