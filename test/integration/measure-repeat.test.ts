/**
 * MeasureShellCommand({ repeat }) on a real agent: the command runs N times, the point's value is the
 * median, every sample is stored with it and comes back from the points API — with the SQL store (on
 * each test database) and with InfluxDB (when CALIPER_TEST_INFLUX_URL is set).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, MeasureShellCommand, influxdb } from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import type { ConfigError } from '../../core/errors/index.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { testInfluxUrl, uniqueDatabase } from '../helpers/influxd.ts';
import { api, forceAndWait, startAgent, startTestMaster, stepLog, type AgentProcess } from '../helpers/harness.ts';

/** Prints the next number of `values` each time it runs (a counter file in the build directory). */
function rotating(file: string, outputs: string[]): string {
  const cases = outputs.map((o, i) => `${i}) printf '${o}\\n' ;;`).join(' ');
  return `n=$(cat ${file} 2>/dev/null || echo 0); echo $((n + 1)) > ${file}; case $((n % ${outputs.length})) in ${cases} esac`;
}

function builders(): ConfigInput['builders'] {
  return [
    {
      name: 'startup',
      factory: new BuildFactory().addStep(
        new MeasureShellCommand({
          name: 'startup_ms',
          command: rotating('.startup', ['30', '10', '50', '20', '40']),
          repeat: 5,
          kind: 'duration',
          unit: 'ms',
        }),
      ),
    },
    {
      name: 'sizes',
      factory: new BuildFactory().addStep(
        new MeasureShellCommand({
          name: 'sizes',
          command: rotating('.sizes', ['a=1\\nb=5', 'a=3\\nb=4', 'a=2\\nb=6']),
          keys: ['a', 'b'],
          repeat: 3,
        }),
      ),
    },
    {
      name: 'once',
      factory: new BuildFactory().addStep(new MeasureShellCommand({ name: 'once_ms', command: ['echo', '7'] })),
    },
    {
      name: 'garbled',
      factory: new BuildFactory().addStep(
        new MeasureShellCommand({ name: 'garbled_ms', command: rotating('.garbled', ['12', 'oops', '14']), repeat: 3 }),
      ),
    },
  ];
}

interface Store {
  name: string;
  dbUrl: () => Promise<string>;
  services: () => ConfigInput['services'];
}

const influxUrl = testInfluxUrl();
const stores: Store[] = [
  ...testDatabases().map((db) => ({ name: `sql store on ${db.kind}`, dbUrl: () => db.create(), services: () => [] })),
  ...(influxUrl
    ? [
        {
          name: 'influxdb store',
          dbUrl: () => testDatabases()[0]?.create() ?? Promise.reject(new Error('no test database')),
          services: () => [influxdb({ url: influxUrl, database: uniqueDatabase(), flushIntervalMs: 50 })],
        },
      ]
    : []),
];

describe.each(stores)('MeasureShellCommand repeat, $name', (store) => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    master = await startTestMaster(
      { agents: [{ name: 'r1', token: 'repeat-token-1' }], builders: builders(), services: store.services() },
      await store.dbUrl(),
    );
    agent = await startAgent(master, 'r1', 'repeat-token-1');
  }, 60_000);

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  /** The series' points from the API, once the store has them. */
  async function points(series: string): Promise<{ value: number; samples?: number[]; build_number: number | null }[]> {
    await master.metrics.flush();
    const res = await api(master).get(`/metrics/${series}/points`);
    expect(res.status).toBe(200);
    return res.body.points;
  }

  it('runs the command N times; the value is the median, the samples are stored and returned in run order', async () => {
    const { build, steps } = await forceAndWait(master, 'startup');
    expect(build.result).toBe('success');
    expect(steps[0].state_string).toBe('startup_ms=30 ms (median of 5)');
    expect(build.properties.startup_ms).toEqual([30, 'startup_ms']);
    const [point, ...rest] = await points('startup_ms');
    expect(rest).toEqual([]);
    expect(point).toMatchObject({ value: 30, samples: [30, 10, 50, 20, 40], build_number: build.number });
    // Every run's output stays in the log, under a line saying which run it was.
    const log = (await stepLog(master, steps[0].stepid)).toString();
    for (const [run, printed] of ['30', '10', '50', '20', '40'].entries()) {
      const at = log.indexOf(`measurement run ${run + 1} of 5`);
      expect(at, `run ${run + 1} in the log`).toBeGreaterThanOrEqual(0);
      expect(log.indexOf(printed, at)).toBeGreaterThan(at);
    }
  });

  it('takes the median per key for key=value output', async () => {
    const { build } = await forceAndWait(master, 'sizes');
    expect(build.result).toBe('success');
    expect(await points('a')).toMatchObject([{ value: 2, samples: [1, 3, 2] }]);
    expect(await points('b')).toMatchObject([{ value: 5, samples: [5, 4, 6] }]);
  });

  it('keeps a single measurement as before: no samples', async () => {
    await forceAndWait(master, 'once');
    const [point] = await points('once_ms');
    expect(point?.value).toBe(7);
    expect(point).not.toHaveProperty('samples');
  });

  it('fails the step, naming the run, when one run prints no number; nothing is stored', async () => {
    const { build, steps } = await forceAndWait(master, 'garbled');
    expect(build.result).toBe('failure');
    expect(steps[0].state_string).toContain('run 2 of 3');
    expect((await stepLog(master, steps[0].stepid, 'measure-error')).toString()).toContain('run 2 of 3: line 1 is not a number');
    await master.metrics.flush();
    expect((await api(master).get('/metrics/garbled_ms/points')).body.points ?? []).toEqual([]);
  });
});

describe('MeasureShellCommand repeat: config', () => {
  it.each([0, 51, 2.5])('refuses repeat %s, naming the option', (repeat) => {
    let error: ConfigError | null = null;
    try {
      compileConfig({
        agents: [{ name: 'a', token: 'token-12345' }],
        builders: [{ name: 'b', factory: new BuildFactory().addStep(new MeasureShellCommand({ name: 'm', command: 'echo 1', repeat })) }],
      });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.issues).toEqual([
      { path: 'builders[0].factory.steps[0].repeat', message: `must be a whole number of runs from 1 to 50, got ${repeat}` },
    ]);
  });
});
