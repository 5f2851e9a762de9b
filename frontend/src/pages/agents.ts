/**
 * `#/agents`: every configured agent, connected or not, with what it announced. Reloads when an agent
 * connects or disconnects, and when a build starts or finishes (its running count changes).
 */
import type { Agent, Page } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { h, replaceChildren, routeHref, table } from '../dom.ts';
import { formatTime } from '../format.ts';
import { coalesced } from '../refresh.ts';

export function agentsPage(ctx: PageContext): HTMLElement {
  const body = h('div', null, h('p', { class: 'muted' }, 'loading…'));
  const root = h('section', { class: 'page page-agents' }, h('h1', null, 'Agents'), body);

  const load = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<Page<'agents'>>('/agents', undefined, ctx.scope.signal);
      replaceChildren(body, agentsTable(res.agents));
    } catch (e) {
      ctx.message.error(e, 'Could not load the agents');
      if (!body.querySelector('table')) replaceChildren(body, h('p', { class: 'error' }, 'The agents could not be loaded.'));
    }
  };
  const reload = coalesced(ctx.scope, load);
  ctx.scope.add(
    ctx.live.onAny(['agent.connected', 'agent.disconnected', 'build.started', 'build.finished', 'master.reconfigured'], reload),
  );
  ctx.scope.add(ctx.live.onReconnect(reload));
  void load();
  return root;
}

function agentsTable(agents: Agent[]): HTMLElement {
  if (agents.length === 0) return h('p', { class: 'muted' }, 'No agents are configured.');
  const rows = agents.map((a) =>
    h(
      'tr',
      { 'data-agent': a.name },
      h('td', null, h('a', { href: routeHref('agents', a.name), class: 'agent-link' }, a.name)),
      h(
        'td',
        null,
        h('span', { class: a.connected ? 'badge agent-connected' : 'badge agent-disconnected' }, a.connected ? 'connected' : 'offline'),
      ),
      h(
        'td',
        null,
        (a.labels ?? []).map((l) => h('span', { class: 'tag' }, l)),
      ),
      h('td', { class: 'num' }, `${a.running_builds ?? 0} / ${a.maxBuilds}`),
      h('td', null, a.info?.os ?? ''),
      h('td', null, a.info?.version ?? ''),
      h('td', { class: 'nowrap' }, formatTime(a.last_connected_at)),
    ),
  );
  return table(['Agent', 'Status', 'Labels', 'Builds', 'OS', 'Version', 'Last connected'], rows, { class: 'data agents-table' });
}
