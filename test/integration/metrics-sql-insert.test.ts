/**
 * The SQL metrics store inserts a batch as one statement whose rows travel as one bound JSON text
 * (metrics/stores/sql-store.ts). What that must not cost: a double that comes back different, a tag
 * or sample text mangled, the order of the rows, or a new statement text per batch size (each would
 * be prepared again). On SQLite and, with CALIPER_TEST_PG_URL, PostgreSQL.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { SqlMetricsStore } from '../../metrics/stores/sql-store.ts';
import type { MetricPoint } from '../../metrics/metric-point.ts';
import { silentLogger } from '../../core/logger.ts';
import { testDatabases } from '../helpers/databases.ts';

const opened: Database[] = [];
afterAll(async () => {
  for (const db of opened) await db.close();
});

/** Doubles that a text round trip gets wrong unless it is exact: tiny, huge, subnormal, long fractions. */
function awkwardValues(): number[] {
  const values = [
    0.1,
    0.2,
    0.30000000000000004,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1e-300,
    123456789.12345679,
    1 / 3,
    -2 / 3,
    0,
    7,
    -42,
  ];
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let i = 0; i < 400; i++) {
    const r = random();
    values.push(i % 3 === 0 ? r : i % 3 === 1 ? (r - 0.5) * 10 ** Math.floor(random() * 600 - 300) : Math.round(r * 1e9) / 1e3);
  }
  return values;
}

describe.each(testDatabases())('SQL metrics store inserts on $kind', (d) => {
  it('stores every value bit for bit, with its tags, samples and build, in the order captured, through one statement text', async () => {
    const db = await openDatabase(await d.create());
    opened.push(db);
    const store = new SqlMetricsStore(db.source, db.kind, silentLogger, 60_000);
    const texts = new Set<string>();
    const query = db.source.query.bind(db.source);
    db.source.query = ((sql: string, params?: unknown[]) => {
      if (sql.startsWith('INSERT')) texts.add(sql);
      return query(sql, params);
    }) as typeof db.source.query;

    const values = awkwardValues();
    const base = 1_796_633_465_520_000;
    const points = values.map((value, i): MetricPoint => ({
      series: 'exact',
      time: base + i,
      value,
      tags: (i % 2 === 0
        ? { builder: 'b', step: 's', agent: 'a', result: 'success', user: `v${i}`, quote: 'it\'s "x"\\y\u00e9\u2603' }
        : { builder: 'b' }) as Record<string, string>,
      buildNumber: i % 5 === 0 ? null : i,
      buildid: i % 7 === 0 ? null : 1000 + i,
      ...(i % 11 === 0 ? { samples: [value, 0.1, 1e-300] } : {}),
    }));
    // Batches of several sizes: each must reuse the one statement.
    let at = 0;
    for (const size of [1, 2, 3, 50, points.length]) {
      await store.write(points.slice(at, at + size));
      await store.flush();
      at += size;
      if (at >= points.length) break;
    }
    expect(texts.size).toBe(1);

    const page = await store.points({ series: 'exact' }, { limit: 10_000, offset: 0, order: 'asc' });
    expect(page.total).toBe(points.length);
    expect(page.points.map((p) => p.value)).toEqual(values); // toEqual: Object.is for numbers, so every bit
    expect(page.points.map((p) => p.time)).toEqual(points.map((p) => p.time));
    for (const [i, p] of page.points.entries()) {
      const want = points[i];
      expect(p.tags).toEqual(want?.tags);
      expect(p.buildNumber).toBe(want?.buildNumber);
      expect(p.buildid).toBe(want?.buildid);
      expect(p.samples).toEqual(want?.samples);
    }
  });
});
