/**
 * Keeps this process's rollup cells and turns them into line protocol for the batch that carries
 * their points, so a batch holds its points and the rollup rows that count them: both arrive, or
 * both are spooled, together. A cell's row is cumulative (it is rewritten with the cell's whole state);
 * the store delivers batches in order so an older state never overwrites a newer one.
 *
 * Row identity: the row's series key is the point's (series, tags) plus a random writer tag per
 * process under `caliper_rollup`, its timestamp inside the cell's hour. A restarted master or a second
 * master sharing the database thus writes rows of its own, which readers add up, instead of
 * overwriting another process's counts (timestamps alone cannot tell them apart at precision 's').
 */
import { Point } from '@influxdata/influxdb-client';
import type { MetricPoint } from '../metric-point.ts';
import { randomBytes } from 'node:crypto';
import { COVERAGE_MEASUREMENT, ROLLUP_BUCKET_US, ROLLUP_MEASUREMENT, RollupCell, WRITER_TAG } from './rollup.ts';

/** Cells idle this long whose hour is over are dropped from memory (their rows stay in InfluxDB). */
const IDLE_MS = 2 * 3_600_000;

type Coverage = { state: 'checking' } | { state: 'known'; sinceUs: number };

export interface RollupWriterOptions {
  /** Smallest timestamp step of the store (µs). */
  stepUs: number;
  /** Line-protocol timestamp for a time in µs, in the store's precision. */
  timestamp: (us: number) => string;
  /**
   * From when (µs) every point of the series is in rollups: an earlier process's mark, 0 for a new
   * series, or `firstUs` when the series holds points written before rollups existed.
   */
  coverage: (series: string, firstUs: number) => Promise<number>;
  /** Called when a coverage mark is ready to be written (the store then schedules a batch). */
  onMark?: () => void;
  now?: () => number;
}

export class RollupWriter {
  private readonly cells = new Map<string, RollupCell>();
  private readonly touched = new Set<RollupCell>();
  private readonly coverage = new Map<string, Coverage>();
  private readonly touchedSeries = new Set<string>();
  private readonly prefixes = new Map<string, string>();
  private readonly now: () => number;
  private lastEvictionMs = 0;
  /** This process's rows: a restarted master or a second one writes rows of its own, never over these. */
  private readonly writer = randomBytes(6).toString('hex');

  constructor(private readonly options: RollupWriterOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Counts a point in its cell; `key` identifies the point's series and tag set. */
  add(p: MetricPoint, key: string): void {
    const bucketUs = Math.floor(p.time / ROLLUP_BUCKET_US) * ROLLUP_BUCKET_US;
    const cellKey = `${key}\u0001${bucketUs}`;
    let cell = this.cells.get(cellKey);
    const nowMs = this.now();
    if (!cell) {
      // Rows of other processes carry another writer tag. Within this process a cell made again for
      // the same hour (after eviction) gets the creation time within the hour as its offset.
      const step = this.options.stepUs;
      const offsetUs = Math.floor(((nowMs * 1000) % ROLLUP_BUCKET_US) / step) * step;
      cell = new RollupCell(this.prefix(p, key), bucketUs + offsetUs);
      this.cells.set(cellKey, cell);
    }
    cell.add(p.value);
    cell.lastTouchedMs = nowMs;
    this.touched.add(cell);
    if (!this.coverage.has(p.series)) this.checkCoverage(p.series, p.time);
    this.touchedSeries.add(p.series);
  }

  /** Rows for every cell touched since the last call, with their state now; coverage marks. */
  takeLines(): string[] {
    const lines: string[] = [];
    for (const cell of this.touched) lines.push(`${cell.prefix} ${cell.fields()} ${this.options.timestamp(cell.timeUs)}`);
    this.touched.clear();
    const hourUs = Math.floor((this.now() * 1000) / ROLLUP_BUCKET_US) * ROLLUP_BUCKET_US;
    for (const series of this.touchedSeries) {
      const c = this.coverage.get(series);
      if (c?.state === 'known')
        lines.push(`${this.coveragePrefix(series)} since=${Math.trunc(c.sinceUs)}i ${this.options.timestamp(hourUs)}`);
    }
    this.touchedSeries.clear();
    this.evictIdle();
    return lines;
  }

  private checkCoverage(series: string, firstUs: number): void {
    this.coverage.set(series, { state: 'checking' });
    this.options.coverage(series, firstUs).then(
      (sinceUs) => {
        this.coverage.set(series, { state: 'known', sinceUs });
        this.touchedSeries.add(series);
        this.options.onMark?.();
      },
      // InfluxDB unreachable: no mark for now (readers then take the exact path); asked again later.
      () => this.coverage.delete(series),
    );
  }

  private prefix(p: MetricPoint, key: string): string {
    let prefix = this.prefixes.get(key);
    if (prefix === undefined) {
      const point = new Point(ROLLUP_MEASUREMENT).tag('series', p.series).tag(WRITER_TAG, this.writer);
      for (const [k, v] of Object.entries(p.tags)) point.tag(k, v);
      prefix = fieldlessLine(point);
      if (this.prefixes.size > 10_000) this.prefixes.clear();
      this.prefixes.set(key, prefix);
    }
    return prefix;
  }

  private coveragePrefix(series: string): string {
    // Per writer too: readers take the smallest mark, so one writer's later mark never hides another's.
    return fieldlessLine(new Point(COVERAGE_MEASUREMENT).tag('series', series).tag(WRITER_TAG, this.writer));
  }

  private evictIdle(): void {
    const nowMs = this.now();
    if (nowMs - this.lastEvictionMs < 60_000) return;
    this.lastEvictionMs = nowMs;
    const currentHourUs = Math.floor((nowMs * 1000) / ROLLUP_BUCKET_US) * ROLLUP_BUCKET_US;
    for (const [k, cell] of this.cells) {
      if (!this.touched.has(cell) && nowMs - cell.lastTouchedMs > IDLE_MS && cell.timeUs < currentHourUs) this.cells.delete(k);
    }
  }
}

/** `measurement,tags` as the client's Point escapes them. */
export function fieldlessLine(point: Point): string {
  const line = point.floatField('value', 0).toLineProtocol();
  if (line === undefined) throw new Error('a point with a field has a line'); // never: the client omits only fieldless points
  return line.slice(0, line.lastIndexOf(' value='));
}
