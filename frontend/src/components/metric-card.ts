/** A card for one metric series of a builder: its name, kind and unit, links, and its chart. */
import type { MetricSeries } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { externalLink, h } from '../dom.ts';
import { metricChart } from './chart.ts';

export function metricCard(ctx: PageContext, series: MetricSeries, builder: string): HTMLElement {
  return h(
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
    metricChart(ctx, { series: series.series, builder }),
  );
}
