/**
 * `#/builders/NAME`: the force form, the queued requests (each with Cancel), the builder's builds
 * (newest first, 50 a page, updated when one of its builds starts or finishes) and a chart per metric
 * series of the builder (for a matrix builder, splittable by an axis).
 */
import type { Build, MetricSeriesPage, Page } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { externalLink, h, replaceChildren, routeHref, table } from '../dom.ts';
import { formatDuration, formatTime, spanSeconds } from '../format.ts';
import { resultBadge } from '../components/result-badge.ts';
import { forceForm } from '../components/force-form.ts';
import { metricCard } from '../components/metric-card.ts';
import { pager } from '../components/pager.ts';
import { queuedRequests } from '../components/queued-requests.ts';
import { coalesced } from '../refresh.ts';
import { ApiError } from '../api.ts';

const PAGE_SIZE = 50;

export function builderPage(ctx: PageContext, name: string): HTMLElement {
  const info = h('div', { class: 'builder-info' });
  const buildsBox = h('div', null, h('p', { class: 'muted' }, 'loading…'));
  const metricsBox = h('div', { class: 'metric-grid' }, h('p', { class: 'muted' }, 'loading…'));
  let builderid: number | null = null;
  const queued = queuedRequests(ctx, name, () => builderid);
  const root = h(
    'section',
    { class: 'page page-builder' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/builders' }, 'Builders'), ' / '),
    h('h1', null, name),
    info,
    h('section', { class: 'card' }, h('h2', null, 'Force a build'), forceForm(ctx, name)),
    h('section', { class: 'queued' }, h('h2', null, 'Queued requests'), queued.el),
    h('section', null, h('h2', null, 'Builds'), buildsBox),
    h('section', null, h('h2', null, 'Metrics'), metricsBox),
  );
  const path = `/builders/${encodeURIComponent(name)}`;
  let offset = 0;

  /** A matrix builder's axes (from its info): its charts offer to split by them. */
  const loadInfo = async (): Promise<readonly string[]> => {
    try {
      const res = await ctx.api.get<Page<'builders'>>(path, undefined, ctx.scope.signal);
      const b = res.builders[0];
      if (!b) return [];
      builderid = b.builderid;
      queued.load();
      replaceChildren(
        info,
        b.description ? h('p', null, b.description) : null,
        h(
          'p',
          { class: 'meta-line' },
          (b.tags ?? []).map((t) => h('span', { class: 'tag' }, t)),
          externalLink(b.links?.grafana, 'Open in Grafana', 'grafana-link'),
        ),
      );
      return b.matrix?.axes ?? [];
    } catch (e) {
      if (e instanceof ApiError && e.status === 404)
        replaceChildren(info, h('p', { class: 'error' }, `There is no builder named "${name}".`));
      ctx.message.error(e, `Builder "${name}"`);
      return [];
    }
  };

  const loadBuilds = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<Page<'builds'>>(`${path}/builds`, { order: '-number', limit: PAGE_SIZE, offset }, ctx.scope.signal);
      replaceChildren(buildsBox, buildsTable(res.builds), pager(offset, PAGE_SIZE, res.meta.total, go));
    } catch (e) {
      ctx.message.error(e, 'Could not load the builds');
    }
  };
  const go = (next: number): void => {
    offset = next;
    void loadBuilds();
  };

  const loadMetrics = async (axes: Promise<readonly string[]>): Promise<void> => {
    try {
      const res = await ctx.api.get<MetricSeriesPage>('/metrics', { builder: name }, ctx.scope.signal);
      // The top chart's points are asked for alone, the others' once it is on screen: six requests
      // at once share the master (and SQLite, one query at a time), and the first would come last.
      let firstShown = (): void => undefined;
      const first = new Promise<void>((resolve) => (firstShown = resolve));
      if (res.metrics.length === 0) replaceChildren(metricsBox, h('p', { class: 'muted' }, 'No metrics recorded for this builder yet.'));
      else
        replaceChildren(
          metricsBox,
          res.metrics.map((m, i) => metricCard(ctx, m, name, axes, i === 0 ? { onShown: firstShown } : { startAfter: first })),
        );
    } catch (e) {
      replaceChildren(metricsBox, h('p', { class: 'error' }, 'Metrics could not be loaded.'));
      ctx.message.error(e, 'Could not load the metrics');
    }
  };

  const reloadBuilds = coalesced(ctx.scope, loadBuilds);
  const ours = (d: { builderid: number }) => builderid === null || d.builderid === builderid;
  ctx.scope.add(ctx.live.on('build.started', (d) => ours(d) && reloadBuilds()));
  ctx.scope.add(ctx.live.on('build.finished', (d) => ours(d) && reloadBuilds()));
  ctx.scope.add(ctx.live.onReconnect(reloadBuilds));
  const axes = loadInfo();
  void loadBuilds();
  void loadMetrics(axes);
  return root;
}

function buildsTable(builds: Build[]): HTMLElement {
  if (builds.length === 0) return h('p', { class: 'muted' }, 'No builds yet.');
  const rows = builds.map((b) =>
    h(
      'tr',
      { 'data-build': b.number },
      h('td', { class: 'num' }, h('a', { href: routeHref('builds', b.buildid) }, `#${b.number}`)),
      h('td', null, resultBadge(b.result)),
      h('td', { class: 'wrap' }, b.state_string),
      h('td', null, b.agent),
      h('td', { class: 'nowrap' }, formatTime(b.started_at)),
      h('td', { class: 'num nowrap' }, formatDuration(spanSeconds(b.started_at, b.complete_at))),
    ),
  );
  return table(['#', 'Result', 'State', 'Agent', 'Started', 'Duration'], rows, { class: 'data builds-table' });
}
