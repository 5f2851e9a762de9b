import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCollectionQuery, runCollectionQuery, type FieldMap } from '../../master/db/collection-query.ts';
import { BadRequestError } from '../../core/errors/index.ts';
import type { Database } from '../../master/db/data-source.ts';
import type { Repositories } from '../../master/db/repositories.ts';
import type { BuilderRow, BuildRequestRow } from '../../master/db/entities.ts';
import { createBuilder, memoryDb } from './helpers.ts';

const FIELDS: FieldMap = {
  id: { column: 'id', type: 'int' },
  name: { column: 'name', type: 'string' },
  done: { column: 'complete', type: 'bool' },
  at: { column: 'submitted_at', type: 'time' },
};

const parse = (query: Record<string, unknown>) => parseCollectionQuery(query, FIELDS);

function badRequest(query: Record<string, unknown>): BadRequestError {
  try {
    parse(query);
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestError);
    return e as BadRequestError;
  }
  throw new Error(`expected ${JSON.stringify(query)} to be refused`);
}

describe('parseCollectionQuery', () => {
  it('has no limit, offset 0, no order, filters or field selection by default', () => {
    expect(parse({})).toEqual({ limit: null, offset: 0, order: [], filters: [], fields: null });
  });

  it('parses limit and offset', () => {
    expect(parse({ limit: '20', offset: '40' })).toMatchObject({ limit: 20, offset: 40 });
    expect(parse({ limit: '0' }).limit).toBe(0);
    expect(parse({ limit: '10000' }).limit).toBe(10_000);
  });

  it('takes the last of repeated limits', () => {
    expect(parse({ limit: ['5', '7'] }).limit).toBe(7);
  });

  it.each(['-1', 'ten', '', '1.5', '1e3', ' 5', '5; DROP TABLE builds'])('refuses %j as limit and as offset', (value) => {
    expect(badRequest({ limit: value }).message).toBe(`limit must be a non-negative integer, got "${value}"`);
    expect(badRequest({ offset: value }).message).toBe(`offset must be a non-negative integer, got "${value}"`);
  });

  it('refuses a limit over 10000', () => {
    expect(badRequest({ limit: '10001' }).message).toBe('limit must be at most 10000');
  });

  it('refuses a malformed limit parameter', () => {
    expect(badRequest({ limit: { a: '1' } }).message).toBe('query parameter limit is malformed');
  });

  it('parses order, with -field for descending, comma-separated or repeated', () => {
    expect(parse({ order: '-id' }).order).toEqual([{ field: 'id', desc: true }]);
    expect(parse({ order: 'name,-at' }).order).toEqual([
      { field: 'name', desc: false },
      { field: 'at', desc: true },
    ]);
    expect(parse({ order: ['-done', 'id'] }).order).toEqual([
      { field: 'done', desc: true },
      { field: 'id', desc: false },
    ]);
  });

  it('names an unknown order field, and lists the allowed ones', () => {
    const e = badRequest({ order: '-password' });
    expect(e.message).toBe('cannot order by unknown field "password"');
    expect(e.details).toEqual({ allowed: ['id', 'name', 'done', 'at'] });
    // The column name is not the API's field name.
    expect(badRequest({ order: 'submitted_at' }).message).toContain('"submitted_at"');
  });

  it('parses a field selection', () => {
    expect(parse({ field: 'id,name' }).fields).toEqual(['id', 'name']);
    expect(parse({ field: ['id', 'at'] }).fields).toEqual(['id', 'at']);
  });

  it('reads a bare field as an eq filter', () => {
    expect(parse({ id: '3' }).filters).toEqual([{ field: 'id', op: 'eq', values: [3] }]);
  });

  it.each(['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const)('parses the %s operator', (op) => {
    expect(parse({ [`id__${op}`]: '12' }).filters).toEqual([{ field: 'id', op, values: [12] }]);
  });

  it('parses contains on text fields and refuses it elsewhere (PostgreSQL has no LOWER(integer))', () => {
    expect(parse({ name__contains: 'ab' }).filters).toEqual([{ field: 'name', op: 'contains', values: ['ab'] }]);
    expect(badRequest({ id__contains: '1' }).message).toBe('filter "id__contains": contains applies to text fields only');
  });

  it('names an unknown filter field', () => {
    const e = badRequest({ owner__eq: 'me' });
    expect(e.message).toBe('unknown field "owner" in filter "owner__eq"');
    expect(e.details).toEqual({ allowed: ['id', 'name', 'done', 'at'] });
  });

  it('names an unknown operator', () => {
    const e = badRequest({ name__like: 'x' });
    expect(e.message).toBe('unknown operator "like" in filter "name__like"');
    expect(e.details).toEqual({ allowed: ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'contains'] });
  });

  it('refuses a malformed filter key', () => {
    expect(badRequest({ id__eq__ne: '1' }).message).toBe('malformed filter "id__eq__ne"');
    expect(badRequest({ __eq: '1' }).message).toBe('malformed filter "__eq"');
  });

  // Names every object inherits (constructor, toString, valueOf, ...) are not fields.
  it('refuses a filter on a name inherited from Object.prototype', () => {
    expect(badRequest({ constructor: '1' }).message).toBe('unknown field "constructor" in filter "constructor"');
  });

  it('refuses to order by a name inherited from Object.prototype', () => {
    expect(badRequest({ order: 'toString' }).message).toBe('cannot order by unknown field "toString"');
  });

  it('parses int values, including negative ones', () => {
    expect(parse({ id__gt: '-3' }).filters[0]?.values).toEqual([-3]);
    expect(badRequest({ id: '3.5' }).message).toBe('filter id: "3.5" is not an integer');
    expect(badRequest({ id__lt: 'abc' }).message).toBe('filter id__lt: "abc" is not an integer');
  });

  it('parses bool values', () => {
    for (const v of ['true', '1', 'yes']) expect(parse({ done: v }).filters[0]?.values, v).toEqual([true]);
    for (const v of ['false', '0', 'no']) expect(parse({ done: v }).filters[0]?.values, v).toEqual([false]);
    expect(badRequest({ done: 'maybe' }).message).toBe('filter done: "maybe" is not a boolean');
  });

  it('parses time values as epoch seconds into milliseconds', () => {
    expect(parse({ at__ge: '1700000000' }).filters[0]?.values).toEqual([1_700_000_000_000]);
    expect(parse({ at__lt: '1700000000.25' }).filters[0]?.values).toEqual([1_700_000_000_250]);
    expect(badRequest({ at: 'yesterday' }).message).toBe('filter at: "yesterday" is not a time in epoch seconds');
    expect(badRequest({ at: ' ' }).message).toContain('is not a time');
  });

  it('keeps string values as they are', () => {
    expect(parse({ name__contains: 'a%b_c' }).filters[0]?.values).toEqual(['a%b_c']);
  });

  it('turns repeated values into several values', () => {
    expect(parse({ id: ['1', '2', '3'] }).filters).toEqual([{ field: 'id', op: 'eq', values: [1, 2, 3] }]);
    expect(parse({ name__ne: ['a', 'b'] }).filters).toEqual([{ field: 'name', op: 'ne', values: ['a', 'b'] }]);
  });

  it('refuses a repeated value when any of them is invalid', () => {
    expect(badRequest({ id: ['1', 'x'] }).message).toBe('filter id: "x" is not an integer');
  });

  it('refuses SQL in an int value, and keeps it as a plain value for a string field', () => {
    expect(badRequest({ id: '1; DROP TABLE builds' }).message).toBe('filter id: "1; DROP TABLE builds" is not an integer');
    expect(parse({ name: "1; DROP TABLE builds; --'" }).filters).toEqual([
      { field: 'name', op: 'eq', values: ["1; DROP TABLE builds; --'"] },
    ]);
  });

  it('skips the parameters a route handles itself', () => {
    expect(parseCollectionQuery({ follow: '1', id: '2' }, FIELDS, ['follow']).filters).toEqual([{ field: 'id', op: 'eq', values: [2] }]);
  });
});

describe('runCollectionQuery on SQLite', () => {
  let db: Database;
  let repos: Repositories;
  let b1: BuilderRow;
  let b2: BuilderRow;
  let b3: BuilderRow;
  const requests: BuildRequestRow[] = [];
  const SQL_TEXT = "x'; DROP TABLE buildrequests; --";

  // reason, builder, priority, submitted (seconds), complete
  const ROWS: [string, 1 | 2 | 3, number, number, boolean][] = [
    ['nightly', 1, 0, 100, true],
    ['100% coverage', 1, 5, 200, false],
    ['100 percent', 2, 1, 300, false],
    ['fix_1', 2, 3, 400, true],
    ['fixa1', 3, 2, 500, false],
    ['back\\slash', 3, 0, 600, false],
    [SQL_TEXT, 3, 4, 700, false],
  ];

  beforeAll(async () => {
    ({ db, repos } = await memoryDb());
    b1 = await createBuilder(repos, 'linux');
    b2 = await createBuilder(repos, 'mac');
    b3 = await createBuilder(repos, 'windows');
    const builders = { 1: b1, 2: b2, 3: b3 };
    for (const [reason, b, priority, submitted, complete] of ROWS) {
      const r = await repos.buildRequests.create({ builderid: builders[b].id, reason, properties: {}, priority }, submitted * 1000);
      if (complete) await repos.buildRequests.complete(r.id, 0, submitted * 1000 + 50);
      requests.push(r);
    }
  });

  afterAll(async () => {
    await db.close();
  });

  const reasons = (rows: BuildRequestRow[]) => rows.map((r) => r.reason);

  it('returns everything in the default order with the total', async () => {
    const { rows, total } = await repos.buildRequests.query({});
    expect(total).toBe(ROWS.length);
    expect(reasons(rows)).toEqual(ROWS.map((r) => r[0]));
  });

  it('filters by eq, several values (IN), ne, and comparisons', async () => {
    expect(reasons((await repos.buildRequests.query({ builderid: String(b2.id) })).rows)).toEqual(['100 percent', 'fix_1']);
    expect(reasons((await repos.buildRequests.query({ builderid: [String(b1.id), String(b3.id)] })).rows)).toHaveLength(5);
    expect((await repos.buildRequests.query({ builderid__ne: String(b3.id) })).total).toBe(4);
    expect(reasons((await repos.buildRequests.query({ priority__ge: '4' })).rows)).toEqual(['100% coverage', SQL_TEXT]);
    expect(reasons((await repos.buildRequests.query({ priority__lt: '1' })).rows)).toEqual(['nightly', 'back\\slash']);
    expect((await repos.buildRequests.query({ priority__le: '1', priority__gt: '0' })).total).toBe(1);
  });

  it('filters on bool and time fields', async () => {
    expect(reasons((await repos.buildRequests.query({ complete: 'true' })).rows)).toEqual(['nightly', 'fix_1']);
    expect((await repos.buildRequests.query({ complete: 'no' })).total).toBe(5);
    expect(reasons((await repos.buildRequests.query({ submitted_at__gt: '300', submitted_at__le: '500' })).rows)).toEqual([
      'fix_1',
      'fixa1',
    ]);
  });

  it('treats % in a contains needle literally', async () => {
    expect(reasons((await repos.buildRequests.query({ reason__contains: '100%' })).rows)).toEqual(['100% coverage']);
    expect(reasons((await repos.buildRequests.query({ reason__contains: '%' })).rows)).toEqual(['100% coverage']);
  });

  it('treats _ and \\ in a contains needle literally', async () => {
    expect(reasons((await repos.buildRequests.query({ reason__contains: 'x_1' })).rows)).toEqual(['fix_1']);
    expect(reasons((await repos.buildRequests.query({ reason__contains: 'k\\s' })).rows)).toEqual(['back\\slash']);
  });

  it('matches a plain contains needle anywhere in the value', async () => {
    expect(reasons((await repos.buildRequests.query({ reason__contains: 'ix' })).rows)).toEqual(['fix_1', 'fixa1']);
  });

  it('binds a string value with SQL in it as plain data', async () => {
    const { rows } = await repos.buildRequests.query({ reason: SQL_TEXT });
    expect(rows.map((r) => r.id)).toEqual([requests[6]?.id]);
    expect((await repos.buildRequests.query({})).total).toBe(ROWS.length);
  });

  it('orders by a field, descending, and by several fields', async () => {
    expect((await repos.buildRequests.query({ order: '-priority' })).rows.map((r) => r.priority)).toEqual([5, 4, 3, 2, 1, 0, 0]);
    const byBuilderThenSubmitted = await repos.buildRequests.query({ order: '-builderid,-submitted_at' });
    expect(reasons(byBuilderThenSubmitted.rows)).toEqual([
      SQL_TEXT,
      'back\\slash',
      'fixa1',
      'fix_1',
      '100 percent',
      '100% coverage',
      'nightly',
    ]);
  });

  it('pages with limit and offset, and reports the total before paging', async () => {
    const page = await repos.buildRequests.query({ order: 'submitted_at', limit: '2', offset: '3' });
    expect(reasons(page.rows)).toEqual(['fix_1', 'fixa1']);
    expect(page.total).toBe(ROWS.length);
    const filtered = await repos.buildRequests.query({ complete: 'false', order: '-submitted_at', limit: '2' });
    expect(reasons(filtered.rows)).toEqual([SQL_TEXT, 'back\\slash']);
    expect(filtered.total).toBe(5);
    const beyond = await repos.buildRequests.query({ offset: '100' });
    expect(beyond).toEqual({ rows: [], total: ROWS.length });
  });

  // Buildbot's NOT IN: every value of a repeated ne filter is excluded.
  it('excludes every value of a repeated ne filter', async () => {
    const { rows, total } = await repos.buildRequests.query({ reason__ne: ['nightly', 'fix_1'] });
    expect(total).toBe(ROWS.length - 2);
    expect(reasons(rows)).not.toContain('fix_1');
  });

  it('answers a query on an Object.prototype name with a BadRequestError', async () => {
    await expect(repos.buildRequests.query({ valueOf__gt: '1' })).rejects.toBeInstanceOf(BadRequestError);
  });

  it('runs over any query builder with its own field map (builders)', async () => {
    const builderFields: FieldMap = { builderid: { column: 'id', type: 'int' }, name: { column: 'name', type: 'string' } };
    const run = (raw: Record<string, unknown>) =>
      runCollectionQuery(
        db.source.getRepository<BuilderRow>('Builder').createQueryBuilder('b'),
        'b',
        builderFields,
        parseCollectionQuery(raw, builderFields),
        { field: 'builderid', desc: false },
      );
    expect((await run({ order: '-name' })).rows.map((b) => b.name)).toEqual(['windows', 'mac', 'linux']);
    expect(await run({ name__contains: 'n', limit: '1', offset: '1' })).toMatchObject({ rows: [{ name: 'windows' }], total: 2 });
    expect((await run({ builderid__gt: String(b1.id) })).rows.map((b) => b.name)).toEqual(['mac', 'windows']);
  });
});
