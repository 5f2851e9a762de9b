/** The store's line protocol equals what the client's Point writes (the prefix is Point's, cached). */
import { Point } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import { InfluxDbStore } from '../../metrics/stores/influxdb-store.ts';
import type { MetricSpool } from '../../metrics/stores/metric-spool.ts';
import { silentLogger } from '../../core/logger.ts';

const store = new InfluxDbStore(
  {
    url: 'http://127.0.0.1:1',
    database: 'd',
    precision: 'u',
    batchSize: 10,
    flushIntervalMs: 10,
    createDatabase: false,
    exactSummaryLimit: 100_000,
  },
  null as unknown as MetricSpool,
  silentLogger,
);

/** Field order does not matter in line protocol; Point sorts fields, the store does not. */
function normalise(line: string): string {
  const m = /^(.*?) ([^ ]+=[^ ]*(?:,[^ ]+=[^ ]*)*) (\d+)$/.exec(line);
  if (!m) throw new Error(`not a line: ${line}`);
  return `${m[1]} | ${(m[2] as string).split(',').sort().join(',')} | ${m[3]}`;
}

describe('InfluxDbStore.toLine', () => {
  const cases: [string, Record<string, string>, number, number | null, number | null][] = [
    ['build_duration', { builder: 'b', step: 'compile', agent: 'a1', result: 'success' }, 12.5, 3, 7],
    ['s p,ace', { 'k,=': 'v=,x', a: 'b c' }, -2e-7, null, null],
    ['m', { z: '1', a: '2' }, 123456789.123, 1, null],
    ['m', { z: '1', a: '2' }, 0, null, 2], // same series and tags again: the cached prefix
  ];
  it.each(cases)('writes %s %j like Point', (series, tags, value, buildNumber, buildid) => {
    const ref = new Point(series);
    for (const [k, v] of Object.entries(tags)) ref.tag(k, v);
    ref.floatField('value', value);
    if (buildNumber !== null) ref.intField('build_number', buildNumber);
    if (buildid !== null) ref.intField('buildid', buildid);
    ref.timestamp('1764000000000001');
    const line = store.toLine({ series, tags, value, time: 1764000000000001, buildNumber, buildid });
    expect(normalise(line)).toBe(normalise(ref.toLineProtocol() as string));
  });
});
