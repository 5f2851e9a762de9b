/**
 * Operator metrics in Prometheus' text format (prom-client), fed by domain events: build and step
 * duration histograms by builder and result, queue latency, build result counters, running builds,
 * connected agents and each builder's last result. Its own registry per master, no global state.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MeasuredBuilder } from './config.ts';
import type { EventBus } from '../master/events/event-bus.ts';
import { resultName } from '../core/results.ts';

const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200];

export interface PrometheusExporter {
  registry: Registry;
  /** Fed by the regression watcher (master/regressions): stored change points and open regressions. */
  changePoints: ChangePointCounts;
  stop(): void;
}

/** `caliper_change_points_total{direction,state}`. */
export interface ChangePointCounts {
  /** A change point entered `state` (stored confirming or confirmed, or decided by its reruns). */
  counted(direction: 'better' | 'worse', state: 'confirming' | 'confirmed' | 'dismissed'): void;
}

/** What the exporter reads when it is scraped. */
export interface ScrapeSources {
  /**
   * Worse changes confirming or confirmed that no later change of their series followed
   * (`caliper_open_regressions`), from the database; null when it could not be read (the gauge keeps
   * its last value).
   */
  openRegressions?: () => Promise<number | null>;
}

export function startPrometheusExporter(
  bus: EventBus,
  buildersById: Map<number, MeasuredBuilder>,
  sources: ScrapeSources = {},
): PrometheusExporter {
  const registry = new Registry();
  const buildDuration = new Histogram({
    name: 'caliper_build_duration_seconds',
    help: 'Build wall time',
    labelNames: ['builder', 'result'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const stepDuration = new Histogram({
    name: 'caliper_step_duration_seconds',
    help: 'Step wall time',
    labelNames: ['builder', 'result'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const queueLatency = new Histogram({
    name: 'caliper_queue_latency_seconds',
    help: 'Time from build request to build start',
    labelNames: ['builder'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const builds = new Counter({
    name: 'caliper_builds_total',
    help: 'Finished builds',
    labelNames: ['builder', 'result'],
    registers: [registry],
  });
  const running = new Gauge({ name: 'caliper_builds_running', help: 'Builds running now', labelNames: ['builder'], registers: [registry] });
  const agents = new Gauge({ name: 'caliper_agents_connected', help: 'Agents connected now', registers: [registry] });
  const lastResult = new Gauge({
    name: 'caliper_builder_last_result',
    help: "Result code (Buildbot's) of each builder's last build",
    labelNames: ['builder'],
    registers: [registry],
  });
  const changePoints = new Counter({
    name: 'caliper_change_points_total',
    help: 'Change points the regression watcher stored or decided, by direction and the state they entered',
    labelNames: ['direction', 'state'],
    registers: [registry],
  });
  const { openRegressions } = sources;
  new Gauge({
    name: 'caliper_open_regressions',
    help: 'Worse change points (confirming or confirmed) not followed by a later change of their series',
    registers: [registry],
    // Counted when scraped (every 15-60 s), not after every build: the count reads every change point,
    // and at a build a second it was the dearest query of a trivial build.
    async collect() {
      const n = openRegressions ? await openRegressions() : null;
      if (n !== null) this.set(n);
    },
  });
  const name = (builderid: number) => buildersById.get(builderid)?.name ?? String(builderid);
  for (const b of buildersById.values()) running.set({ builder: b.name }, 0);
  agents.set(0);

  const unsubscribe = [
    bus.subscribe('build.started', (e) => {
      running.inc({ builder: name(e.builderid) });
      queueLatency.observe({ builder: name(e.builderid) }, e.queuedMs / 1000);
    }),
    bus.subscribe('step.finished', (e) => {
      stepDuration.observe({ builder: name(e.builderid), result: resultName(e.results) ?? 'unknown' }, e.durationMs / 1000);
    }),
    bus.subscribe('build.finished', (e) => {
      const labels = { builder: name(e.builderid), result: resultName(e.results) ?? 'unknown' };
      running.dec({ builder: labels.builder });
      buildDuration.observe(labels, e.durationMs / 1000);
      builds.inc(labels);
      lastResult.set({ builder: labels.builder }, e.results);
    }),
    bus.subscribe('agent.connected', () => agents.inc()),
    bus.subscribe('agent.disconnected', () => agents.dec()),
  ];
  return {
    registry,
    changePoints: {
      counted: (direction, state) => changePoints.inc({ direction, state }),
    },
    stop: () => unsubscribe.forEach((u) => u()),
  };
}
