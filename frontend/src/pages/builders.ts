/**
 * `#/`: every builder with its last build, running count and average duration, from one request
 * (`GET /builders`) rendered at once. Reloads when a build starts or finishes, and on a reconfig.
 */
import type { Builder, Page } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { externalLink, h, replaceChildren, routeHref, table } from '../dom.ts';
import { resultBadge } from '../components/result-badge.ts';
import { coalesced } from '../refresh.ts';

export function buildersPage(ctx: PageContext): HTMLElement {
  const body = h('div', null, h('p', { class: 'muted' }, 'loading…'));
  const root = h('section', { class: 'page page-builders' }, h('h1', null, 'Builders'), body);

  const load = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<Page<'builders'>>('/builders', undefined, ctx.scope.signal);
      replaceChildren(body, buildersTable(res.builders));
    } catch (e) {
      ctx.message.error(e, 'Could not load the builders');
      if (!body.querySelector('table')) replaceChildren(body, h('p', { class: 'error' }, 'The builders could not be loaded.'));
    }
  };
  const reload = coalesced(ctx.scope, load);
  // A reconfig may have added or removed builders.
  ctx.scope.add(ctx.live.onAny(['build.started', 'build.finished', 'master.reconfigured'], reload));
  ctx.scope.add(ctx.live.onReconnect(reload));
  void load();
  return root;
}

function buildersTable(builders: Builder[]): HTMLElement {
  if (builders.length === 0) return h('p', { class: 'muted' }, 'No builders are configured.');
  const rows = builders.map((b) => {
    const last = b.last_build ?? null;
    return h(
      'tr',
      { 'data-builder': b.name },
      h('td', null, h('a', { href: routeHref('builders', b.name), class: 'builder-link' }, b.name)),
      h('td', { class: 'wrap' }, b.description ?? ''),
      h(
        'td',
        null,
        (b.tags ?? []).map((t) => h('span', { class: 'tag' }, t)),
      ),
      h(
        'td',
        null,
        last
          ? h('a', { href: routeHref('builds', last.buildid), class: 'build-link' }, `#${last.number} `, resultBadge(last.result))
          : h('span', { class: 'muted' }, 'none'),
      ),
      h('td', { class: 'num' }, b.running ? h('span', { class: 'badge result-running' }, String(b.running)) : '0'),
      h(
        'td',
        { class: 'num' },
        b.average_duration === null || b.average_duration === undefined ? '–' : `${b.average_duration.toFixed(1)} s`,
      ),
      h('td', null, externalLink(b.links?.grafana, 'Open in Grafana', 'grafana-link')),
    );
  });
  return table(['Builder', 'Description', 'Tags', 'Last build', 'Running', 'Avg duration', ''], rows, { class: 'data builders-table' });
}
