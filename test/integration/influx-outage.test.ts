/** InfluxDB goes away during builds and comes back: builds are unaffected, every point (and the rollup
 * rows counting it) arrives once. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, MeasureShellCommand, influxdb, interpolate } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { influxd, testInfluxUrl, type Influxd } from '../helpers/influxd.ts';
import { internalsOf } from '../../master/testing.ts';
import { quietPort } from '../helpers/ports.ts';

/** influxd binds this and the next. */
const PORT = quietPort(120);

async function influxCount(url: string, q: string): Promise<number> {
  const res = await fetch(`${url}/query?${new URLSearchParams({ db: 'outage', q })}`);
  const body = (await res.json()) as { results: { series?: { values: unknown[][] }[] }[] };
  return Number(body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0);
}

describe.skipIf(testInfluxUrl() === null)('InfluxDB outage', () => {
  let server: Influxd;
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    server = influxd(PORT);
    await server.start();
    master = await startTestMaster(
      {
        agents: [{ name: 'i1', token: 'influx-token-1' }],
        builders: [
          {
            name: 'm',
            factory: new BuildFactory().addStep(
              new MeasureShellCommand({ name: 'size', command: ['echo', interpolate('%(prop:v:-10)s')] }),
            ),
          },
        ],
        services: [influxdb({ url: server.url, database: 'outage', flushIntervalMs: 100 })],
      },
      await (testDatabases()[0] as { create(): Promise<string> }).create(),
    );
    agent = await startAgent(master, 'i1', 'influx-token-1');
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
    await server?.kill();
  });

  it('spools points while InfluxDB is down and delivers each exactly once when it returns', async () => {
    for (let i = 1; i <= 3; i++) expect((await forceAndWait(master, 'm', { properties: { v: i } })).build.result).toBe('success');
    await master.metrics.flush();
    expect(await influxCount(server.url, 'SELECT COUNT("value") FROM "size"')).toBe(3);

    await server.kill('SIGKILL');
    const started = Date.now();
    for (let i = 4; i <= 7; i++) expect((await forceAndWait(master, 'm', { properties: { v: i } })).build.result).toBe('success');
    // Builds do not wait for InfluxDB: four builds well within the time one write timeout would take.
    expect(Date.now() - started).toBeLessThan(15_000);
    await master.metrics.flush();
    const spooled = (await internalsOf(master).db.source.query('SELECT COALESCE(SUM(points), 0) AS n FROM metric_spool')) as {
      n: number | string;
    }[];
    expect(Number(spooled[0]?.n)).toBeGreaterThanOrEqual(4);
    // Reading needs InfluxDB: a clear 503, not a crash.
    const down = await api(master).get('/metrics/size/summary');
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('STORE_UNAVAILABLE');

    await server.start();
    // A build right away, while the spool still waits for its retry: its batch queues behind the
    // spooled ones (rollup rows are cumulative, so an older one must never land last).
    expect((await forceAndWait(master, 'm', { properties: { v: 8 } })).build.result).toBe('success');
    await master.metrics.flush();
    await waitFor(
      'the spool to drain',
      async () =>
        Number(
          ((await internalsOf(master).db.source.query('SELECT COUNT(*) AS n FROM metric_spool')) as { n: number | string }[])[0]?.n,
        ) === 0,
      60_000,
    );
    expect(await influxCount(server.url, 'SELECT COUNT("value") FROM "size"')).toBe(8);
    expect(await influxCount(server.url, 'SELECT SUM("value") FROM "size"')).toBe(36);
    expect(await influxCount(server.url, 'SELECT COUNT("value") FROM "build_duration"')).toBe(8);
    expect(await influxCount(server.url, 'SELECT COUNT("value") FROM "queue_latency"')).toBe(8);
    // The rollup rows count every point once, too.
    expect(await influxCount(server.url, `SELECT SUM("caliper_n") FROM "caliper_rollup" WHERE "series" = 'size'`)).toBe(8);
    expect(await influxCount(server.url, `SELECT SUM("caliper_n") FROM "caliper_rollup" WHERE "series" = 'build_duration'`)).toBe(8);
    const summary = (await api(master).get('/metrics/size/summary?builder=m')).body.summary;
    expect(summary).toMatchObject({ count: 8, average: 4.5, minimum: 1, maximum: 8, p50: 4.5 });
  }, 120_000);
});
