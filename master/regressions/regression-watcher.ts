/**
 * The regression watcher: as builds finish, the points each captured are fed to the incremental
 * change-point detectors of their series (series-detectors.ts); a change they reveal is stored in
 * `change_points` (unique, so a restart or a second master never stores it twice), published as
 * `changepoint.detected`, counted for Prometheus, and, once confirmed worse, alerted through the
 * reporters: one grouped alert per build that revealed changes, never one per series.
 *
 * A worse change of a builder with `confirm: { reruns: N }` is stored `confirming` and the builder is
 * asked N times more for the same source (confirm-reruns.ts); the reruns' values decide it
 * (confirmation-rule.ts). Every other change is `confirmed` at once.
 *
 * Builds are handled one at a time, in the order they finished here; an error is logged, never
 * thrown into the bus, and never touches the build. Each master watches the builds it ran: masters
 * sharing PostgreSQL read each other's points from the store when they seed or follow a series.
 *
 * States: created -> listening (start) -> stopped (stop: no new builds; the one being handled ends first).
 */
import { Results } from '../../core/results.ts';
import { errorMessage } from '../../core/error-message.ts';
import type { Logger } from '../../core/logger.ts';
import { verdict } from '../../metrics/change-points/index.ts';
import type { MetricPoint } from '../../metrics/metric-point.ts';
import type { MetricsService } from '../../metrics/metrics-service.ts';
import type { SeriesFilter } from '../../metrics/series-filter.ts';
import type { RecentPointsQuery } from '../../metrics/stores/metrics-store.ts';
import type { ChangePointCounts } from '../../metrics/prometheus.ts';
import { resolutionOf } from '../../metrics/regression.ts';
import type { ChangePointRow, ChangePointsRepo, ChangePointState } from '../db/change-points.ts';
import type { Repositories } from '../db/repositories.ts';
import type { ChangePointEvent, EventBus } from '../events/event-bus.ts';
import { BuildFactsCache, buildFacts, type BuildFacts } from './build-facts.ts';
import { confirmationOf } from './confirmation-rule.ts';
import { SeriesDetectors, type FedPoint } from './series-detectors.ts';
import { watchedSeries, type WatchedSeries } from './watched-series.ts';

/** The most recent points a series' detector is seeded with. */
export const DEFAULT_HISTORY = 200;
/** Points of a build are looked for from a second before it started to a minute after it ended (as metric deltas do). */
const BEFORE_MS = 1000;
const AFTER_MS = 60_000;
/** How long after a build's end its points are read and fed (see start()). */
const AFTER_BUILD_END_MS = 10;

/** What the watcher needs of a builder's config. */
export interface WatchedBuilder {
  name: string;
  confirm?: { reruns: number; agent?: 'same' | 'other' | undefined } | undefined;
  changePoints?: { perAgent: boolean } | undefined;
}

export interface RegressionWatcherDeps {
  bus: Pick<EventBus, 'subscribe' | 'publish'>;
  repos: Pick<Repositories, 'builds'>;
  metrics: Pick<MetricsService, 'buildPoints' | 'recentPoints' | 'describe'>;
  changePoints: ChangePointsRepo;
  builders: ReadonlyMap<number, WatchedBuilder>;
  /** Requests the confirming reruns of a stored change (confirm-reruns.ts). */
  requestReruns: (change: ChangePointRow, builder: WatchedBuilder) => Promise<void>;
  /** Hands the claimed confirmed worse changes of one build to the reporters, as one alert. */
  alert: (buildid: number, changes: ChangePointRow[]) => Promise<void>;
  counts: ChangePointCounts | null;
  log: Logger;
  now: () => number;
  history?: number;
}

type State = 'created' | 'listening' | 'stopped';

export class RegressionWatcher {
  private state: State = 'created';
  private unsubscribe: () => void = () => {};
  private queue: Promise<void> = Promise.resolve();
  private readonly detectors: SeriesDetectors;
  private readonly facts: BuildFactsCache;
  private readonly history: number;

  constructor(private readonly deps: RegressionWatcherDeps) {
    this.history = deps.history ?? DEFAULT_HISTORY;
    this.detectors = new SeriesDetectors({ history: this.history, maxSeries: 5000 });
    this.facts = new BuildFactsCache((id) => deps.repos.builds.get(id));
  }

  start(): void {
    if (this.state !== 'created') throw new Error(`regression watcher: cannot start while ${this.state}`);
    this.state = 'listening';
    this.unsubscribe = this.deps.bus.subscribe('build.finished', (e) => {
      if (e.results === Results.RETRY) return; // its request runs again: that build counts
      // Handled a moment later (from the build's end, not after the build before it), so that the
      // next build this end lets start goes first: its claim, start and first `run` take a few turns
      // of the event loop, and this build's reads (SQLite answers synchronously) would run before them.
      const ready = new Promise((resolve) => setTimeout(resolve, AFTER_BUILD_END_MS));
      this.queue = this.queue
        .then(() => ready)
        .then(() =>
          this.handle(e.buildid).catch((err: unknown) =>
            this.deps.log.error('regression watcher: a build could not be watched', { buildid: e.buildid, error: errorMessage(err) }),
          ),
        );
    });
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.unsubscribe();
    await this.queue;
  }

  private async handle(buildid: number): Promise<void> {
    const build = await this.deps.repos.builds.get(buildid);
    if (!build) return;
    const facts = buildFacts(build);
    const points = await this.deps.metrics.buildPoints(
      build.id,
      build.started_at - BEFORE_MS,
      (build.complete_at ?? Date.now()) + AFTER_MS,
    );
    const builder = this.deps.builders.get(build.builderid);
    const perAgent = builder?.changePoints?.perAgent ?? false;
    // The last point per watched series: what the build reported.
    const last = new Map<string, { ws: WatchedSeries; point: MetricPoint }>();
    for (const p of [...points].sort((a, b) => a.time - b.time)) {
      const ws = watchedSeries(p, facts.branch, perAgent);
      last.set(seriesKey(ws), { ws, point: p });
    }
    if (facts.confirming !== null) return this.confirmingRerun(facts, facts.confirming, [...last.values()]);
    // A bisection's probe builds an old commit after newer ones: in the series it would read as a change.
    if (facts.bisecting !== null) return;
    const confirming: ChangePointRow[] = [];
    const watched = [...last.values()];
    // What is new in every series, in one read (null if it failed: each series then reads its own, and
    // one that cannot be read is logged without keeping the others from being watched).
    const recent = await this.deps.metrics
      .recentPoints(watched.map(({ ws, point }) => this.recentQuery(ws, point, perAgent, this.detectors.lastTime(seriesKey(ws)))))
      .catch(() => null);
    for (const [i, { ws, point }] of watched.entries()) {
      // SQLite answers synchronously, so without this a build of many series would be watched in one
      // turn of the event loop, and the agents' frames (other builds' next steps) would wait for it all.
      await new Promise((resolve) => setImmediate(resolve));
      try {
        confirming.push(...(await this.watch(facts, builder, ws, point, perAgent, recent?.[i])));
      } catch (e) {
        // One series that cannot be read or stored does not keep the others from being watched.
        this.deps.log.error('regression watcher: a series could not be watched', { buildid, series: ws.series, error: errorMessage(e) });
      }
    }
    // One set of reruns for all the changes this build revealed: each rerun measures every series.
    const first = confirming[0];
    if (first && builder) await this.deps.requestReruns(first, builder);
    await this.alertIfDone(build.id);
  }

  /** Feeds one series and stores what it reveals; returns the changes stored `confirming`. */
  private async watch(
    facts: BuildFacts,
    builder: WatchedBuilder | undefined,
    ws: WatchedSeries,
    point: MetricPoint,
    perAgent: boolean,
    /** The series' points read with the others' at the build's end (recentQuery with the detector's last time). */
    read: MetricPoint[] | undefined,
  ): Promise<ChangePointRow[]> {
    // A followed series reads only what came after the point its detector saw last (this master's
    // builds and other masters'); a new one, or one whose last point is gone (retention), its history.
    const key = seriesKey(ws);
    const since = this.detectors.lastTime(key);
    let history = await this.fed(ws, perAgent, read ?? (await this.read(this.recentQuery(ws, point, perAgent, since))));
    if (since !== undefined && !history.some((p) => p.time === since))
      history = await this.fed(ws, perAgent, await this.read(this.recentQuery(ws, point, perAgent)));
    const update = this.detectors.update(key, history, (p) => p.buildid === facts.buildid);
    const confirmingChanges: ChangePointRow[] = [];
    if (update.fresh.length === 0) return confirmingChanges;
    const description = await this.deps.metrics.describe(ws.series);
    const resolution = resolutionOf(ws.series);
    const stored = await this.deps.changePoints.afterTimes(ws.series, ws.key);
    const storedAt = stored.map((t) => update.points.findIndex((p) => p.time === t)).filter((i) => i >= 0);
    for (const c of update.fresh) {
      // A step smaller than what the measurement can tell apart is no change (one clock tick of CPU time).
      if (Math.abs(c.after.mean - c.before.mean) <= resolution) continue;
      if (storedAt.some((i) => Math.abs(i - c.index) < update.minSize)) continue;
      const before = update.points[c.index - 1];
      const after = update.points[c.index];
      if (!before || !after) continue;
      const direction = verdict(c.change, description?.kind ?? null);
      const confirming = direction === 'worse' && builder?.confirm !== undefined;
      const state: ChangePointState = confirming ? 'confirming' : 'confirmed';
      const now = this.deps.now();
      const row = {
        series: ws.series,
        tag_key: ws.key,
        builderid: facts.builderid,
        branch: ws.tags.branch ?? null,
        before_buildid: before.buildid,
        before_revision: before.revision,
        after_buildid: after.buildid,
        after_revision: after.revision,
        after_time: after.time,
        mean_before: c.before.mean,
        mean_after: c.after.mean,
        magnitude: c.magnitudePercent,
        p_value: c.pValue,
        direction,
        state,
        reruns: confirming ? (builder?.confirm?.reruns ?? 0) : 0,
        detected_by: facts.buildid,
        created_at: now,
        decided_at: confirming ? null : now,
      };
      const id = await this.deps.changePoints.insert(row);
      if (id === null) continue; // another master (or an earlier run) stored it
      const change: ChangePointRow = { ...row, id, tags: ws.tags, alerted: false };
      this.deps.log.info('change point', { id, series: ws.series, tags: ws.key, direction, state, magnitude: c.magnitudePercent });
      this.deps.counts?.counted(direction, state);
      this.deps.bus.publish('changepoint.detected', changePointEvent(change));
      if (confirming) confirmingChanges.push(change);
    }
    return confirmingChanges;
  }

  /**
   * The read of a watched series' most recent stored points (twice the history: some may be confirming
   * reruns'), from `sinceUs` on when given: its detector's last time, read again to find its place.
   */
  private recentQuery(ws: WatchedSeries, point: MetricPoint, perAgent: boolean, sinceUs?: number): RecentPointsQuery {
    const { builder, step, agent, result: _result, revision: _revision, ...user } = point.tags;
    const filter: SeriesFilter = {
      series: ws.series,
      ...(builder === undefined ? {} : { builder }),
      ...(step === undefined ? {} : { step }),
      ...(perAgent && agent !== undefined ? { agent } : {}),
      tags: user,
    };
    return { filter, sinceUs, limit: this.history * 2 };
  }

  private async read(query: RecentPointsQuery): Promise<MetricPoint[]> {
    return (await this.deps.metrics.recentPoints([query]))[0] ?? [];
  }

  /** Stored points (oldest first) as the detector is fed them: the last `history`, without confirming reruns' and bisections'. */
  private async fed(ws: WatchedSeries, perAgent: boolean, points: readonly MetricPoint[]): Promise<FedPoint[]> {
    const out: FedPoint[] = [];
    for (const p of points) {
      const facts = p.buildid === null ? null : (this.facts.known(p.buildid) ?? (await this.facts.get(p.buildid)));
      if (facts?.confirming != null || facts?.bisecting != null) continue;
      if (watchedSeries(p, facts?.branch ?? null, perAgent).key !== ws.key) continue;
      out.push({
        time: p.time,
        value: p.value,
        ...(p.samples ? { samples: p.samples } : {}),
        buildid: p.buildid,
        revision: p.tags.revision ?? facts?.revision ?? null,
      });
    }
    return out.slice(-this.history);
  }

  /**
   * A confirming rerun finished. It reran the source of the changes one build revealed (`confirming`
   * names the first of them): its value of each of their series is recorded, and the last rerun
   * decides each change.
   */
  private async confirmingRerun(facts: BuildFacts, id: number, measured: { ws: WatchedSeries; point: MetricPoint }[]) {
    const named = await this.deps.changePoints.get(id);
    if (!named) return;
    const changes =
      named.detected_by === null
        ? [named]
        : (await this.deps.changePoints.ofBuild(named.detected_by)).filter((c) => c.builderid === named.builderid);
    for (const change of changes) {
      if (change.state !== 'confirming') continue;
      const value = measured.find((m) => m.ws.series === change.series && m.ws.key === change.tag_key)?.point.value ?? null;
      const recorded = await this.deps.changePoints.addRerun(change.id, facts.buildid, value);
      if (recorded < change.reruns) continue;
      const values = await this.deps.changePoints.rerunValues(change.id);
      const decision = confirmationOf(change.mean_before, change.mean_after, values);
      if (!(await this.deps.changePoints.decide(change.id, decision, this.deps.now()))) continue;
      this.deps.log.info('change point decided by its reruns', { id: change.id, series: change.series, decision, values });
      this.deps.counts?.counted(change.direction, decision);
      if (decision === 'confirmed') this.deps.bus.publish('changepoint.detected', changePointEvent({ ...change, state: decision }));
    }
    if (named.detected_by !== null) await this.alertIfDone(named.detected_by);
  }

  /** One alert for a build, once none of its changes is still confirming (claimed: one master sends it). */
  private async alertIfDone(buildid: number): Promise<void> {
    const claimed = await this.deps.changePoints.claimAlert(buildid);
    if (claimed.length > 0) await this.deps.alert(buildid, claimed);
  }
}

/** A watched series' detector key. */
function seriesKey(ws: WatchedSeries): string {
  return `${ws.series}|${ws.key}`;
}

export function changePointEvent(c: ChangePointRow): ChangePointEvent {
  return {
    id: c.id,
    series: c.series,
    tags: c.tags,
    builderid: c.builderid,
    branch: c.branch,
    before: { buildid: c.before_buildid, revision: c.before_revision },
    after: { buildid: c.after_buildid, revision: c.after_revision },
    magnitude: c.magnitude ?? 0,
    pValue: c.p_value,
    direction: c.direction,
    confirmed: c.state === 'confirmed',
    detectedBy: c.detected_by,
  };
}
