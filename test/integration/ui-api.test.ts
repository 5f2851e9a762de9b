/** The API the web UI stands on: builder stats, paged log lines, the live stream on /ws, Grafana links. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { BuildFactory, ShellCommand, MeasureShellCommand, grafana } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { apiUrl, getJson, getList, getOne, getPage, present } from '../helpers/api.ts';
import type { MetricSeriesPage, UiInfo } from '../../protocol/api-types.ts';
import { internalsOf } from '../../master/testing.ts';

// 30 000 numbered lines (~300 KB): several log chunks, lines crossing chunk boundaries.
const MANY_LINES = 'i=0; while [ $i -lt 30000 ]; do echo "line $i"; i=$((i+1)); done; printf \'tail without newline\'';

const config = (withGrafana: boolean): ConfigInput => ({
  agents: [{ name: 'u1', token: 'ui-token-1234', maxBuilds: 3 }],
  builders: [
    { name: 'long', factory: new BuildFactory().addStep(new ShellCommand({ name: 'print', command: MANY_LINES })) },
    {
      name: 'drip',
      factory: new BuildFactory()
        .addStep(new ShellCommand({ name: 'drip', command: 'echo one; sleep 1; echo two; sleep 1; echo three' }))
        .addStep(new MeasureShellCommand({ name: 'size', command: ['echo', '42'] })),
    },
  ],
  services: withGrafana ? [grafana({ url: 'https://grafana.example.com/', dashboardUid: 'caliper-builds', orgId: 2 })] : [],
});

describe.each(testDatabases())('UI API on $kind', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    master = await startTestMaster(config(true), await db.create());
    agent = await startAgent(master, 'u1', 'ui-token-1234');
  });
  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('pages a long log by lines, across chunk boundaries, with the unterminated last line', async () => {
    const { build, steps } = await forceAndWait(master, 'long');
    expect(build.result).toBe('success');
    const c = api(master);
    const log = await getOne(master, 'logs', `/steps/${steps[0].stepid}/logs`);
    expect(log.num_lines).toBe(30000);
    const chunks = (await internalsOf(master).db.source.query(
      internalsOf(master).db.kind === 'postgres'
        ? 'SELECT COUNT(*) AS n FROM logchunks WHERE logid = $1'
        : 'SELECT COUNT(*) AS n FROM logchunks WHERE logid = ?',
      [log.logid],
    )) as { n: string }[];
    expect(Number(chunks[0]?.n)).toBeGreaterThan(1);
    const page = await getPage(master, 'logchunks', `/logs/${log.logid}/contents?offset=12345&limit=3`);
    expect(page).toEqual({
      logchunks: [{ logid: log.logid, firstline: 12345, content: 'line 12345\nline 12346\nline 12347' }],
      meta: { total: 30001 },
    });
    const all: string[] = [];
    for (let offset = 0; offset < 30001; offset += 7000) {
      const chunk = await getOne(master, 'logchunks', `/logs/${log.logid}/contents?offset=${offset}&limit=7000`);
      all.push(...chunk.content.split('\n'));
    }
    expect(all.length).toBe(30001);
    expect(all[0]).toBe('line 0');
    expect(all[29999]).toBe('line 29999');
    expect(all[30000]).toBe('tail without newline');
    expect(all.every((l, i) => (i < 30000 ? l === `line ${i}` : true))).toBe(true);
    expect(await getPage(master, 'logchunks', `/logs/${log.logid}/contents?offset=40000`)).toEqual({
      logchunks: [],
      meta: { total: 30001 },
    });
    expect((await c.get(`/logs/${log.logid}/contents?limit=20000`)).status).toBe(400);
  });

  it('pushes build and step events to every client and a log’s output to its subscribers, live', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${master.port}/ws`);
    const events: { event: string; data: Record<string, unknown> }[] = [];
    ws.on('message', (d) => events.push(JSON.parse(d.toString())));
    await new Promise((r) => ws.once('open', r));
    const c = api(master);
    const forced = await c.post('/builders/drip/force', {});
    const started = await waitFor('build.started', () =>
      events.find((e) => e.event === 'build.started' && e.data.buildrequestid === forced.body.buildrequestid),
    );
    const buildid = started.data.buildid as number;
    const step = await waitFor('step.started', () => events.find((e) => e.event === 'step.started' && e.data.buildid === buildid));
    const logid = await waitFor('the stdio log', async () => (await getList(master, 'logs', `/steps/${step.data.stepid}/logs`))[0]?.logid);
    ws.send(JSON.stringify({ type: 'subscribe', logs: [logid] }));
    const texts = () =>
      events
        .filter((e) => e.event === 'log.appended' && e.data.logid === logid)
        .map((e) => e.data.text)
        .join('');
    // "two" arrives about a second after "one": it is pushed while the step runs, not at its end.
    await waitFor('"two" live', () => texts().includes('two\n'), 10_000);
    const stepDone = events.find((e) => e.event === 'step.finished' && e.data.stepid === step.data.stepid);
    expect(stepDone).toBeUndefined();
    await waitFor('build.finished', () => events.find((e) => e.event === 'build.finished' && e.data.buildid === buildid), 15_000);
    expect(texts()).toMatch(/two\nthree\n$/);
    // A subscription change stops the log's events; build events keep coming.
    ws.send(JSON.stringify({ type: 'subscribe', logs: [] }));
    ws.send('not json');
    const closed = await new Promise<number>((r) => ws.once('close', (code) => r(code)));
    expect(closed).toBe(1008);
  });

  it('describes builders with last build, running count, average duration and Grafana links', async () => {
    const builders = await getList(master, 'builders', '/builders');
    const long = present(
      builders.find((b) => b.name === 'long'),
      'builder long',
    );
    const last = present(long.last_build, 'a last build of long');
    expect(last).toMatchObject({ number: 1, result: 'success' });
    expect(long.running).toBe(0);
    expect(long.average_duration).toBeGreaterThan(0);
    expect(long.links.grafana).toBe('https://grafana.example.com/d/caliper-builds?orgId=2&var-builder=long');
    const build = await getOne(master, 'builds', `/builds/${last.buildid}`);
    expect(build.builder_name).toBe('long');
    const url = new URL(present(build.links.grafana, 'a Grafana link'));
    expect(url.searchParams.get('var-builder')).toBe('long');
    expect(Number(url.searchParams.get('from'))).toBe(Math.round(build.started_at * 1000) - 60_000);
    expect(Number(url.searchParams.get('to'))).toBe(Math.round(present(build.complete_at, 'complete_at') * 1000) + 60_000);
    const series = (await getJson<MetricSeriesPage>(apiUrl(master, '/metrics?builder=drip'))).metrics;
    const size = present(
      series.find((s) => s.series === 'size'),
      'series size',
    );
    expect(size.links.grafana).toBe('https://grafana.example.com/d/caliper-builds?orgId=2&var-series=size&var-builder=drip');
    expect(size.links.influxdb).toBeUndefined();
    expect(series.map((s) => s.series)).not.toContain('nothing');
    const ofLong = (await getJson<MetricSeriesPage>(apiUrl(master, '/metrics?builder=long'))).metrics;
    expect(ofLong.map((s) => s.series)).not.toContain('size');
    expect(await getJson<UiInfo>(apiUrl(master, '/ui'))).toEqual({
      title: 'Caliper',
      auth: false,
      grafana: { url: 'https://grafana.example.com/', dashboardUid: 'caliper-builds', orgId: 2 },
      influxdb: null,
    });
  });
});

describe('without Grafana configured', () => {
  it('gives no Grafana link anywhere', async () => {
    const db = testDatabases()[0] as { create(): Promise<string> };
    const master = await startTestMaster(config(false), await db.create());
    const agent = await startAgent(master, 'u1', 'ui-token-1234');
    try {
      await forceAndWait(master, 'drip');
      const c = api(master);
      const bodies = [await c.get('/builders'), await c.get('/builds'), await c.get('/metrics?builder=drip'), await c.get('/ui')].map((r) =>
        JSON.stringify(r.body),
      );
      for (const b of bodies) expect(b).not.toMatch(/grafana\.|"grafana":"/);
      expect(JSON.parse(bodies[3] as string).grafana).toBeNull();
    } finally {
      await agent.kill();
      await master.stop();
    }
  });
});
