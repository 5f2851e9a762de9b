/**
 * Builder `env` and agent `properties` (issue 12, item 5), as Buildbot's builder env and worker
 * properties: the builder's env is under every command's own, and a configured agent's properties
 * are set on the builds it runs, with source 'Worker' (after the builder's, before the request's).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { createRepositories, type Repositories } from '../../master/db/repositories.ts';
import { EventBus } from '../../master/events/event-bus.ts';
import { Build, type BuildDeps } from '../../master/build/build-runner.ts';
import { SecretMasker } from '../../master/build/secret-masker.ts';
import { createTriggerer } from '../../master/build/triggerer.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { createMetricsService } from '../../metrics/create-metrics.ts';
import type { MetricsService } from '../../metrics/metrics-service.ts';
import { createStepMetrics } from '../../metrics/step-metrics.ts';
import { BuildFactory, ShellCommand, type CaliperConfig } from '../../index.ts';
import { silentLogger } from '../../core/logger.ts';
import { issuesOf } from './config-helpers.ts';
import { FakeAgentConnection } from '../helpers/fake-agent.ts';

let db: Database;
let repos: Repositories;
let metrics: MetricsService;
const shutdown = new AbortController();

beforeAll(async () => {
  db = await openDatabase('sqlite::memory:');
  repos = createRepositories(db);
  metrics = await createMetricsService(db, undefined, silentLogger);
});
afterAll(async () => {
  shutdown.abort();
  await metrics.close();
  await db.close();
});

const CONFIG: CaliperConfig = {
  agents: [
    { name: 'a1', token: 'dev-token', properties: { arch: 'x86_64', flavour: 'agent', asked: 'agent' } },
    { name: 'a2', token: 'dev-token' },
  ],
  builders: [
    {
      name: 'b',
      env: { CC: 'gcc', SHARED: 'builder' },
      properties: { flavour: 'builder' },
      factory: new BuildFactory([
        new ShellCommand({ name: 'plain', command: 'make' }),
        new ShellCommand({ name: 'own-env', command: 'make', env: { SHARED: 'step', EXTRA: '1' } }),
      ]),
    },
  ],
};

/** Runs one build of CONFIG's builder on a fake agent named `agentName`; its commands' specs and stored properties. */
async function runOn(agentName: string) {
  const config = compileConfig(CONFIG);
  const builder = config.builders[0];
  if (!builder) throw new Error('no builder');
  const master = await repos.masters.register(`unit-${agentName}-${Date.now()}`, Date.now());
  const builderRow = (await repos.builders.sync([{ name: builder.name, tags: [] }])).get(builder.name);
  if (!builderRow) throw new Error('builder not stored');
  const request = await repos.buildRequests.create(
    { builderid: builderRow.id, reason: 'unit', properties: { asked: 'request' } },
    Date.now(),
  );
  await repos.buildRequests.claim(request.id, master.id, Date.now());
  const bus = new EventBus();
  const deps: BuildDeps = {
    repos,
    secrets: {},
    masker: new SecretMasker([]),
    metrics: createStepMetrics(metrics, repos, 20),
    logMaxBytes: 1024 * 1024,
    bus,
    log: silentLogger,
    masterid: master.id,
    now: () => Date.now(),
    triggerer: createTriggerer([], repos, bus, () => Promise.reject(new Error('no scheduler here')), shutdown.signal),
    agentProperties: new Map(config.agents.map((a) => [a.name, a.properties ?? {}])),
  };
  const agent = new FakeAgentConnection(agentName);
  const row = await new Build(deps, builder, builderRow.id, request, agent).run();
  const properties: unknown = JSON.parse(row.properties);
  return { row, env: agent.started.map((c) => c.spec.env), properties };
}

describe('builder env', () => {
  it('is under every command of the build; a step env wins', async () => {
    const { row, env } = await runOn('a1');
    expect(row.results).toBe(0);
    expect(env).toEqual([
      { CC: 'gcc', SHARED: 'builder' },
      { CC: 'gcc', SHARED: 'step', EXTRA: '1' },
    ]);
  });

  it('refuses a name that is not an environment variable name', () => {
    const bad = {
      builders: [{ name: 'b', env: { 'NOT OK': 'x' }, factory: new BuildFactory([new ShellCommand({ name: 's', command: 'true' })]) }],
    };
    expect(issuesOf(() => compileConfig(bad))).toEqual([
      { path: 'builders[0].env', message: 'key "NOT OK" must be an environment variable name' },
    ]);
  });
});

describe('agent properties', () => {
  it("are set on the builds the agent runs, source 'Worker': over the builder's, under the request's", async () => {
    const { properties } = await runOn('a1');
    expect(properties).toMatchObject({
      arch: ['x86_64', 'Worker'],
      flavour: ['agent', 'Worker'],
      asked: ['request', 'Scheduler'],
    });
  });

  it('are absent on another agent', async () => {
    const { properties } = await runOn('a2');
    expect(properties).toMatchObject({ flavour: ['builder', 'Builder'] });
    expect(properties).not.toHaveProperty('arch');
  });
});
