/**
 * A metric chart (uPlot) for one series under a filter (builder, optional step): the values over time
 * as line and points, the average, a shaded average ± 1σ band, min and max dashed, p95 dotted; the
 * summary numbers below; the change points detected under the same filter as marks (change-marks.ts).
 * Data: the series' last points (`order=-time`, reversed), its summary, and its changes.
 * The points come first and are drawn as soon as they arrive; the summary (its lines and numbers)
 * and the changes (marks) are asked for once the chart is on screen and added when they come: a page
 * of charts sends every chart's points before anyone's summary, and SQLite answers one query at a time.
 * The chart follows its container's width (ResizeObserver), never narrower than 280 px.
 */
import type uPlot from 'uplot';
import type { MetricChangesPage, MetricPoint, PointsPage, Summary, SummaryAnswer } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { afterPaint, h, replaceChildren } from '../dom.ts';
import { formatValue } from '../format.ts';
import { isAbort, describeError } from '../api.ts';
import { changeList, changeMarks } from './change-marks.ts';
import { loadUplot, type UPlotClass } from './uplot-lib.ts';

export interface ChartOptions {
  series: string;
  builder: string;
  step?: string | undefined;
  /** How many of the latest points to plot. */
  limit?: number;
  height?: number;
  /** A tag (a matrix axis) to split the series by: one line per value of it, with a legend. */
  splitBy?: string | undefined;
  /**
   * The series' unit when the caller knows it (the series list has it): the chart is then drawn
   * without waiting for the summary. Without it the summary is asked for beside the points.
   */
  unit?: string | null | undefined;
  /** Waited for before the points are asked for: a page's top chart goes first (pages/builder.ts). */
  startAfter?: Promise<unknown> | undefined;
  /** Called once the chart is on screen (or has failed): the charts waiting for it may start. */
  onShown?: (() => void) | undefined;
}

const MIN_WIDTH = 280;

/**
 * A line's value dots, drawn only where they have room (uPlot's own rule: fewer points than pixels
 * across). 2000 forced dots are a smear on screen and cost a software-drawn canvas 50 ms a frame.
 */
export const DOTS = (fill: string): uPlot.Series.Points => ({ size: 5, fill });

/**
 * Data lines are one device pixel wide: Skia draws those as hairlines, where a 1.5 px line over 1000
 * noisy points took a canvas without a GPU 47 ms to rasterise (1 px: under 5 ms, Chromium's trace).
 */
export const LINE_WIDTH = 1;
const COLORS = {
  value: '#2563eb',
  average: '#16a34a',
  band: 'rgba(22, 163, 74, 0.12)',
  bandEdge: 'rgba(22, 163, 74, 0.35)',
  extreme: '#6b7280',
  p95: '#d97706',
};

export function metricChart(ctx: PageContext, options: ChartOptions): HTMLElement {
  const plotBox = h('div', { class: 'metric-plot' }, h('p', { class: 'muted' }, 'loading…'));
  const summaryBox = h('div', { class: 'metric-summary' });
  const root = h('div', { class: 'metric-chart', 'data-series': options.series }, plotBox, summaryBox);
  const scope = ctx.scope.child();

  const filter: Record<string, string> = { builder: options.builder };
  if (options.step !== undefined) filter.step = options.step;
  const path = `/metrics/${encodeURIComponent(options.series)}`;

  const lib = loadUplot();
  void (async () => {
    try {
      await options.startAfter;
      if (scope.disposed) return;
      const split = options.splitBy === undefined ? {} : { splitBy: options.splitBy };
      const askSummary = () => ctx.api.get<SummaryAnswer>(`${path}/summary`, { ...filter, ...split }, scope.signal);
      const early = options.unit === undefined ? askSummary() : null;
      // Settled at once when unused, so an abort or error of it is never an unhandled rejection.
      early?.catch(() => undefined);
      const pointsRes = await ctx.api.get<PointsPage>(
        `${path}/points`,
        { ...filter, ...split, order: '-time', limit: options.limit ?? 500 },
        scope.signal,
      );
      if (scope.disposed) return;
      const unit = options.unit !== undefined ? options.unit : (await (early ?? askSummary())).summary.unit;
      if (scope.disposed) return;
      const points = [...pointsRes.points].reverse();
      const showSummary = (answer: SummaryAnswer): void => {
        replaceChildren(summaryBox, summaryItems(answer.summary));
        if (answer.split) summaryBox.append(...splitSummaryItems(answer.split));
      };
      const UPlot = await lib;
      if (scope.disposed) return;
      if (points.length === 0) {
        replaceChildren(plotBox, h('p', { class: 'muted' }, 'no points yet'));
        (early ?? askSummary()).then((a) => !scope.disposed && showSummary(a), ignoreAbort(options.series, 'summary'));
        return;
      }
      replaceChildren(plotBox);
      const units = new Map([[options.series, unit]]);
      const marks = changeMarks(units);
      let withSummary: (s: Summary) => void = () => undefined;
      if (pointsRes.split) {
        root.dataset.splitBy = pointsRes.split.tag;
        drawSplit(UPlot, plotBox, scope, pointsRes.split, unit, options.height ?? 200, marks.plugin);
      } else withSummary = draw(UPlot, plotBox, scope, points, unit, options.height ?? 200, marks.plugin);
      // The summary and the changes are asked for once the chart is on screen: detection reads up to
      // 10 000 points, and neither should share the CPU (or SQLite, one query at a time) with drawing.
      await afterPaint();
      if (scope.disposed) return;
      options.onShown?.();
      const summaryAnswer = early ?? askSummary();
      const changes = ctx.api.get<MetricChangesPage>(`${path}/changes`, filter, scope.signal);
      // The summary's numbers and lines, and the marks, are extra: a chart without them beats no chart.
      summaryAnswer.then(
        (a) => {
          if (scope.disposed) return;
          showSummary(a);
          withSummary(a.summary);
        },
        ignoreAbort(options.series, 'summary'),
      );
      changes.then(
        (r) => {
          if (scope.disposed) return;
          marks.show(r.changes);
          const list = changeList(r.changes, units);
          if (list) root.appendChild(list);
        },
        ignoreAbort(options.series, 'changes'),
      );
    } catch (e) {
      if (isAbort(e)) return;
      replaceChildren(plotBox, h('p', { class: 'error' }, `chart unavailable: ${describeError(e)}`));
    } finally {
      options.onShown?.(); // again is harmless; without points or after a failure, the others go on
    }
  })();
  return root;
}

/** A failed extra (summary, changes) is logged, not shown: the chart stands without it. */
const ignoreAbort =
  (series: string, what: string) =>
  (e: unknown): void => {
    if (!isAbort(e)) console.warn(`${what} of ${series} unavailable`, e);
  };

function summaryItems(s: Summary): HTMLElement[] {
  const unit = s.unit;
  const stat = (label: string, value: string) =>
    h('span', { class: 'stat' }, h('span', { class: 'stat-label' }, label), ' ', h('span', { class: 'stat-value' }, value));
  return [
    stat('count', String(s.count)),
    stat('average', formatValue(s.average, unit)),
    stat('deviation', formatValue(s.deviation, unit)),
    stat('min', formatValue(s.minimum, unit)),
    stat('max', formatValue(s.maximum, unit)),
    // From InfluxDB rollups p50/p95 are within percentileError (0.1%): shown with "≈" and the bound.
    ...(['p50', 'p95'] as const).map((k) => {
      const item = stat(k, `${s.percentileError > 0 ? '≈ ' : ''}${formatValue(s[k], unit)}`);
      if (s.percentileError > 0) item.title = `within ${s.percentileError * 100}% (from rollups)`;
      return item;
    }),
  ];
}

/**
 * The values as line and points; the summary's lines (average, ±1σ band, min, max, p95) are empty
 * until the returned function is given the summary.
 */
function draw(
  UPlot: UPlotClass,
  box: HTMLElement,
  scope: PageContext['scope'],
  points: MetricPoint[],
  unit: string | null,
  height: number,
  marks: uPlot.Plugin,
): (s: Summary) => void {
  const xs = points.map((p) => p.time);
  const values = points.map((p) => p.value);
  const flat = (v: number | null) => xs.map(() => v);
  const dataOf = (s: Summary | null): uPlot.AlignedData => {
    const avg = s?.average ?? null;
    const dev = s?.deviation ?? 0;
    return [
      xs,
      values,
      flat(avg),
      flat(avg === null ? null : avg - dev),
      flat(avg === null ? null : avg + dev),
      flat(s?.minimum ?? null),
      flat(s?.maximum ?? null),
      flat(s?.p95 ?? null),
    ];
  };
  const fmt = (_u: uPlot, v: number | null) => formatValue(v, unit);
  const flatLine = (label: string, stroke: string, dash?: number[]): uPlot.Series => ({
    label,
    stroke,
    width: 1,
    points: { show: false },
    value: fmt,
    ...(dash ? { dash } : {}),
  });
  const opts: uPlot.Options = {
    width: widthOf(box),
    height,
    series: [
      {},
      { label: 'value', stroke: COLORS.value, width: LINE_WIDTH, points: DOTS(COLORS.value), value: fmt },
      flatLine('average', COLORS.average),
      flatLine('−1σ', COLORS.bandEdge),
      flatLine('+1σ', COLORS.bandEdge),
      flatLine('min', COLORS.extreme, [6, 4]),
      flatLine('max', COLORS.extreme, [6, 4]),
      flatLine('p95', COLORS.p95, [2, 3]),
    ],
    // The band fills between the +1σ series (upper edge) and the −1σ series (lower edge).
    bands: [{ series: [4, 3], fill: COLORS.band }],
    axes: themedAxes(),
    scales: { x: { time: true } },
    legend: { live: true },
    plugins: [marks],
  };
  const plot = new UPlot(opts, dataOf(null), box);
  mount(plot, box, scope, height);
  return (s) => plot.setData(dataOf(s));
}

/** Per value of the split tag: its count and average, so each line's level reads as a number too. */
function splitSummaryItems(split: NonNullable<SummaryAnswer['split']>): HTMLElement[] {
  return split.groups.map((g) =>
    h(
      'span',
      { class: 'stat split-stat', 'data-value': g.value },
      h('span', { class: 'stat-label' }, `${split.tag}=${g.value}`),
      ' ',
      h('span', { class: 'stat-value' }, `n=${g.summary.count}, average ${formatValue(g.summary.average, g.summary.unit)}`),
    ),
  );
}

/** Distinct hues for the lines of a split, readable on both themes; they repeat past eight values. */
export const SPLIT_COLORS = ['#2563eb', '#d97706', '#16a34a', '#db2777', '#7c3aed', '#0891b2', '#dc2626', '#65a30d'];

/**
 * One line per value of the split tag, over the union of their times: a group has no value at the
 * others' times, and its line spans those gaps. The legend names each line `tag=value`.
 */
function drawSplit(
  UPlot: UPlotClass,
  box: HTMLElement,
  scope: PageContext['scope'],
  split: NonNullable<PointsPage['split']>,
  unit: string | null,
  height: number,
  marks: uPlot.Plugin,
): void {
  const groups = split.groups.map((g) => ({ value: g.value, points: [...g.points].sort((a, b) => a.time - b.time) }));
  const xs = [...new Set(groups.flatMap((g) => g.points.map((p) => p.time)))].sort((a, b) => a - b);
  const data: uPlot.AlignedData = [
    xs,
    ...groups.map((g) => {
      const at = new Map(g.points.map((p) => [p.time, p.value]));
      return xs.map((x) => at.get(x) ?? null);
    }),
  ];
  const fmt = (_u: uPlot, v: number | null) => formatValue(v, unit);
  const opts: uPlot.Options = {
    width: widthOf(box),
    height,
    series: [
      {},
      ...groups.map((g, i): uPlot.Series => {
        const color = SPLIT_COLORS[i % SPLIT_COLORS.length] as string;
        return {
          label: `${split.tag}=${g.value}`,
          stroke: color,
          width: LINE_WIDTH,
          spanGaps: true,
          points: DOTS(color),
          value: fmt,
        };
      }),
    ],
    axes: themedAxes(),
    scales: { x: { time: true } },
    legend: { live: true },
    plugins: [marks],
  };
  mount(new UPlot(opts, data, box), box, scope, height);
}

/** Time and value axes in the theme's colours (a canvas does not inherit CSS). */
export function themedAxes(): uPlot.Axis[] {
  const css = getComputedStyle(document.documentElement);
  const text = css.getPropertyValue('--muted').trim() || '#656d76';
  const grid = css.getPropertyValue('--row-line').trim() || '#eaeef2';
  return [
    { stroke: text, grid: { stroke: grid }, ticks: { stroke: grid } },
    { size: 64, stroke: text, grid: { stroke: grid }, ticks: { stroke: grid }, values: (_u, splits) => splits.map((v) => formatValue(v)) },
  ];
}

/** Keeps a plot as wide as its box, and destroys it with the page. */
export function mount(plot: uPlot, box: HTMLElement, scope: PageContext['scope'], height: number): void {
  const observer = new ResizeObserver(() => {
    const width = widthOf(box);
    if (width !== plot.width) plot.setSize({ width, height });
  });
  observer.observe(box);
  scope.add(() => {
    observer.disconnect();
    plot.destroy();
  });
}

export function widthOf(el: HTMLElement): number {
  return Math.max(MIN_WIDTH, Math.floor(el.clientWidth));
}
