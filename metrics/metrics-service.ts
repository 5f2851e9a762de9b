/**
 * The one metrics service: `captureData` turns a measured value into a tagged point (applying
 * accumulate / absValue / diff), hands it to the configured store, and the getters answer
 * statistics over any series, tag filter and time range with the store's own aggregates.
 * Capturing never throws for a store outage: stores keep and retry what they cannot deliver.
 */
import { MetricInputError } from '../core/errors/index.ts';
import { describeIssues } from '../core/zod-issue.ts';
import type { Logger } from '../core/logger.ts';
import type { AggregationState } from './aggregation-state.ts';
import type { z } from 'zod';
import { captureOptionsSchema, plainCaptureOptions, seriesName, type CaptureOptions } from './capture-options.ts';
import { seriesKey, UniqueClock, type MetricPoint } from './metric-point.ts';
import type { SeriesFilter } from './series-filter.ts';
import type { SeriesDescription, SeriesRegistry } from './series-registry.ts';
import type { MetricsStore, PointsPage, RecentPointsQuery } from './stores/metrics-store.ts';
import { checkPercentile, type Summary } from './summary.ts';

/** How long a summary may be served from cache when no capture through this service touched its series. */
const SUMMARY_TTL_MS = 60_000;

export class MetricsService {
  private readonly clock: UniqueClock;
  /** Summaries by series, then filter; a series' are dropped when this service captures a point of it, or after the TTL (other masters). */
  private readonly summaries = new Map<string, Map<string, { at: number; summary: Summary }>>();

  constructor(
    readonly store: MetricsStore,
    private readonly state: AggregationState,
    private readonly registry: SeriesRegistry,
    private readonly log: Logger,
    nowUs?: () => number,
  ) {
    this.clock = new UniqueClock(nowUs, store.timeStepUs);
  }

  /**
   * Records `value` in series `name`. Returns the stored point, or null when nothing is stored
   * (the first report of a `diff` series).
   */
  async captureData(name: string, value: number, options: CaptureOptions = {}): Promise<MetricPoint | null> {
    const nameCheck = seriesName.safeParse(name);
    if (!nameCheck.success) throw new MetricInputError(`captureData: series "${name}": ${nameCheck.error.issues[0]?.message}`);
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new MetricInputError(`captureData: series "${name}": value must be a finite number, got ${String(value)}`);
    let o: z.output<typeof captureOptionsSchema>;
    if (plainCaptureOptions(options)) o = options;
    else {
      const parsed = captureOptionsSchema.safeParse(options);
      if (!parsed.success) {
        const issue = describeIssues(parsed.error)[0];
        throw new MetricInputError(
          `captureData: series "${name}": ${issue ? `${issue.path || 'options'}: ${issue.message}` : 'invalid options'}`,
        );
      }
      o = parsed.data;
    }
    const tags = o.tags ?? {};
    let stored: number | null = value;
    if (o.accumulate || o.absValue || o.diff) {
      // Running totals and diffs follow a series across agents and results: those tags vary per build.
      const { agent: _agent, result: _result, ...stateTags } = tags;
      stored = await this.state.update(seriesKey(name, stateTags), (s) => {
        if (o.diff) {
          const previous = s.last_value;
          const change = previous === null ? null : value - previous;
          if (change !== null && !Number.isFinite(change)) throw overflow(name, 'change');
          s.last_value = value;
          return change;
        }
        // Checked before the state changes: an infinite total would be stored and poison the series.
        const total = s.total + (o.absValue ? Math.abs(value) : value);
        if (!Number.isFinite(total)) throw overflow(name, 'running total');
        s.total = total;
        s.last_value = value;
        return s.total;
      });
    }
    if (stored === null) return null;
    this.summaries.delete(name);
    const point: MetricPoint = {
      series: name,
      time: o.time ?? this.clock.next(seriesKey(name, tags)),
      value: stored,
      tags,
      buildNumber: o.buildNumber ?? null,
      buildid: o.buildid ?? null,
      ...(o.samples ? { samples: o.samples } : {}),
    };
    await this.registry.note(name, o.kind ?? 'gauge', o.unit ?? null, Object.keys(tags));
    try {
      await this.store.write([point]);
    } catch (e) {
      this.log.error('metrics store refused a point', { series: name, error: String(e) });
    }
    return point;
  }

  /** Statistics of a series; `fresh` skips the summary cache (benchmarks, checks). */
  async getSummary(filter: SeriesFilter, options: { fresh?: boolean } = {}): Promise<Summary> {
    const key = `${JSON.stringify(filter, Object.keys(filter).sort())}|${JSON.stringify(filter.tags ?? {})}`;
    const cached = this.summaries.get(filter.series)?.get(key);
    if (!options.fresh && cached && Date.now() - cached.at < SUMMARY_TTL_MS) return cached.summary;
    const summary = await this.computeSummary(filter);
    let forSeries = this.summaries.get(filter.series);
    if (!forSeries) {
      if (this.summaries.size >= 1000) this.summaries.clear(); // bounded: a cache, not a store
      this.summaries.set(filter.series, (forSeries = new Map()));
    }
    if (forSeries.size >= 100) forSeries.clear();
    forSeries.set(key, { at: Date.now(), summary });
    return summary;
  }

  private async computeSummary(filter: SeriesFilter): Promise<Summary> {
    const { percentiles, ...stats } = await this.store.statistics(filter, [0.5, 0.95]);
    const description = await this.registry.get(filter.series);
    return { series: filter.series, ...stats, p50: percentiles[0] ?? null, p95: percentiles[1] ?? null, unit: description?.unit ?? null };
  }

  async getAverage(filter: SeriesFilter): Promise<number | null> {
    return (await this.store.aggregates(filter)).average;
  }
  async getDeviation(filter: SeriesFilter): Promise<number | null> {
    return (await this.store.aggregates(filter)).deviation;
  }
  async getMinimum(filter: SeriesFilter): Promise<number | null> {
    return (await this.store.aggregates(filter)).minimum;
  }
  async getMaximum(filter: SeriesFilter): Promise<number | null> {
    return (await this.store.aggregates(filter)).maximum;
  }
  async getCount(filter: SeriesFilter): Promise<number> {
    return (await this.store.aggregates(filter)).count;
  }
  /** Percentile p in [0, 1], by linear interpolation (as simple-statistics' quantile). */
  async getPercentile(filter: SeriesFilter, p: number): Promise<number | null> {
    checkPercentile(p);
    return (await this.store.statistics(filter, [p])).percentiles[0] ?? null;
  }

  points(filter: SeriesFilter, page: { limit: number; offset: number; order: 'asc' | 'desc' }): Promise<PointsPage> {
    return this.store.points(filter, page);
  }

  /** Each query's newest points, oldest first, without counting them (MetricsStore.recentPoints). */
  recentPoints(queries: readonly RecentPointsQuery[]): Promise<MetricPoint[][]> {
    return this.store.recentPoints(queries);
  }

  buildPoints(buildid: number, fromMs: number, toMs: number): Promise<MetricPoint[]> {
    return this.store.buildPoints(buildid, fromMs, toMs);
  }

  seriesWith(tags: { builder?: string; step?: string }): Promise<string[]> {
    return this.store.seriesWith(tags);
  }

  describe(series: string): Promise<SeriesDescription | null> {
    return this.registry.get(series);
  }

  listSeries(): Promise<SeriesDescription[]> {
    return this.registry.list();
  }

  flush(): Promise<void> {
    return this.store.flush();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

function overflow(series: string, what: string): MetricInputError {
  return new MetricInputError(`captureData: series "${series}": the ${what} leaves the range of a double; nothing stored`);
}
