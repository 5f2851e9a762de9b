/**
 * The metrics explorer's chart: any number of lines (several series overlaid, each split by a tag or
 * not) over the union of their times, one y axis per unit (the first on the left, the second on the
 * right), the regression band of each line shaded in its colour with the points outside it ringed,
 * and the detected change points as marks. Under it, the flagged points and the changes as lists.
 */
import type uPlot from 'uplot';
import type { MetricChange } from '../../../protocol/api-types.ts';
import type { Scope } from '../scope.ts';
import { h, routeHref } from '../dom.ts';
import { formatTime, formatValue } from '../format.ts';
import { rollingBand, type BandAt, type BandPoint } from './baseline-band.ts';
import { changeList, changeMarks } from './change-marks.ts';
import type { UPlotClass } from './uplot-lib.ts';
import { DOTS, LINE_WIDTH, SPLIT_COLORS, mount, themedAxes, widthOf } from './chart.ts';

export interface ExplorerLine {
  label: string;
  series: string;
  unit: string | null;
  /** Which way is worse for the series ('ratio' grows better, every other kind worse). */
  kind: string;
  /** The spread's floor (MetricSeries.resolution). */
  resolution: number;
  points: (BandPoint & { build_number: number | null; buildid: number | null })[];
}

export interface ExplorerChartOptions {
  lines: ExplorerLine[];
  /** The gate's baseline: null hides the band and flags. */
  band: { window: number; k: number } | null;
  height?: number;
}

const FLAG_COLOR = '#dc2626';
const MAX_FLAGS_LISTED = 50;

interface Flag {
  line: ExplorerLine;
  point: ExplorerLine['points'][number];
  band: BandAt;
}

const colorOf = (i: number): string => SPLIT_COLORS[i % SPLIT_COLORS.length] as string;

/** `#2563eb` → `rgba(37, 99, 235, a)`. */
function alpha(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

export interface ExplorerChart {
  el: HTMLElement;
  /** Marks the detected changes and lists them (they come after the points). */
  showChanges(changes: readonly MetricChange[]): void;
}

/** `UPlot`: the class, loaded by the page (uplot-lib.ts) beside its points. */
export function explorerChart(UPlot: UPlotClass, scope: Scope, options: ExplorerChartOptions): ExplorerChart {
  const plotBox = h('div', { class: 'metric-plot explorer-plot' });
  const root = h('div', { class: 'metric-chart explorer-chart' }, plotBox);
  const { lines } = options;
  const xs = [...new Set(lines.flatMap((l) => l.points.map((p) => p.time)))].sort((a, b) => a - b);
  const bands = lines.map((l) =>
    options.band ? rollingBand(l.points, options.band.window, options.band.k, l.resolution) : l.points.map(() => null),
  );
  const flags: Flag[] = [];
  const units = new Map(lines.map((l) => [l.series, l.unit]));
  const scaleOf = (l: ExplorerLine) => `y:${l.unit ?? l.series}`;
  const scales = [...new Set(lines.map(scaleOf))];
  const marks = changeMarks(units);

  const data: (number | null)[][] = [xs];
  const series: uPlot.Series[] = [{}];
  lines.forEach((line, i) => {
    const color = colorOf(i);
    const at = new Map(line.points.map((p) => [p.time, p.value]));
    const fmt = (_u: uPlot, v: number | null) => formatValue(v, line.unit);
    data.push(xs.map((x) => at.get(x) ?? null));
    series.push({
      label: line.label,
      scale: scaleOf(line),
      stroke: color,
      width: LINE_WIDTH,
      spanGaps: true,
      points: DOTS(color),
      value: fmt,
    });
    const lineFlags = line.points.flatMap((point, j): Flag[] => {
      const band = bands[i]?.[j];
      return band && (point.value > band.upper || point.value < band.lower) ? [{ line, point, band }] : [];
    });
    if (lineFlags.length === 0) return;
    flags.push(...lineFlags);
    const flagged = new Map(lineFlags.map((f) => [f.point.time, f.point.value]));
    data.push(xs.map((x) => flagged.get(x) ?? null));
    series.push({
      label: `${line.label} flagged`,
      scale: scaleOf(line),
      stroke: FLAG_COLOR,
      width: 0,
      paths: () => null,
      points: { show: true, size: 11, width: 2, stroke: FLAG_COLOR, fill: 'transparent' },
      value: fmt,
    });
  });

  const [xAxis, yAxis] = themedAxes() as [uPlot.Axis, uPlot.Axis];
  const axes: uPlot.Axis[] = [xAxis, ...scales.slice(0, 2).map((scale, i): uPlot.Axis => ({ ...yAxis, scale, side: i === 0 ? 3 : 1 }))];
  const height = options.height ?? 320;
  const opts: uPlot.Options = {
    width: widthOf(plotBox),
    height,
    series,
    axes,
    scales: { x: { time: true } },
    legend: { live: true },
    plugins: [marks.plugin, bandPlugin(lines, bands, scaleOf)],
  };
  // The box must be in the document for its width; the caller appends the root before a frame passes.
  requestAnimationFrame(() => {
    if (scope.disposed) return;
    opts.width = widthOf(plotBox);
    mount(new UPlot(opts, data as uPlot.AlignedData, plotBox), plotBox, scope, height);
  });
  root.dataset.lines = String(lines.length);
  root.dataset.flags = String(flags.length);
  const flagged = flagList(flags, options.band?.k ?? 0);
  if (flagged) root.append(flagged);
  return {
    el: root,
    showChanges(changes) {
      marks.show(changes);
      root.querySelector(':scope > .change-list')?.remove();
      const list = changeList(changes, units);
      if (list) root.append(list);
    },
  };
}

/** Each line's band as a shaded area in the line's colour, drawn under the lines. */
function bandPlugin(lines: ExplorerLine[], bands: (BandAt | null)[][], scaleOf: (l: ExplorerLine) => string): uPlot.Plugin {
  return {
    hooks: {
      drawAxes: (u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.beginPath();
        ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
        ctx.clip();
        lines.forEach((line, i) => {
          const band = bands[i] ?? [];
          const scale = scaleOf(line);
          // Runs of consecutive points with a band: each run is one closed shape.
          let run: { x: number; lo: number; hi: number }[] = [];
          const flush = () => {
            if (run.length > 1) {
              ctx.beginPath();
              run.forEach((p, j) => (j === 0 ? ctx.moveTo(p.x, p.hi) : ctx.lineTo(p.x, p.hi)));
              for (const p of [...run].reverse()) ctx.lineTo(p.x, p.lo);
              ctx.closePath();
              ctx.fillStyle = alpha(colorOf(i), 0.12);
              ctx.fill();
            }
            run = [];
          };
          line.points.forEach((p, j) => {
            const b = band[j];
            if (!b) return flush();
            run.push({ x: u.valToPos(p.time, 'x', true), lo: u.valToPos(b.lower, scale, true), hi: u.valToPos(b.upper, scale, true) });
          });
          flush();
        });
        ctx.restore();
      },
    },
  };
}

function flagList(flags: Flag[], k: number): HTMLElement | null {
  if (flags.length === 0) return null;
  const shown = [...flags].sort((a, b) => b.point.time - a.point.time).slice(0, MAX_FLAGS_LISTED);
  return h(
    'details',
    { class: 'flag-list' },
    h('summary', null, `${flags.length} point${flags.length === 1 ? '' : 's'} outside the band (± ${k} spreads)`),
    h(
      'ul',
      null,
      shown.map(({ line, point, band }) => {
        const worse = line.kind === 'ratio' ? band.score < 0 : band.score > 0;
        return h(
          'li',
          { class: `flag-item ${worse ? 'change-worse' : 'change-better'}`, 'data-series': line.series },
          h('strong', null, `${line.label}: ${formatValue(point.value, line.unit)}`),
          ` (baseline ${formatValue(band.median, line.unit)} ± ${formatValue(band.spread, line.unit)}, score ${band.score >= 0 ? '+' : ''}${band.score.toFixed(1)}, ${worse ? 'worse' : 'better'}) at ${formatTime(point.time)}`,
          point.buildid === null
            ? null
            : [' ', h('a', { href: routeHref('builds', point.buildid) }, `build #${point.build_number ?? point.buildid}`)],
        );
      }),
    ),
  );
}
