/**
 * A bench for unit tests of the build logic: one migrated in-memory SQLite database per test file
 * (with the SQL metrics store on it), and `fixture({ steps })`, which compiles the steps into a
 * builder as a real config would, queues and claims a request, and hands back a Build that runs on
 * a FakeAgentConnection. Each fixture has a builder of its own (numbers start at 1) and a bus of its
 * own (the events it records are its build's alone).
 */
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { createRepositories, type Repositories } from '../../master/db/repositories.ts';
import type { BuildRequestRow, BuildRow, LogRow, StepRow } from '../../master/db/entities.ts';
import { slugify } from '../../master/db/logs.ts';
import { EventBus, type DomainEvents } from '../../master/events/event-bus.ts';
import { Build } from '../../master/build/build-runner.ts';
import { SecretMasker } from '../../master/build/secret-masker.ts';
import { createTriggerer } from '../../master/build/triggerer.ts';
import { compileConfig, type CompiledBuilder } from '../../master/config/compile.ts';
import { defineConfig } from '../../master/config/define-config.ts';
import { createMetricsService } from '../../metrics/create-metrics.ts';
import type { MetricsService } from '../../metrics/metrics-service.ts';
import { createStepMetrics } from '../../metrics/step-metrics.ts';
import { BuildFactory } from '../../steps/build-factory.ts';
import type { Step } from '../../steps/step.ts';
import type { PropertyValue } from '../../steps/properties/properties.ts';
import { isResult, resultName } from '../../core/results.ts';
import { silentLogger } from '../../core/logger.ts';
import { FakeAgentConnection } from './fake-agent.ts';

export interface FixtureOptions {
  steps: Step[];
  /** The request's properties (what a force or a scheduler sets). */
  properties?: Record<string, PropertyValue>;
  /** The builder's own properties. */
  builderProperties?: Record<string, PropertyValue>;
  /** The config's secrets: rendered by %(secret:NAME)s and masked in logs. */
  secrets?: Record<string, string>;
  agent?: FakeAgentConnection;
}

export interface StoredLog {
  row: LogRow;
  /** The chunks as stored, in order: stream ('o', 'e', 'h') and bytes. */
  chunks: { stream: string; content: Buffer }[];
  /** All the bytes, in order. */
  bytes: Buffer;
}

export interface BuildFixture {
  build: Build;
  agent: FakeAgentConnection;
  builder: CompiledBuilder;
  builderid: number;
  request: BuildRequestRow;
  /** The events of this fixture's bus, as `name detail`, in the order published. */
  events: string[];
  buildFinished: DomainEvents['build.finished'][];
  stepFinished: DomainEvents['step.finished'][];
  /** Runs the build; resolves with the build row as stored. */
  run(): Promise<BuildRow>;
  /** Claims the request again and makes a new Build of it (the next try after a RETRY). */
  retry(): Promise<Build>;
  /** The request as stored now. */
  storedRequest(): Promise<BuildRequestRow>;
  /** The steps of the latest build run, by number. */
  steps(): Promise<StepRow[]>;
  step(name: string): Promise<StepRow>;
  log(step: string, name: string): Promise<StoredLog>;
  /** The build's properties as stored: name -> [value, source]. */
  properties(): Promise<Record<string, [PropertyValue, string]>>;
}

export interface BuildBench {
  repos: Repositories;
  metrics: MetricsService;
  fixture(options: FixtureOptions): Promise<BuildFixture>;
  close(): Promise<void>;
}

/** Opens the database (once per test file: beforeAll) and the metrics service on it. */
export async function openBuildBench(): Promise<BuildBench> {
  const db: Database = await openDatabase('sqlite::memory:');
  const repos = createRepositories(db);
  const metrics = await createMetricsService(db, undefined, silentLogger);
  const stepMetrics = createStepMetrics(metrics, repos, 20);
  const master = await repos.masters.register('build-logic-unit', Date.now());
  const shutdown = new AbortController();
  let builders = 0;

  async function fixture(options: FixtureOptions): Promise<BuildFixture> {
    const name = `builder-${++builders}`;
    const config = compileConfig(
      defineConfig({
        builders: [{ name, workdir: 'wd', factory: new BuildFactory(options.steps), properties: options.builderProperties ?? {} }],
        ...(options.secrets ? { secrets: options.secrets } : {}),
      }),
    );
    const builder = config.builders[0];
    if (!builder) throw new Error('the config compiled without its builder');
    const builderRow = (await repos.builders.sync([{ name, tags: [] }])).get(name);
    if (!builderRow) throw new Error(`builder ${name} was not stored`);
    const builderid = builderRow.id;
    const request = await repos.buildRequests.create({ builderid, reason: 'unit test', properties: options.properties ?? {} }, Date.now());
    await repos.buildRequests.claim(request.id, master.id, Date.now());

    const agent = options.agent ?? new FakeAgentConnection();
    const bus = new EventBus();
    const events: string[] = [];
    const buildFinished: DomainEvents['build.finished'][] = [];
    const stepFinished: DomainEvents['step.finished'][] = [];
    const named = (r: number) => resultName(isResult(r) ? r : null) ?? String(r);
    bus.subscribe('build.started', (e) => events.push(`build.started #${e.number} on ${e.agent}`));
    bus.subscribe('step.started', (e) => events.push(`step.started ${e.number} ${e.name}`));
    bus.subscribe('step.finished', (e) => {
      stepFinished.push(e);
      events.push(`step.finished ${e.name} ${named(e.results)}`);
    });
    bus.subscribe('buildrequest.complete', (e) => events.push(`buildrequest.complete ${named(e.results)}`));
    bus.subscribe('build.finished', (e) => {
      buildFinished.push(e);
      events.push(`build.finished #${e.number} ${named(e.results)}`);
    });

    const secrets = options.secrets ?? {};
    const deps = {
      repos,
      secrets,
      masker: new SecretMasker(Object.values(secrets)),
      metrics: stepMetrics,
      logMaxBytes: 1024 * 1024,
      bus,
      log: silentLogger,
      masterid: master.id,
      now: () => Date.now(),
      triggerer: createTriggerer([], repos, bus, () => Promise.reject(new Error('no scheduler in unit tests')), shutdown.signal),
    };
    let build = new Build(deps, builder, builderid, request, agent);
    let lastBuildid: number | null = null;

    const steps = async () => {
      if (lastBuildid === null) throw new Error('no build has run yet');
      return (await repos.steps.query({}, { buildid: lastBuildid })).rows;
    };
    const step = async (stepName: string) => {
      const found = (await steps()).find((s) => s.name === stepName);
      if (!found) throw new Error(`no step named ${stepName} was stored`);
      return found;
    };

    return {
      get build() {
        return build;
      },
      agent,
      builder,
      builderid,
      request,
      events,
      buildFinished,
      stepFinished,
      async run() {
        const row = await build.run();
        lastBuildid = row.id;
        const stored = await repos.builds.get(row.id);
        if (!stored) throw new Error(`build ${row.id} was not stored`);
        return stored;
      },
      async retry() {
        if (!(await repos.buildRequests.claim(request.id, master.id, Date.now())))
          throw new Error('the request could not be claimed again');
        build = new Build(deps, builder, builderid, request, agent);
        return build;
      },
      async storedRequest() {
        const row = await repos.buildRequests.get(request.id);
        if (!row) throw new Error(`request ${request.id} is gone`);
        return row;
      },
      steps,
      step,
      async log(stepName, logName) {
        const stepRow = await step(stepName);
        const row = await repos.logs.bySlug(stepRow.id, slugify(logName));
        if (!row) throw new Error(`step ${stepName} has no log ${logName}`);
        const chunks: StoredLog['chunks'] = [];
        for await (const c of repos.logs.readChunks(row.id)) chunks.push({ stream: c.stream, content: Buffer.from(c.content) });
        return { row, chunks, bytes: Buffer.concat(chunks.map((c) => c.content)) };
      },
      async properties() {
        if (lastBuildid === null) throw new Error('no build has run yet');
        const row = await repos.builds.get(lastBuildid);
        if (!row) throw new Error(`build ${lastBuildid} is gone`);
        const parsed: unknown = JSON.parse(row.properties);
        return isPropertyMap(parsed) ? parsed : {};
      },
    };
  }

  return {
    repos,
    metrics,
    fixture,
    async close() {
      shutdown.abort();
      await metrics.close();
      await db.close();
    },
  };
}

function isPropertyMap(v: unknown): v is Record<string, [PropertyValue, string]> {
  return (
    typeof v === 'object' && v !== null && Object.values(v).every((e) => Array.isArray(e) && e.length === 2 && typeof e[1] === 'string')
  );
}
