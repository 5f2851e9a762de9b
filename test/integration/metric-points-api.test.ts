/**
 * Points from outside builds and the changes listed from them, on a real master (SQLite and
 * PostgreSQL): posted, read back, refused with a 4xx naming the field, and a step found.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import type { MetricChangesPage, PointsPage } from '../../protocol/api-types.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startTestMaster } from '../helpers/harness.ts';

const TOKEN = 'points-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const T0 = 1_700_000_000; // epoch seconds

describe.each(testDatabases())('metric points API on $kind', (db) => {
  let master: RunningMaster;

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: 'agent-token' }],
        builders: [{ name: 'b', agents: ['a1'], factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'true' })) }],
        web: { auth: { tokens: [TOKEN] } },
      },
      await db.create(),
    );
  });
  afterAll(async () => {
    await master?.stop();
  });

  it('stores posted points with their time, tags and revision, and reads them back', async () => {
    const posted = await api(master).post(
      '/metrics/bench.parse_ms/points',
      {
        kind: 'duration',
        unit: 'ms',
        points: [
          { value: 12.5, time: T0, tags: { branch: 'main' }, revision: 'abc123' },
          { value: 13, time: new Date((T0 + 60) * 1000).toISOString(), tags: { branch: 'main' }, revision: 'def456', build_number: 7 },
        ],
      },
      auth,
    );
    expect(posted.status).toBe(201);
    expect(posted.body.points).toHaveLength(2);
    const read = await api(master).get<PointsPage>('/metrics/bench.parse_ms/points?tag.branch=main');
    expect(read.status).toBe(200);
    expect(read.body.points.map((p) => [p.time, p.value, p.tags.revision, p.build_number])).toEqual([
      [T0, 12.5, 'abc123', null],
      [T0 + 60, 13, 'def456', 7],
    ]);
    const series = await api(master).get('/metrics');
    expect(series.body.metrics).toContainEqual(expect.objectContaining({ series: 'bench.parse_ms', kind: 'duration', unit: 'ms' }));
  });

  it('keeps the samples behind a posted value and answers them with the point', async () => {
    const posted = await api(master).post(
      '/metrics/bench.sampled_ms/points',
      {
        points: [
          { value: 10, time: T0, samples: [9.5, 10, 11] },
          { value: 11, time: T0 + 60 },
        ],
      },
      auth,
    );
    expect(posted.status).toBe(201);
    const read = await api(master).get<PointsPage>('/metrics/bench.sampled_ms/points');
    expect(read.body.points.map((p) => [p.value, p.samples])).toEqual([
      [10, [9.5, 10, 11]],
      [11, undefined],
    ]);
    const bad = await api(master).post('/metrics/bench.sampled_ms/points', { points: [{ value: 1, samples: [1, 'x'] }] }, auth);
    expect([bad.status, String(bad.body.error?.message)]).toEqual([422, expect.stringMatching(/points\[0\]\.samples\[1\]/)]);
  });

  it('refuses a write without the token', async () => {
    const res = await api(master).post('/metrics/bench.x/points', { points: [{ value: 1 }] });
    expect(res.status).toBe(401);
  });

  it('refuses bad input with a 4xx naming the field, and stores nothing of it', async () => {
    const bad = async (series: string, body: unknown) => {
      const res = await api(master).post(`/metrics/${series}/points`, body, auth);
      return { status: res.status, message: String(res.body.error?.message) };
    };
    expect(await bad('bench.bad', '{"points":[{"value":1e999}]}')).toEqual({
      status: 422,
      message: expect.stringMatching(/points\[0\]\.value: must be a finite number/),
    });
    expect(await bad('bench.bad', { points: [{ value: 'fast' }] })).toMatchObject({
      status: 422,
      message: expect.stringMatching(/points\[0\]\.value/),
    });
    expect(await bad('bench.bad', { points: [{ value: 1, tags: { '9lives': 'x' } }] })).toMatchObject({
      status: 422,
      message: expect.stringMatching(/points\[0\]\.tags/),
    });
    expect(await bad('bench.bad', { points: [{ value: 1, tags: { value: 'x' } }] })).toMatchObject({
      status: 422,
      message: expect.stringMatching(/points\[0\]\.tags.*field name/),
    });
    expect(await bad('bench.bad', { points: [{ value: 1, time: 'yesterday' }] })).toMatchObject({
      status: 422,
      message: expect.stringMatching(/points\[0\]\.time/),
    });
    expect(await bad('bench.bad', { points: [{ value: 1, colour: 'red' }] })).toMatchObject({
      status: 422,
      message: expect.stringMatching(/points\[0\].*colour/),
    });
    expect(await bad('bench.bad', { points: Array.from({ length: 1001 }, () => ({ value: 1 })) })).toMatchObject({
      status: 422,
      message: expect.stringMatching(/points: at most 1000 points/),
    });
    expect(await bad('bench.bad', { points: [] })).toMatchObject({ status: 422, message: expect.stringMatching(/points/) });
    expect(await bad('9bad', { points: [{ value: 1 }] })).toMatchObject({
      status: 400,
      message: expect.stringMatching(/"9bad" is not a valid series name/),
    });
    expect((await api(master).get('/metrics/bench.bad/points')).status).toBe(404);
  });

  it('lists the change after a step, per tag combination, with the builds and revisions around it', async () => {
    const points = (branch: string, values: number[], from: number) =>
      values.map((value, i) => ({
        value,
        time: T0 + 3600 + (from + i) * 60,
        tags: { branch },
        revision: `${branch}-r${from + i}`,
        build_number: from + i,
      }));
    const quiet = Array.from({ length: 40 }, (_, i) => 200 + (i % 3));
    const slower = Array.from({ length: 8 }, (_, i) => 230 + (i % 3));
    const post = (body: unknown) => api(master).post('/metrics/bench.render_ms/points', body, auth);
    expect((await post({ kind: 'duration', points: points('main', quiet, 0) })).status).toBe(201);
    expect((await post({ points: points('next', [...quiet, ...quiet.slice(0, 8)], 0) })).status).toBe(201);

    const none = await api(master).get<MetricChangesPage>('/metrics/bench.render_ms/changes');
    expect(none.status).toBe(200);
    expect(none.body.changes).toEqual([]);

    expect((await post({ points: points('main', slower, 40) })).status).toBe(201);
    const found = await api(master).get<MetricChangesPage>('/metrics/bench.render_ms/changes');
    expect(found.body.meta).toMatchObject({ total: 1, kind: 'duration', points: 96 });
    const [change] = found.body.changes;
    expect(change).toMatchObject({
      series: 'bench.render_ms',
      tags: { branch: 'main' },
      before: { build_number: 39, revision: 'main-r39' },
      after: { build_number: 40, revision: 'main-r40', value: 230 },
      points_before: 40,
      points_after: 8,
      change: 'increase',
      verdict: 'worse',
    });
    expect(change?.magnitude_percent).toBeCloseTo(15, 0);
    expect(change?.p_value).toBeLessThan(1e-6);

    // The same tag filters as the other metric endpoints.
    expect((await api(master).get<MetricChangesPage>('/metrics/bench.render_ms/changes?tag.branch=next')).body.changes).toEqual([]);
    expect((await api(master).get<MetricChangesPage>('/metrics/bench.render_ms/changes?tag.branch=main')).body.meta.total).toBe(1);
    expect((await api(master).get('/metrics/bench.render_ms/changes?colour=red')).status).toBe(400);
    expect((await api(master).get('/metrics/bench.render_ms/changes?splitBy=step')).status).toBe(400);
    expect((await api(master).get('/metrics/nothing_here/changes')).status).toBe(404);
  });
});
