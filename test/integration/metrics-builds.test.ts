/** Metrics from real builds: measuring and lint steps, tracking, regressions, the API and /metrics. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BuildFactory,
  Lint,
  MeasureShellCommand,
  ShellCommand,
  interpolate,
  trackCustomStep,
  trackProperties,
  trackStepTimes,
} from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import type { ConfigError } from '../../core/errors/index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, stepLog, type AgentProcess } from '../helpers/harness.ts';

const ESLINT_JSON = JSON.stringify([
  { filePath: '/src/a.js', messages: [{ ruleId: 'no-unused-vars', severity: 1, message: "'x' is unused", line: 3 }] },
  { filePath: '/src/b.js', messages: [{ ruleId: 'eqeqeq', severity: 1, message: 'Expected ===', line: 9 }] },
]);
const FLAKE8 =
  'app.py:1:1: F401 os imported but unused\napp.py:7:80: E501 line too long (88 > 79 characters)\napp.py:9:1: W391 blank line at end of file';

describe.each(testDatabases())('metrics from builds on $kind', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [{ name: 'm1', token: 'metrics-token-1', maxBuilds: 4 }],
        builders: [
          {
            name: 'size',
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'compile', command: ['sleep', '0.2'] }))
              .addStep(
                new MeasureShellCommand({
                  name: 'bundle_size',
                  command: ['echo', interpolate('%(prop:size:-100)s')],
                  unit: 'bytes',
                  kind: 'size',
                  warnOnRegression: { threshold: 3 },
                  failOnRegression: { threshold: 10 },
                }),
              )
              .addStep(
                new MeasureShellCommand({ name: 'counts', command: 'printf "files=12\\nlines = 3400\\n\\n"', keys: ['files', 'lines'] }),
              ),
            metrics: [
              trackStepTimes('compile', { series: 'compile_time', tags: { team: 'core' } }),
              trackProperties('files', { series: 'file_count' }),
            ],
          },
          {
            name: 'bad-measure',
            factory: new BuildFactory().addStep(new MeasureShellCommand({ name: 'weight', command: 'echo weight=42; echo "12 MB"' })),
          },
          {
            name: 'lint',
            factory: new BuildFactory()
              .addStep(new Lint({ name: 'eslint', command: ['sh', '-c', `cat <<'EOF'\n${ESLINT_JSON}\nEOF\nexit 1`], format: 'eslint' }))
              .addStep(new Lint({ name: 'flake', command: ['printf', `${FLAKE8}\n`], format: 'flake8' }))
              .addStep(
                new Lint({ name: 'garbled', command: ['echo', 'Traceback (most recent call last):'], format: 'flake8', alwaysRun: true }),
              )
              .addStep(new Lint({ name: 'crashed', command: 'echo "config not found" >&2; exit 2', format: 'flake8', alwaysRun: true })),
          },
          {
            name: 'custom',
            factory: new BuildFactory().addStep(new MeasureShellCommand({ name: 'artifact', command: ['echo', '2048'] })),
            metrics: [trackCustomStep('artifact', { series: 'artifact_bytes', tags: { kind: 'tarball' } })],
          },
        ],
      },
      await db.create(),
    );
    agent = await startAgent(master, 'm1', 'metrics-token-1');
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('captures measured values as properties and points, and flags regressions against the baseline', async () => {
    const results = [];
    for (const size of [100, 101, 99, 100, 102]) results.push((await forceAndWait(master, 'size', { properties: { size } })).build.result);
    expect(results).toEqual(['success', 'success', 'success', 'success', 'success']);
    const warned = await forceAndWait(master, 'size', { properties: { size: 107 } });
    expect(warned.build.result).toBe('warnings');
    expect(warned.steps[1].state_string).toMatch(
      /^bundle_size=107 bytes; regression: bundle_size 107 is 4\.7σ from its baseline 100 \(n=5\)/,
    );
    const failed = await forceAndWait(master, 'size', { properties: { size: 130 } });
    expect(failed.build.result).toBe('failure');
    expect(failed.steps[1].result).toBe('failure');
    expect(failed.build.properties.bundle_size).toEqual([130, 'bundle_size']);
    expect(failed.build.properties.lines).toEqual([3400, 'counts']);

    const c = api(master);
    const summary = (await c.get('/metrics/bundle_size/summary?builder=size')).body.summary;
    expect(summary).toMatchObject({ series: 'bundle_size', count: 7, minimum: 99, maximum: 130, p50: 101, unit: 'bytes' });
    expect(summary.average).toBeCloseTo(739 / 7, 10);
    const buildMetrics = (await c.get(`/builds/${warned.build.buildid}/metrics`)).body.metrics;
    const size = buildMetrics.find((m: { series: string }) => m.series === 'bundle_size');
    expect(size).toMatchObject({
      value: 107,
      build_number: warned.build.number,
      tags: { builder: 'size', step: 'bundle_size', agent: 'm1' },
      baseline: { median: 100, n: 5 },
    });
    expect(size.score).toBeCloseTo(7 / 1.4826, 6);
    const points = (await c.get('/metrics/bundle_size/points?order=-time&limit=2')).body;
    expect(points.meta.total).toBe(7);
    expect(points.points.map((p: { value: number }) => p.value)).toEqual([130, 107]);
  });

  it('captures build and step durations, queue latency, tracked step times and properties', async () => {
    const c = api(master);
    const series = (await c.get('/metrics')).body.metrics.map((m: { series: string }) => m.series);
    expect(series).toEqual(
      expect.arrayContaining([
        'build_duration',
        'step_duration',
        'queue_latency',
        'compile_time',
        'file_count',
        'files',
        'lines',
        'bundle_size',
      ]),
    );
    const builds = (await c.get('/builders/size/builds')).body.meta.total;
    expect((await c.get('/metrics/build_duration/summary?builder=size')).body.summary.count).toBe(builds);
    expect((await c.get('/metrics/queue_latency/summary?builder=size')).body.summary.count).toBe(builds);
    expect((await c.get('/metrics/step_duration/summary?builder=size&step=compile')).body.summary.count).toBe(builds);
    const compile = (await c.get('/metrics/compile_time/summary?tag.team=core')).body.summary;
    expect(compile.count).toBe(builds);
    expect(compile.minimum).toBeGreaterThanOrEqual(0.19);
    expect((await c.get('/metrics/file_count/summary?builder=size')).body.summary).toMatchObject({ count: builds, average: 12 });
    expect((await c.get('/metrics/build_duration/summary?result=failure')).body.summary.count).toBe(1);
  });

  it('fails a measuring step on non-numeric output, quoting the line, and stores nothing', async () => {
    const { build, steps } = await forceAndWait(master, 'bad-measure');
    expect(build.result).toBe('failure');
    expect(steps[0].state_string).toBe('unparsable output: line 2 is not a number or key=value with a numeric value: "12 MB"');
    expect((await stepLog(master, steps[0].stepid, 'measure-error')).toString()).toContain('"12 MB"');
    expect(build.properties.weight).toBeUndefined(); // the valid first line is not stored either
    const c = api(master);
    expect((await c.get('/metrics/weight/summary')).status).toBe(404);
  });

  it('counts lint findings per parser: warnings give WARNINGS, errors FAILURE, unreadable output FAILURE', async () => {
    const { build, steps } = await forceAndWait(master, 'lint');
    expect(steps.map((s: { name: string; result: string; state_string: string }) => [s.name, s.result, s.state_string])).toEqual([
      ['eslint', 'warnings', '0 errors, 2 warnings'],
      ['flake', 'failure', '2 errors, 1 warning'],
      ['garbled', 'failure', 'unparsable output: flake8 output line 1 is not in the expected format: "Traceback (most recent call last):"'],
      ['crashed', 'failure', 'linter exited with code 2 and reported no findings'],
    ]);
    expect(build.result).toBe('failure');
    expect(build.properties).toMatchObject({
      eslint_warnings: [2, 'eslint'],
      eslint_errors: [0, 'eslint'],
      flake_errors: [2, 'flake'],
      flake_warnings: [1, 'flake'],
    });
    expect(build.properties.garbled_warnings).toBeUndefined();
    expect((await stepLog(master, steps[0].stepid, 'issues')).toString()).toBe(
      "warning: /src/a.js:3: 'x' is unused (no-unused-vars)\nwarning: /src/b.js:9: Expected === (eqeqeq)\n",
    );
    const c = api(master);
    expect((await c.get('/metrics/flake_errors/summary')).body.summary).toMatchObject({ count: 1, average: 2 });
    expect((await c.get('/metrics/eslint_warnings/summary?step=eslint')).body.summary).toMatchObject({ count: 1, average: 2 });
  });

  it('renames and tags what a step measures with trackCustomStep', async () => {
    const { build } = await forceAndWait(master, 'custom');
    expect(build.result).toBe('success');
    const c = api(master);
    expect((await c.get('/metrics/artifact_bytes/summary?tag.kind=tarball&builder=custom')).body.summary).toMatchObject({
      count: 1,
      average: 2048,
    });
    expect((await c.get('/metrics/artifact/summary')).status).toBe(404);
  });

  it('serves Prometheus text with build, step, queue and agent figures', async () => {
    const res = await fetch(`${master.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^caliper_builds_total\{builder="size",result="success"\} 5$/m);
    expect(text).toMatch(/^caliper_builds_total\{builder="size",result="warnings"\} 1$/m);
    expect(text).toMatch(/^caliper_build_duration_seconds_count\{builder="size",result="failure"\} 1$/m);
    expect(text).toMatch(/^caliper_step_duration_seconds_bucket\{le="\+Inf",builder="lint",result="failure"\} 3$/m);
    expect(text).toMatch(/^caliper_queue_latency_seconds_count\{builder="size"\} 7$/m);
    expect(text).toMatch(/^caliper_agents_connected 1$/m);
    expect(text).toMatch(/^caliper_builds_running\{builder="size"\} 0$/m);
    expect(text).toMatch(/^caliper_builder_last_result\{builder="lint"\} 2$/m);
  });

  it('answers bad metric queries with 400/404', async () => {
    const c = api(master);
    expect((await c.get('/metrics/bundle_size/summary?colour=red')).status).toBe(400);
    expect((await c.get('/metrics/bundle_size/summary?from=yesterday')).body.error.message).toMatch(
      /from must be epoch seconds or an ISO 8601 time/,
    );
    expect((await c.get('/metrics/nope/summary')).status).toBe(404);
    expect((await c.get('/metrics/bundle_size/points?limit=-3')).status).toBe(400);
  });
});

describe('metrics config', () => {
  it('refuses tracking of steps and properties the builder does not have, with paths', () => {
    const factory = new BuildFactory().addStep(new ShellCommand({ name: 'compile', command: 'true' }));
    let error: ConfigError | null = null;
    try {
      compileConfig({
        agents: [{ name: 'a', token: 'token-12345' }],
        builders: [
          {
            name: 'b',
            factory,
            metrics: [
              trackStepTimes('compiel'),
              trackProperties('ghost'),
              trackCustomStep('compile'),
              trackStepTimes('compile', { tags: { value: 'x' } }),
            ],
          },
        ],
        services: [{ type: 'influxdb', url: 'http://127.0.0.1:1' }],
      });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.issues).toEqual(
      expect.arrayContaining([
        { path: 'builders[0].metrics[0].step', message: 'builder has no step named "compiel"' },
        {
          path: 'builders[0].metrics[1].property',
          message: 'no step of this builder sets property "ghost" and the builder does not define it',
        },
        { path: 'builders[0].metrics[2].step', message: 'step "compile" measures nothing (use MeasureShellCommand or Lint)' },
        { path: 'builders[0].metrics[3].tags', message: expect.stringContaining('key "value" is a field name') },
        { path: 'services[0].database', message: 'needs exactly one of "database" (InfluxDB 1.x) or "bucket" (2.x/3.x)' },
      ]),
    );
  });
});
