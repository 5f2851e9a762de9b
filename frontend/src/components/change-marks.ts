/**
 * Detected change points (`GET /metrics/{series}/changes`) on a chart: a dashed vertical line where
 * the new level starts, labelled with the magnitude, worse in red and better in green, linking to the
 * first build after the change; its title says the rest (levels, p-value, revision). The marks are
 * elements over the uPlot canvas, so the keyboard reaches them and a screen reader reads them; the
 * same changes are also listed under the chart (`changeList`).
 */
import type uPlot from 'uplot';
import type { MetricChange } from '../../../protocol/api-types.ts';
import { h, replaceChildren, routeHref } from '../dom.ts';
import { formatTime, formatValue } from '../format.ts';

export function magnitudeText(c: MetricChange): string {
  if (c.magnitude_percent === null) return c.change === 'increase' ? '↑' : '↓';
  const sign = c.magnitude_percent >= 0 ? '+' : '−';
  return `${sign}${Math.abs(c.magnitude_percent).toFixed(1)} %`;
}

function pText(p: number): string {
  return p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`;
}

const tagText = (tags: Record<string, string>): string =>
  Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

/** One sentence a tooltip and a screen reader share. */
export function changeSummary(c: MetricChange, unit: string | null): string {
  const build = c.after.build_number === null ? '' : `, from build #${c.after.build_number}`;
  const rev = c.after.revision ? ` (revision ${c.after.revision.slice(0, 12)})` : '';
  return (
    `${c.series} ${c.verdict} by ${magnitudeText(c)}: ${formatValue(c.mean_before, unit)} → ${formatValue(c.mean_after, unit)}` +
    `, ${pText(c.p_value)}${build}${rev}, at ${formatTime(c.after.time)}` +
    (Object.keys(c.tags).length > 0 ? ` [${tagText(c.tags)}]` : '')
  );
}

/** Link target for a change: the first build after it, when the point came from a build. */
const changeHref = (c: MetricChange): string | null => (c.after.buildid === null ? null : routeHref('builds', c.after.buildid));

/**
 * Marks of change points on one uPlot: `plugin` goes into the plot's options; `show(changes)` puts
 * the marks in, before or after the plot exists (the changes are fetched beside the points, and a
 * chart is not held back for them). The marks are placed again whenever the plot redraws (a new
 * width, a zoom). `units` names each series' unit for the titles.
 */
export interface ChangeMarks {
  plugin: uPlot.Plugin;
  show(changes: readonly MetricChange[]): void;
}

export function changeMarks(units: ReadonlyMap<string, string | null>): ChangeMarks {
  const layer = h('div', { class: 'change-marks' });
  let marks: { c: MetricChange; el: HTMLElement }[] = [];
  let plot: uPlot | null = null;
  const place = (u: uPlot): void => {
    const min = u.scales.x?.min ?? -Infinity;
    const max = u.scales.x?.max ?? Infinity;
    for (const m of marks) {
      const x = m.c.after.time;
      const inside = x >= min && x <= max;
      m.el.hidden = !inside;
      if (inside) m.el.style.left = `${u.valToPos(x, 'x')}px`;
    }
  };
  return {
    plugin: {
      hooks: {
        init: (u) => {
          plot = u;
          u.over.appendChild(layer);
        },
        draw: place,
      },
    },
    show(changes) {
      marks = changes.map((c) => {
        const summary = changeSummary(c, units.get(c.series) ?? null);
        const href = changeHref(c);
        const label = href
          ? h('a', { class: 'change-label', href, 'aria-label': summary, title: summary }, magnitudeText(c))
          : h('span', { class: 'change-label', tabindex: '0', role: 'note', 'aria-label': summary, title: summary }, magnitudeText(c));
        return { c, el: h('div', { class: `change-mark change-${c.verdict}`, 'data-series': c.series, 'data-time': c.after.time }, label) };
      });
      replaceChildren(
        layer,
        marks.map((m) => m.el),
      );
      if (plot) place(plot);
    },
  };
}

/** The changes as a list under a chart, newest first; nothing when there are none. */
export function changeList(changes: readonly MetricChange[], units: ReadonlyMap<string, string | null>): HTMLElement | null {
  if (changes.length === 0) return null;
  return h(
    'details',
    { class: 'change-list' },
    h('summary', null, `${changes.length} detected change${changes.length === 1 ? '' : 's'}`),
    h(
      'ul',
      null,
      [...changes]
        .sort((a, b) => b.after.time - a.after.time)
        .map((c) => {
          const href = changeHref(c);
          return h(
            'li',
            { class: `change-item change-${c.verdict}`, 'data-series': c.series },
            h('strong', { class: 'change-verdict' }, `${c.verdict} ${magnitudeText(c)}`),
            ' ',
            changeSummary(c, units.get(c.series) ?? null),
            href ? [' ', h('a', { href }, `build #${c.after.build_number ?? c.after.buildid}`)] : null,
          );
        }),
    ),
  );
}
