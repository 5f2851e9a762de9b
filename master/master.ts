/**
 * Composes a running master from a compiled config: database, agent server, request claimer,
 * builds, HTTP API. Parts get what they need through their constructors; nothing is global.
 *
 * States: starting -> running -> stopping -> stopped.
 * Start-up recovers from a previous run that died: builds it left running end EXCEPTION (their
 * logs so far are kept), requests it had claimed go back in the queue.
 */
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import type { CompiledConfig, CompiledBuilder } from './config/compile.ts';
import { openDatabase, type Database } from './db/data-source.ts';
import { createRepositories, type Repositories } from './db/repositories.ts';
import { EventBus } from './events/event-bus.ts';
import { consoleLogger, type Logger } from '../core/logger.ts';
import { AgentRegistry } from './agents/agent-registry.ts';
import { AgentServer } from './agents/agent-server.ts';
import { RequestClaimer } from './scheduler/request-claimer.ts';
import { LockSet } from './scheduler/lock-set.ts';
import { Build } from './build/build-runner.ts';
import { SecretMasker } from './build/secret-masker.ts';
import { endAsException, recoverAbandoned } from './build/abandoned-builds.ts';
import { createApp } from './api/app.ts';
import type { BuildActions } from './api/deps.ts';
import { ConflictError, NotFoundError, ShuttingDownError, StoreUnavailableError } from '../core/errors/index.ts';
import { startPeriodicSchedulers } from './scheduler/periodic.ts';
import { startCronSchedulers } from './scheduler/cron.ts';
import { createTriggerer } from './build/triggerer.ts';
import { ChangeIntake } from './changes/change-intake.ts';
import type { BuildRequestRow } from './db/entities.ts';
import { createMetricsService } from '../metrics/create-metrics.ts';
import type { MetricsService } from '../metrics/metrics-service.ts';
import { startMetricsListener } from '../metrics/metrics-listener.ts';
import { createStepMetrics } from '../metrics/step-metrics.ts';
import { startPrometheusExporter } from '../metrics/prometheus.ts';
import type { GrafanaConfig, InfluxDbConfig } from '../metrics/config.ts';
import { linkMaker } from '../metrics/links.ts';
import { LiveStream } from './api/live-stream.ts';
import { PgFanout } from './events/pg-fanout.ts';

export interface MasterOptions {
  /** Overrides config.web.port (0 picks a free port). */
  port?: number;
  host?: string;
  /** Overrides config.db.url. */
  dbUrl?: string;
  /** Relative sqlite paths resolve against this (the config file's folder). */
  basedir?: string;
  log?: Logger;
  /** Name under which this master registers in a shared database. */
  name?: string;
  /** Overrides config.shutdownTimeoutMs. */
  shutdownTimeoutMs?: number;
}

export interface RunningMaster {
  url: string;
  port: number;
  db: Database;
  repos: Repositories;
  bus: EventBus;
  registry: AgentRegistry;
  metrics: MetricsService;
  masterid: number;
  /** Builds running on this master, by build id. */
  running: Map<number, Build>;
  /**
   * Graceful shutdown: no new builds start (force answers 503), running builds get the shutdown
   * timeout to finish, then are stopped (CANCELLED); metrics are flushed; connections closed.
   */
  stop(): Promise<void>;
}

export async function startMaster(config: CompiledConfig, options: MasterOptions = {}): Promise<RunningMaster> {
  const log = options.log ?? consoleLogger();
  const now = () => Date.now();
  const db = await openDatabase(options.dbUrl ?? config.db.url, { basedir: options.basedir });
  const repos = createRepositories(db);
  const bus = new EventBus();

  const builderRows = await repos.builders.sync(config.builders);
  const builders = config.builders.map((b) => ({ id: (builderRows.get(b.name) as { id: number }).id, config: b }));
  const buildersById = new Map<number, CompiledBuilder>(builders.map((b) => [b.id, b.config]));
  const master = await repos.masters.register(options.name ?? `${os.hostname()}:${options.basedir ?? process.cwd()}`, now());
  await recoverAbandoned(repos, master.id, now, log);
  await repos.agents.clearMaster(master.id);

  const influx = config.services.find((s): s is InfluxDbConfig => s.type === 'influxdb');
  const metrics = await createMetricsService(db, influx, log, master.id);
  const stopListener = startMetricsListener({
    bus,
    repos,
    metrics,
    buildersById,
    trackBuildTimes: config.metrics.trackBuildTimes && (influx?.trackBuildTimes ?? true),
    log,
  });
  const prometheusConfig = config.services.find((s) => s.type === 'prometheus');
  const prometheus = prometheusConfig?.enabled === false ? null : startPrometheusExporter(bus, buildersById);
  const stepMetrics = createStepMetrics(metrics, repos, config.metrics.regression.window);

  const registry = new AgentRegistry(config.agents, bus, config.protocol.graceMs);
  // Configured secrets and every token the master knows are masked wherever they would show.
  const masker = new SecretMasker([
    ...Object.values(config.secrets),
    ...config.agents.map((a) => a.token),
    ...(config.web.auth?.tokens ?? []),
    ...(config.web.changeHooks.github ? [config.web.changeHooks.github.secret] : []),
  ]);
  const running = new Map<number, Build>();
  let stopping = false;
  const finishing = new Set<Promise<unknown>>();

  const claimer = new RequestClaimer({
    repos,
    registry,
    log,
    masterid: master.id,
    now,
    buildersById,
    locks: new LockSet(config.locks),
    startBuild: (builder, builderid, request, agent, locks) => {
      const build = new Build(
        {
          repos,
          metrics: stepMetrics,
          logMaxBytes: config.logs.maxBytes,
          secrets: config.secrets,
          masker,
          bus,
          log,
          masterid: master.id,
          now,
          triggerer,
        },
        builder,
        builderid,
        request,
        agent.handle,
      );
      const p = build
        .run({ onStarted: (row) => running.set(row.id, build) })
        .catch(async (e: unknown) => {
          log.error('build failed to run', { builder: builder.name, request: request.id, error: String(e) });
          const row = build.row && build.row.complete_at === null ? build.row : null;
          await endAsException(
            repos,
            row,
            request.id,
            { build: 'exception: internal error', step: 'exception: internal error' },
            now,
          ).catch((err: unknown) => log.error('could not record the failed build', { error: String(err) }));
        })
        .finally(() => {
          if (build.row) running.delete(build.row.id);
          locks.release();
          registry.release(agent.config.name, builder.name); // wakes the claimer
          finishing.delete(p);
        });
      finishing.add(p);
    },
  });
  const wake = () => claimer.wake();
  bus.subscribe('buildrequest.new', wake);
  bus.subscribe('agent.connected', wake);
  bus.subscribe('agent.available', wake);

  const forceable = (name: string) => {
    const force = config.schedulers.filter((s) => s.type === 'force');
    // With no force scheduler configured, every builder can be forced (the minimal config works as is).
    return force.length === 0 || force.some((s) => s.builderNames.includes(name));
  };
  const submit = async (
    builderName: string,
    reason: string,
    properties: Record<string, unknown>,
    changeids: number[] = [],
    parentBuildid: number | null = null,
  ): Promise<number> => {
    const b = builders.find((x) => x.config.name === builderName);
    if (!b) throw new NotFoundError(`builder "${builderName}" not found`);
    const row = await repos.buildRequests.create({ builderid: b.id, reason, properties, changeids, parentBuildid }, now());
    bus.publish('buildrequest.new', { buildrequestid: row.id, builderid: b.id });
    return row.id;
  };
  const changes = new ChangeIntake({
    config,
    repos,
    bus,
    log,
    masterid: master.id,
    basedir: options.basedir ?? process.cwd(),
    submit,
    now,
  });
  const shutdown = new AbortController();
  const triggerer = createTriggerer(config.schedulers, repos, bus, submit, shutdown.signal);
  const actions: BuildActions = {
    addChanges: async (input) => {
      if (stopping) throw new ShuttingDownError('the master is shutting down; post the change again once it is back');
      return changes.add(input);
    },
    force: async (builderName, req) => {
      if (stopping) throw new ShuttingDownError('the master is shutting down; force the build again once it is back');
      if (!forceable(builderName)) throw new ConflictError(`no force scheduler lists builder "${builderName}"`);
      return submit(builderName, req.reason, req.properties);
    },
    stop: async (buildid, reason) => {
      const build = await repos.builds.get(buildid);
      if (!build) throw new NotFoundError(`build ${buildid} not found`);
      if (build.complete_at !== null) throw new ConflictError(`build ${buildid} is already finished`);
      const live = running.get(buildid);
      if (live) return live.stop(reason);
      // Another master sharing the database runs it: ask it (see events/pg-fanout.ts).
      if (fanout && build.masterid !== master.id && (await repos.masters.isActive(build.masterid))) {
        if (await fanout.send({ name: 'build.stop', data: { buildid, reason } })) return;
        throw new StoreUnavailableError(`build ${buildid} runs on another master, which could not be told to stop it; try again`);
      }
      throw new ConflictError(`build ${buildid} is not running on this master, nor on another running master`);
    },
    rebuild: async (buildid, reason) => {
      const build = await repos.builds.get(buildid);
      if (!build) throw new NotFoundError(`build ${buildid} not found`);
      const b = builders.find((x) => x.id === build.builderid);
      if (!b) throw new ConflictError(`builder of build ${buildid} is no longer configured`);
      const request = (await repos.buildRequests.get(build.buildrequestid)) as BuildRequestRow;
      // Same properties (so the same revision) and the same changes as the build it repeats.
      const built = await repos.changes.ofBuildRequest(request.id);
      return submit(
        b.config.name,
        reason,
        JSON.parse(request.properties) as Record<string, unknown>,
        built.rows.map((c) => c.id),
      );
    },
  };

  const agentServer = new AgentServer(registry, log, {
    heartbeatMs: config.protocol.heartbeatMs,
    missedHeartbeats: config.protocol.missedHeartbeats,
    graceMs: config.protocol.graceMs,
    onSession: async (session, info, running) => {
      const agentConfig = registry.config(session.name);
      if (!agentConfig) {
        session.close('unknown agent');
        return [];
      }
      // Stored first, then announced (the UI reloads the agent list on the event).
      await repos.agents.connected(session.name, info, master.id, now());
      const entry = registry.entry(agentConfig, info, now());
      const resume = entry.handle.attach(session, running);
      session.onClosed(() => {
        registry.announceDisconnected(session.name);
        void repos.agents.disconnected(session.name).catch(() => {});
        log.info('agent disconnected', { agent: session.name, graceMs: config.protocol.graceMs });
      });
      registry.announceConnected(session.name);
      log.info(resume.length > 0 ? 'agent reconnected' : 'agent connected', { agent: session.name, os: info.os, resumed: resume.length });
      return resume;
    },
  });

  const grafana = config.services.find((s): s is GrafanaConfig => s.type === 'grafana');
  const app = createApp(
    {
      repos,
      registry,
      builders,
      actions,
      authTokens: config.web.auth?.tokens,
      metrics,
      regressionWindow: config.metrics.regression.window,
      links: linkMaker(grafana, influx),
      masker,
      ui: {
        title: config.title,
        auth: config.web.auth !== undefined,
        grafana: grafana ? { url: grafana.url, dashboardUid: grafana.dashboardUid, orgId: grafana.orgId ?? 1 } : null,
        influxdb: influx ? { url: influx.url, database: influx.database ?? influx.bucket ?? '' } : null,
      },
    },
    {
      log,
      maxBodyBytes: config.web.maxBodyBytes,
      title: config.title,
      prometheus: prometheus?.registry ?? null,
      githubHook: config.web.changeHooks.github,
    },
  );
  const live = new LiveStream(bus);
  const fanout =
    db.kind === 'postgres' && db.url
      ? new PgFanout(
          db.url,
          (channel, payload) => db.source.query('SELECT pg_notify($1, $2)', [channel, payload]),
          bus,
          (event) => {
            if (event.name === 'buildrequest.new') claimer.wake(); // maybe for a builder this master runs
            if (event.name === 'build.stop') running.get(event.data.buildid)?.stop(event.data.reason);
            live.remote(event);
          },
          log,
        )
      : null;
  await fanout?.start();
  const server = http.createServer(app);
  server.on('upgrade', (req, socket, head) => {
    if (!agentServer.handleUpgrade(req, socket, head) && !live.handleUpgrade(req, socket, head)) socket.destroy();
  });
  const host = options.host ?? config.web.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? config.web.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  claimer.start();
  const stopPeriodic = startPeriodicSchedulers(config.schedulers, submit, log);
  const stopCron = startCronSchedulers(config.schedulers, submit, log);
  await changes.start();
  log.info('master running', { url: `http://${host}:${port}`, db: db.kind, builders: builders.length });

  let stopped = false;
  return {
    url: `http://${host}:${port}`,
    port,
    db,
    repos,
    bus,
    registry,
    metrics,
    masterid: master.id,
    running,
    async stop() {
      if (stopped) return;
      stopped = true;
      stopping = true;
      shutdown.abort();
      stopPeriodic();
      stopCron();
      await claimer.stop();
      // After the claimer: the requests of changes still waiting are queued, and none starts now.
      await changes.stop();
      const deadline = options.shutdownTimeoutMs ?? config.shutdownTimeoutMs;
      if (finishing.size > 0) log.info('waiting for running builds to finish', { builds: finishing.size, timeoutMs: deadline });
      const allDone = Promise.allSettled([...finishing]);
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), deadline).unref());
      if ((await Promise.race([allDone, timer])) === 'timeout') {
        for (const b of running.values()) b.stop('master shutting down');
        await Promise.race([allDone, new Promise((r) => setTimeout(r, 10_000).unref())]);
      }
      stopListener();
      await fanout?.stop();
      prometheus?.stop();
      await metrics.close().catch((e: unknown) => log.error('flushing metrics failed', { error: String(e) }));
      agentServer.close();
      registry.closeAll();
      live.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await repos.masters.deactivate(master.id).catch(() => {});
      await db.close();
    },
  };
}
