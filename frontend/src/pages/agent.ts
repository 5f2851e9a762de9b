/**
 * `#/agents/NAME`: one agent: connected or offline, what it announced, when it last connected, and
 * its builds (newest first, 50 a page). The API keeps the last connection only, not a history.
 * Reloads when the agent connects or disconnects and when a build starts or finishes.
 */
import type { Agent, Page } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { h, replaceChildren, routeHref, table } from '../dom.ts';
import { formatDuration, formatTime, spanSeconds } from '../format.ts';
import { resultBadge } from '../components/result-badge.ts';
import { pager } from '../components/pager.ts';
import { coalesced } from '../refresh.ts';

const PAGE_SIZE = 50;

export function agentPage(ctx: PageContext, name: string): HTMLElement {
  const info = h('div', { class: 'agent-info' }, h('p', { class: 'muted' }, 'loading…'));
  const buildsBox = h('div', null, h('p', { class: 'muted' }, 'loading…'));
  const root = h(
    'section',
    { class: 'page page-agent' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/agents' }, 'Agents'), ' / '),
    h('h1', null, name),
    info,
    h('section', null, h('h2', null, 'Builds'), buildsBox),
  );
  let offset = 0;

  const loadInfo = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<Page<'agents'>>('/agents', { name }, ctx.scope.signal);
      const agent = res.agents[0];
      replaceChildren(
        info,
        agent ? agentFacts(agent) : h('p', { class: 'error' }, `There is no agent named "${name}" in the configuration.`),
      );
    } catch (e) {
      ctx.message.error(e, `Agent "${name}"`);
    }
  };
  const loadBuilds = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<Page<'builds'>>(
        '/builds',
        { agent: name, order: '-buildid', limit: PAGE_SIZE, offset },
        ctx.scope.signal,
      );
      const rows = res.builds.map((b) =>
        h(
          'tr',
          { 'data-buildid': b.buildid },
          h(
            'td',
            null,
            h('a', { href: routeHref('builds', b.buildid), class: 'build-link' }, `${b.builder_name ?? '(removed)'} #${b.number}`),
          ),
          h('td', null, resultBadge(b.result)),
          h('td', { class: 'nowrap' }, formatTime(b.started_at)),
          h('td', { class: 'num' }, formatDuration(spanSeconds(b.started_at, b.complete_at))),
        ),
      );
      replaceChildren(
        buildsBox,
        rows.length === 0
          ? h('p', { class: 'muted empty' }, 'This agent has run no build yet.')
          : table(['Build', 'Result', 'Started', 'Duration'], rows, { class: 'data agent-builds' }),
        res.meta.total > PAGE_SIZE
          ? pager(offset, PAGE_SIZE, res.meta.total, (o) => {
              offset = o;
              void loadBuilds();
            })
          : null,
      );
    } catch (e) {
      ctx.message.error(e, `Builds of agent "${name}"`);
    }
  };
  const reloadInfo = coalesced(ctx.scope, loadInfo);
  const reloadBuilds = coalesced(ctx.scope, loadBuilds);
  ctx.scope.add(
    ctx.live.onAny(['agent.connected', 'agent.disconnected', 'master.reconfigured', 'build.started', 'build.finished'], reloadInfo),
  );
  ctx.scope.add(ctx.live.onAny(['build.started', 'build.finished'], reloadBuilds));
  ctx.scope.add(ctx.live.onReconnect(() => (reloadInfo(), reloadBuilds())));
  void loadInfo();
  void loadBuilds();
  return root;
}

function agentFacts(a: Agent): HTMLElement {
  const fact = (term: string, value: Node | string) => [h('dt', null, term), h('dd', null, value)];
  return h(
    'dl',
    { class: 'facts agent-facts' },
    fact(
      'Status',
      h(
        'span',
        { id: 'agent-status', class: a.connected ? 'badge agent-connected' : 'badge agent-disconnected' },
        a.connected ? 'connected' : 'offline',
      ),
    ),
    fact('Builds running', `${a.running_builds} / ${a.maxBuilds}`),
    fact('Labels', a.labels.length ? a.labels.join(', ') : 'none'),
    fact('Last connected', a.last_connected_at === null ? 'never' : formatTime(a.last_connected_at)),
    a.info ? fact('Announced', `${a.info.os}, version ${a.info.version}, capacity ${a.info.capacity}`) : null,
  );
}
