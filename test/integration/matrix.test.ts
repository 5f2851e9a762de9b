/**
 * Matrix builds on a real master with real agent processes: a 2×2 matrix with an exclude fans one
 * force out into three cell builds (run in parallel on free agents), one of which fails; the parent
 * buildset's result is the worst of its cells; each cell has its axis values as properties (source
 * 'Matrix') and as tags on its metric points, which the metrics API splits by axis. Stopping the
 * parent stops running cells and cancels queued ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, MeasureShellCommand, ShellCommand, interpolate } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import type { Build, BuildRequest, Buildset, MetricPoint, Summary } from '../../protocol/api-types.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'matrix-test-token';

describe.each(testDatabases())('matrix builds on $kind', (db) => {
  let master: RunningMaster;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [
          { name: 'm1', token: TOKEN, maxBuilds: 2 },
          { name: 'm2', token: TOKEN, maxBuilds: 2 },
        ],
        builders: [
          {
            name: 'grid',
            matrix: { node: ['18', '20'], target: ['a', 'b'], exclude: [{ node: '18', target: 'b' }] },
            factory: new BuildFactory()
              .addStep(new MeasureShellCommand({ name: 'size', command: ['echo', interpolate('%(prop:node)s')], metric: 'grid_size' }))
              // Only the cell node=20, target=b fails.
              .addStep(new ShellCommand({ name: 'check', command: interpolate('test "%(prop:node)s-%(prop:target)s" != "20-b"') })),
          },
          {
            name: 'slow',
            matrix: { n: [1, 2, 3, 4] },
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'wait', command: 'sleep 60' })),
          },
        ],
      },
      await db.create(),
    );
    agents.push(await startAgent(master, 'm1', TOKEN), await startAgent(master, 'm2', TOKEN));
  });

  afterAll(async () => {
    for (const a of agents) await a.kill();
    await master?.stop();
  });

  /** Forces a matrix builder; the buildset its cells are in. */
  async function forceMatrix(builder: string): Promise<number> {
    const client = api(master);
    const forced = await client.post(`/builders/${builder}/force`, {});
    expect(forced.status).toBe(202);
    const request = (await client.get(`/buildrequests/${forced.body.buildrequestid}`)).body.buildrequests[0] as BuildRequest;
    expect(request.buildsetid).not.toBeNull();
    return request.buildsetid as number;
  }
  const buildsetOf = async (id: number) => (await api(master).get(`/buildsets/${id}`)).body.buildsets[0] as Buildset;

  it('runs one build per cell, minus the exclude; the parent is the worst of its cells', async () => {
    const client = api(master);
    const id = await forceMatrix('grid');
    const set = await waitFor('the matrix to complete', async () => {
      const s = await buildsetOf(id);
      return s.complete ? s : null;
    });
    expect(set.axes).toEqual(['node', 'target']);
    expect(set.requests.map((r) => [r.matrix, r.result])).toEqual([
      [{ node: '18', target: 'a' }, 'success'],
      [{ node: '20', target: 'a' }, 'success'],
      [{ node: '20', target: 'b' }, 'failure'],
    ]);
    expect(set.result).toBe('failure');
    expect(set.requests.every((r) => r.buildid !== null && r.build_complete)).toBe(true);

    for (const r of set.requests) {
      const build = (await client.get(`/builds/${r.buildid}`)).body.builds[0] as Build;
      expect(build.matrix).toEqual(r.matrix);
      expect(build.properties.node).toEqual([r.matrix?.node, 'Matrix']);
      expect(build.properties.target).toEqual([r.matrix?.target, 'Matrix']);
      const request = (await client.get(`/buildrequests/${r.buildrequestid}`)).body.buildrequests[0] as BuildRequest;
      expect(request.matrix).toEqual(r.matrix);
    }

    // Every point a cell captures carries its axis values: the step's own and the build's duration.
    await master.metrics.flush();
    const points = (await client.get('/metrics/grid_size/points?builder=grid')).body.points as MetricPoint[];
    expect(points.map((p) => [p.tags.node, p.tags.target, p.value]).sort()).toEqual([
      ['18', 'a', 18],
      ['20', 'a', 20],
      ['20', 'b', 20],
    ]);
    const durations = (await client.get('/metrics/build_duration/points?builder=grid')).body.points as MetricPoint[];
    expect(durations.map((p) => `${p.tags.node}/${p.tags.target}/${p.tags.result}`).sort()).toEqual([
      '18/a/success',
      '20/a/success',
      '20/b/failure',
    ]);

    const split = (await client.get('/metrics/grid_size/summary?builder=grid&splitBy=node')).body as {
      summary: Summary;
      split: { tag: string; groups: { value: string; summary: Summary }[] };
    };
    expect(split.summary.count).toBe(3);
    expect(split.split.groups.map((g) => [g.value, g.summary.count, g.summary.average])).toEqual([
      ['18', 1, 18],
      ['20', 2, 20],
    ]);
    const grouped = (await client.get('/metrics/grid_size/points?builder=grid&splitBy=target')).body as {
      split: { groups: { value: string; points: MetricPoint[] }[] };
    };
    expect(Object.fromEntries(grouped.split.groups.map((g) => [g.value, g.points.length]))).toEqual({ a: 2, b: 1 });
  });

  it('stops the running cells and cancels the queued ones when the parent is stopped', async () => {
    const client = api(master);
    const id = await forceMatrix('slow');
    // An agent runs one build of a builder at a time: two cells run, two wait.
    await waitFor('two cells running', async () => (await buildsetOf(id)).requests.filter((r) => r.buildid !== null).length === 2);
    const stopped = await client.post(`/buildsets/${id}/stop`, { reason: 'enough' });
    expect(stopped.status).toBe(202);
    expect(stopped.body.stopping).toHaveLength(2);
    expect(stopped.body.cancelled).toHaveLength(2);
    const set = await waitFor('the matrix to end', async () => {
      const s = await buildsetOf(id);
      return s.complete ? s : null;
    });
    expect(set.requests.map((r) => r.result)).toEqual(Array(4).fill('cancelled'));
    expect(set.result).toBe('cancelled');
  });

  it('refuses a matrix that names what is not there, with the path', async () => {
    const { compileConfig } = await import('../../master/config/compile.ts');
    expect(() =>
      compileConfig({
        builders: [
          {
            name: 'bad',
            matrix: { node: ['18'], exclude: [{ os: 'linux' }] },
            factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'true' })),
          },
        ],
      }),
    ).toThrow(/builders\[0\]\.matrix\.exclude\[0\]\.os: no axis named "os"/);
  });
});
