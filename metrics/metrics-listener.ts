/**
 * Captures what every build produces, from domain events (STYLE.md: metrics listen to events):
 * build duration, step durations and queue latency (requested -> started) unless trackBuildTimes is
 * off, plus each builder's tracking: trackStepTimes (a step's duration under a series of the
 * builder's choosing) and trackProperties (numeric build properties at the end of the build).
 */
import type { MeasuredBuilder } from './config.ts';
import type { Repositories } from '../master/db/index.ts';
import type { EventBus } from '../master/events/event-bus.ts';
import type { Logger } from '../core/logger.ts';
import { resultName } from '../core/results.ts';
import type { MetricsService } from './metrics-service.ts';
import { parsePropertyMap } from '../steps/properties/properties.ts';

export interface MetricsListenerDeps {
  bus: EventBus;
  repos: Repositories;
  metrics: MetricsService;
  buildersById: Map<number, MeasuredBuilder>;
  trackBuildTimes: boolean;
  log: Logger;
}

export function startMetricsListener(deps: MetricsListenerDeps): () => void {
  const { bus, repos, metrics, buildersById, log } = deps;
  // A matrix cell's axis values (build.started's `matrix`) tag every point of its build.
  const builds = new Map<number, { builder: MeasuredBuilder; agent: string; number: number; cell: Readonly<Record<string, string>> }>();
  const capture = (name: string, value: number, options: Parameters<MetricsService['captureData']>[2]) =>
    metrics
      .captureData(name, value, options)
      .catch((e: unknown) => log.error('capturing a metric failed', { series: name, error: String(e) }));

  const unsubscribe = [
    bus.subscribe('build.started', (e) => {
      const builder = buildersById.get(e.builderid);
      if (!builder) return;
      builds.set(e.buildid, { builder, agent: e.agent, number: e.number, cell: e.matrix ?? {} });
      if (!deps.trackBuildTimes) return;
      void capture('queue_latency', e.queuedMs / 1000, {
        tags: { ...e.matrix, builder: builder.name, agent: e.agent },
        kind: 'duration',
        unit: 's',
        buildNumber: e.number,
        buildid: e.buildid,
      });
    }),
    bus.subscribe('step.finished', (e) => {
      const build = builds.get(e.buildid);
      if (!build) return;
      const result = resultName(e.results) ?? 'unknown';
      const common = { kind: 'duration' as const, unit: 's', buildNumber: build.number, buildid: e.buildid };
      if (deps.trackBuildTimes) {
        void capture('step_duration', e.durationMs / 1000, {
          ...common,
          tags: { ...build.cell, builder: build.builder.name, step: e.name, agent: build.agent, result },
        });
      }
      for (const t of build.builder.metrics) {
        if (t.type !== 'stepTimes' || t.step !== e.name) continue;
        void capture(t.series ?? `${e.name}_duration`, e.durationMs / 1000, {
          ...common,
          tags: { ...build.cell, builder: build.builder.name, step: e.name, agent: build.agent, result, ...t.tags },
        });
      }
    }),
    bus.subscribe('build.finished', (e) => {
      const build = builds.get(e.buildid);
      builds.delete(e.buildid);
      if (!build) return;
      const result = resultName(e.results) ?? 'unknown';
      const tags = { ...build.cell, builder: build.builder.name, agent: build.agent, result };
      if (deps.trackBuildTimes) {
        void capture('build_duration', e.durationMs / 1000, {
          tags,
          kind: 'duration',
          unit: 's',
          buildNumber: e.number,
          buildid: e.buildid,
        });
      }
      const tracked = build.builder.metrics.filter((t) => t.type === 'property');
      if (tracked.length === 0) return;
      void (async () => {
        const row = await repos.builds.get(e.buildid);
        const props = row ? parsePropertyMap(row.properties, `build ${e.buildid}'s properties`) : {};
        for (const t of tracked) {
          if (t.type !== 'property') continue;
          const value = Number(props[t.property]?.[0]);
          if (props[t.property] === undefined || !Number.isFinite(value)) continue;
          await capture(t.series ?? t.property, value, { tags: { ...tags, ...t.tags }, buildNumber: e.number, buildid: e.buildid });
        }
      })().catch((err: unknown) => log.error('property capture failed', { error: String(err) }));
    }),
  ];
  return () => unsubscribe.forEach((u) => u());
}
