/**
 * A card for one metric series of a builder: its name, kind and unit, links, and its chart. For a
 * matrix builder, a "split by" select redraws the chart with one line per value of an axis. The
 * chart does not wait for the axes (the builder's info): the select joins the card when they come.
 */
import type { MetricSeries } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { externalLink, h, replaceChildren } from '../dom.ts';
import { metricChart, type ChartOptions } from './chart.ts';

export function metricCard(
  ctx: PageContext,
  series: MetricSeries,
  builder: string,
  axes: Promise<readonly string[]> = Promise.resolve([]),
  order: Pick<ChartOptions, 'startAfter' | 'onShown'> = {},
): HTMLElement {
  const chartBox = h('div', { class: 'metric-chart-box' });
  // Each chart owns a child scope: a redraw disposes the previous chart's requests and plot.
  let chartScope = ctx.scope.child();
  const showChart = (splitBy: string | undefined, first: Pick<ChartOptions, 'startAfter' | 'onShown'> = {}): void => {
    chartScope.dispose();
    chartScope = ctx.scope.child();
    replaceChildren(
      chartBox,
      metricChart({ ...ctx, scope: chartScope }, { series: series.series, builder, splitBy, unit: series.unit, ...first }),
    );
  };
  showChart(undefined, order);
  const card = h(
    'article',
    { class: 'card metric-card' },
    h(
      'header',
      { class: 'card-header' },
      h('h3', null, series.series),
      h('span', { class: 'muted' }, [series.kind, series.unit].filter((x) => x).join(', ')),
      h(
        'span',
        { class: 'links' },
        externalLink(series.links?.grafana, 'Grafana', 'grafana-link'),
        externalLink(series.links?.influxdb, 'InfluxDB', 'influxdb-link'),
      ),
    ),
    chartBox,
  );
  void axes.then((names) => {
    if (names.length === 0 || ctx.scope.disposed) return;
    const select = h(
      'select',
      { name: 'split-by', class: 'split-by', 'aria-label': `Split by (${series.series})` },
      h('option', { value: '' }, 'none'),
      ...names.map((a) => h('option', { value: a }, a)),
    );
    select.addEventListener('change', () => showChart(select.value === '' ? undefined : select.value));
    card.insertBefore(h('label', { class: 'split-by-label' }, 'Split by ', select), chartBox);
  });
  return card;
}
