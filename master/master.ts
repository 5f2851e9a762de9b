/**
 * Composes a running master from a compiled config: each part is made with what it needs and wired
 * to the others here; the parts themselves live in their own modules. Nothing is global.
 *
 * States: starting -> running -> stopping -> stopped.
 * Start-up recovers from a previous run that died: builds it left running end EXCEPTION (their
 * logs so far are kept), requests it had claimed go back in the queue.
 */
import os from 'node:os';
import type { CompiledConfig } from './config/compile.ts';
import { openDatabase } from './db/data-source.ts';
import { createRepositories } from './db/repositories.ts';
import { EventBus } from './events/event-bus.ts';
import { PgFanout } from './events/pg-fanout.ts';
import { consoleLogger, type Logger } from '../core/logger.ts';
import { errorMessage } from '../core/error-message.ts';
import { AgentRegistry } from './agents/agent-registry.ts';
import { AgentServer } from './agents/agent-server.ts';
import { agentRegistration } from './agents/agent-registration.ts';
import { RequestClaimer } from './scheduler/request-claimer.ts';
import { RequestCollapser } from './scheduler/request-collapser.ts';
import { buildsetSubmitter, requestSubmitter } from './scheduler/request-submitter.ts';
import { LockSet } from './scheduler/lock-set.ts';
import { startJanitor } from './retention/janitor-schedule.ts';
import { RetentionRepo } from './retention/retention-repo.ts';
import { LiveConfig } from './reconfig-live.ts';
import { SchedulerServices } from './reconfig-schedulers.ts';
import { Reconfigurer, type ReconfigResult } from './reconfig.ts';
import { recoverAbandoned } from './build/abandoned-builds.ts';
import { buildActions } from './build/build-actions.ts';
import { buildStarter } from './build/build-starter.ts';
import { RunningBuilds } from './build/running-builds.ts';
import { SecretMasker } from './build/secret-masker.ts';
import { createTriggerer } from './build/triggerer.ts';
import { ChangeIntake } from './changes/change-intake.ts';
import { createApp } from './api/app.ts';
import { guardUpgrade } from './auth/upgrade-guard.ts';
import { LiveStream } from './api/live-stream.ts';
import { startWebServer, type WebServer } from './api/web-server.ts';
import { exposeInternals } from './testing.ts';
import { ConflictError } from '../core/errors/index.ts';
import { createMetricsService } from '../metrics/create-metrics.ts';
import type { MetricsService } from '../metrics/metrics-service.ts';
import { startMetricsListener } from '../metrics/metrics-listener.ts';
import { createStepMetrics } from '../metrics/step-metrics.ts';
import { startPrometheusExporter } from '../metrics/prometheus.ts';
import type { GrafanaConfig, InfluxDbConfig } from '../metrics/config.ts';
import { linkMaker } from '../metrics/links.ts';
import { OutboxRepo } from './db/outbox.ts';
import { createReporters } from './reporters/index.ts';
import type { Reporter } from './reporters/reporter.ts';
import { Outbox } from './reporters/outbox.ts';
import type { BackoffOptions } from '../core/retry.ts';
import { ReporterService } from './reporters/reporter-service.ts';
import { buildReport } from './reporters/build-report.ts';
import { metricDeltas } from './reporters/metric-deltas.ts';
import { changePointsRepo, startRegressionWatcher } from './regressions/start-watcher.ts';
import type { RegressionWatcher } from './regressions/regression-watcher.ts';
import { BisectionsRepo } from './db/bisections.ts';
import { startBisections } from './bisect/bisections.ts';
import { tellCulprit } from './bisect/culprit-notice.ts';

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
  /**
   * Told once if the database is lost under the running master (its SQLite file deleted, moved or
   * replaced): what it would write from then on is lost. `caliper start` exits 1.
   */
  onDatabaseLost?: (message: string) => void;
  /**
   * Loads the config again (the file it came from) for a reconfig: SIGHUP, `POST
   * /api/v2/control/reconfig`, `caliper reconfig`. Without it only `reconfig(config)` can.
   */
  reloadConfig?: () => Promise<CompiledConfig>;
  /** How reporters' failed deliveries are retried (default DEFAULT_OUTBOX_BACKOFF: 1 s doubling to 5 min). */
  reporterBackoff?: BackoffOptions;
}

export interface RunningMaster {
  /** Where the UI and API answer, e.g. http://127.0.0.1:8010. */
  readonly url: string;
  readonly port: number;
  /** captureData and the getters, for code that runs beside the master. */
  readonly metrics: MetricsService;
  /** The master's domain events (build.started, step.finished, …), to listen to. */
  readonly events: Pick<EventBus, 'subscribe'>;
  /**
   * Graceful shutdown: no new builds start (force answers 503), running builds get the shutdown
   * timeout to finish, then are stopped (CANCELLED); metrics are flushed; connections closed.
   */
  stop(): Promise<void>;
  /**
   * Applies a new config (given, or loaded again with `reloadConfig`) to new builds, running builds
   * finish under the old one; throws, the old config kept, if it is invalid or needs a restart
   * (master/reconfig.ts).
   */
  reconfig(config?: CompiledConfig): Promise<ReconfigResult>;
}

export async function startMaster(config: CompiledConfig, options: MasterOptions = {}): Promise<RunningMaster> {
  const log = options.log ?? consoleLogger();
  const now = () => Date.now();
  const basedir = options.basedir ?? process.cwd();

  // Storage, and what a previous run of this master left behind.
  const db = await openDatabase(options.dbUrl ?? config.db.url, {
    basedir: options.basedir,
    onLost: (message) => {
      log.error(message);
      options.onDatabaseLost?.(message);
    },
  });
  const repos = createRepositories(db);
  const bus = new EventBus();
  // The builders, agents' properties and schedulers in force: a reconfig refills them in place.
  const current = new LiveConfig(config, await repos.builders.sync(config.builders));
  const master = await repos.masters.register(options.name ?? `${os.hostname()}:${basedir}`, now());
  await recoverAbandoned(repos, master.id, now, log);
  await repos.agents.clearMaster(master.id);

  // Metrics: the store, the listener that turns events into points, Prometheus.
  const influx = config.services.find((s): s is InfluxDbConfig => s.type === 'influxdb');
  const grafana = config.services.find((s): s is GrafanaConfig => s.type === 'grafana');
  const metrics = await createMetricsService(db, influx, log, master.id);
  const stopMetricsListener = startMetricsListener({
    bus,
    repos,
    metrics,
    buildersById: current.knownBuilders,
    trackBuildTimes: config.metrics.trackBuildTimes && (influx?.trackBuildTimes ?? true),
    log,
  });
  const changePoints = changePointsRepo(db.source);
  const openRegressions = () =>
    changePoints.countOpenRegressions().catch((e: unknown) => {
      log.error('counting open regressions for /metrics failed', { error: errorMessage(e) });
      return null;
    });
  const prometheus =
    config.services.find((s) => s.type === 'prometheus')?.enabled === false
      ? null
      : startPrometheusExporter(bus, current.knownBuilders, { openRegressions });

  // Requests in: one submitter for schedulers, triggers, changes and users.
  const shutdown = new AbortController();
  const { priorities, matrices } = current;
  const submitterDeps = { repos, bus, builderIds: current.builderIds, now, schedulers: current.schedulers, priorities, matrices };
  const submit = requestSubmitter(submitterDeps);
  const submitBuildset = buildsetSubmitter(submitterDeps);
  const triggerer = createTriggerer(current.schedulers, repos, bus, submitBuildset, shutdown.signal, now);
  const changes = new ChangeIntake({
    config: { ...config, schedulers: current.schedulers },
    repos,
    bus,
    log,
    masterid: master.id,
    basedir,
    submit: submitBuildset,
    now,
  });

  // Agents, and the builds that run on them.
  const registry = new AgentRegistry(config.agents, bus, config.protocol.graceMs);
  const reporters = createReporters(config.services, { repos, title: config.title, log });
  const masker = new SecretMasker(secretsToMask(config, reporters));
  const running = new RunningBuilds();
  const claimer = new RequestClaimer({
    repos,
    registry,
    log,
    masterid: master.id,
    now,
    buildersById: current.buildersById,
    locks: new LockSet(config.locks),
    prioritizeBuilders: config.prioritizeBuilders,
    startBuild: buildStarter({
      build: {
        repos,
        metrics: createStepMetrics(metrics, repos, config.metrics.regression.window),
        logMaxBytes: config.logs.maxBytes,
        secrets: config.secrets,
        masker,
        bus,
        log,
        masterid: master.id,
        now,
        triggerer,
        agentProperties: current.agentProperties,
        masterBasedir: basedir,
      },
      running,
      registry,
      repos,
      log,
      now,
    }),
  });
  // Before the claimer hears of a new request: the queued ones it makes redundant are skipped first.
  const collapser = new RequestCollapser({
    repos,
    bus,
    log,
    masterid: master.id,
    now,
    buildersById: current.buildersById,
    collapseRequests: config.collapseRequests,
  });
  bus.subscribe('buildrequest.new', (e) => collapser.offer(e));
  for (const event of ['buildrequest.new', 'agent.connected', 'agent.available'] as const) bus.subscribe(event, () => claimer.wake());
  const agentServer = new AgentServer(registry, log, {
    heartbeatMs: config.protocol.heartbeatMs,
    missedHeartbeats: config.protocol.missedHeartbeats,
    graceMs: config.protocol.graceMs,
    onSession: agentRegistration({ registry, repos, masterid: master.id, graceMs: config.protocol.graceMs, log, now }),
  });

  // Other masters sharing PostgreSQL: their events reach this one, and its events reach them.
  const live = new LiveStream(bus, { maxClients: config.web.maxLiveClients });
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

  // Schedulers that run on their own; a reconfig swaps builders, agents and schedulers for new builds.
  let stopping = false;
  const schedulerDeps = { schedulers: current.schedulers, repos, bus, builderIds: current.builderIds, log, now, priorities, matrices };
  const schedulers = new SchedulerServices({ ...schedulerDeps, submit: submitBuildset, changes });
  const reconfigurer = new Reconfigurer({
    config,
    live: current,
    repos,
    registry,
    claimer,
    schedulers,
    bus,
    log,
    isStopping: () => stopping,
  });
  const reloadConfig = options.reloadConfig;
  const reconfig = reloadConfig ? () => reconfigurer.reconfig(reloadConfig) : null;

  // Bisections of change points to their culprit commits (master/bisect): resumed from the database.
  let publicUrl = config.web.publicUrl ?? '';
  const bisections = startBisections({
    repos,
    bisections: new BisectionsRepo(db.source),
    metrics,
    submit,
    bus,
    buildersById: current.buildersById,
    basedir,
    masterid: master.id,
    log,
    now,
    onCulprit: (found) => tellCulprit(found, reporters, publicUrl, log),
  });

  // The web: API, UI, live updates and agents on one HTTP server.
  const actions = buildActions({
    repos,
    submit,
    schedulers: current.schedulers,
    builderNames: current.builderNames,
    running,
    masterid: master.id,
    addChanges: (input) => changes.add(input),
    forwardStop: fanout ? (buildid, reason) => fanout.send({ name: 'build.stop', data: { buildid, reason } }) : null,
    isStopping: () => stopping,
    bus,
    now,
  });
  const app = createApp(
    {
      repos,
      registry,
      builders: current.builders,
      reconfig,
      actions,
      authTokens: config.web.auth?.tokens,
      metrics,
      regressionWindow: config.metrics.regression.window,
      links: linkMaker(grafana, influx),
      masker,
      bisections,
      changePoints,
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
      allowedOrigins: config.web.allowedOrigins,
      auth: config.web.auth,
    },
  );
  const host = options.host ?? config.web.host;

  let stopped = false;
  let reporterService: ReporterService | null = null;
  let outbox: Outbox | null = null;
  let watcher: RegressionWatcher | null = null;
  let stopJanitor = () => {};
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    stopping = true;
    shutdown.abort();
    await bisections.stop();
    await schedulers.stop();
    stopJanitor();
    await claimer.stop();
    await collapser.stop();
    // After the claimer: the requests of changes still waiting are queued, and none starts now.
    await changes.stop();
    const deadline = options.shutdownTimeoutMs ?? config.shutdownTimeoutMs;
    if (running.size > 0) log.info('waiting for running builds to finish', { builds: running.size, timeoutMs: deadline });
    await running.drain(deadline, 'master shutting down');
    stopMetricsListener();
    await watcher?.stop();
    // After the builds: their last events are stored, then deliveries under way get a moment.
    await reporterService?.stop();
    await outbox?.stop();
    await fanout?.stop();
    prometheus?.stop();
    await metrics.close().catch((e: unknown) => log.error('flushing metrics failed', { error: String(e) }));
    agentServer.close();
    registry.closeAll();
    live.close();
    await web?.close();
    await repos.masters.deactivate(master.id).catch(() => {});
    await repos.logs.close();
    await db.close();
  };
  // A port already taken: what was opened is closed again before the error reaches the caller.
  let web: WebServer | null = null;
  web = await startWebServer(app, [agentServer, guardUpgrade(config.web.auth, live)], options.port ?? config.web.port, host).catch(
    async (e: unknown) => {
      await stop();
      throw e;
    },
  );
  const port = web.port;
  publicUrl ||= `http://${host}:${port}/`;

  // Reporters: build events -> reports -> the durable outbox -> each reporter, off the builds' path.
  outbox = new Outbox({
    repo: new OutboxRepo(db.source),
    reporters,
    masterid: master.id,
    log,
    ...(options.reporterBackoff ? { backoff: options.reporterBackoff } : {}),
  });
  const deltas = metricDeltas({ repos, metrics, window: config.metrics.regression.window });
  reporterService = new ReporterService({
    bus,
    reporters,
    outbox,
    log,
    report: (event) =>
      buildReport(event, {
        repos,
        masker,
        builderName: (id) => current.builderNames.get(id) ?? `builder ${id}`,
        publicUrl: config.web.publicUrl ?? `http://${host}:${port}/`,
        metricDeltas: deltas,
      }),
  });
  reporterService.start();
  // The regression watcher: change points of the series builds measure, their reruns and grouped alerts.
  const service = reporterService;
  watcher = startRegressionWatcher(
    {
      bus,
      repos,
      metrics,
      builders: current.buildersById,
      submit,
      regressed: (buildid, items) => service.regressed(buildid, items),
      publicUrl: () => config.web.publicUrl ?? `http://${host}:${port}/`,
      counts: prometheus?.changePoints ?? null,
      log,
      now,
    },
    changePoints,
  );
  await outbox.start();

  claimer.start();
  schedulers.start();
  // Retention (docs/operations.md): on its schedule; masters sharing PostgreSQL take turns.
  if (config.retention) {
    const janitorDeps = { retention: new RetentionRepo(db.source), artifacts: repos.artifacts, masterBasedir: basedir, now };
    stopJanitor = startJanitor(db, janitorDeps, config.retention, log);
  }
  await changes.start();
  log.info('master running', { url: `http://${host}:${port}`, db: db.kind, builders: current.builders.length });

  const runningMaster: RunningMaster = {
    url: `http://${host}:${port}`,
    port,
    metrics,
    events: bus,
    stop,
    reconfig: (next) => reconfigurer.reconfig(next ? () => Promise.resolve(next) : (reloadConfig ?? noConfigFile)),
  };
  exposeInternals(runningMaster, { db, repos, registry, running, live, masterid: master.id });
  return runningMaster;
}

const noConfigFile = (): Promise<CompiledConfig> =>
  Promise.reject(new ConflictError('this master was started without a config file to load again (MasterOptions.reloadConfig)'));

/** Configured secrets and every token the master knows (reporters' too) are masked wherever they would show. */
function secretsToMask(config: CompiledConfig, reporters: readonly Reporter[]): string[] {
  return [
    ...reporters.flatMap((r) => r.secrets),
    ...Object.values(config.secrets),
    ...config.agents.map((a) => a.token),
    ...(config.web.auth?.tokens ?? []),
    ...(config.web.changeHooks.github ? [config.web.changeHooks.github.secret] : []),
  ];
}
