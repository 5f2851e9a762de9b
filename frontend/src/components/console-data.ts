/**
 * What the console and the grid share: reading `GET /api/v2/console` with the address's filter
 * (branch, tags) and keeping it current. Requests arriving or ending and builds starting or finishing
 * are what change a cell, so each reloads the view (coalesced: a burst becomes one read).
 */
import type { ConsoleAnswer, ConsoleBuild, ConsoleChange } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { coalesced } from '../refresh.ts';
import { h, replaceChildren } from '../dom.ts';
import { isAbort } from '../api.ts';
import { pager } from './pager.ts';
import { viewFilter } from './view-filter.ts';

export const CONSOLE_PAGE_SIZE = 25;

export function readConsole(ctx: PageContext, query: URLSearchParams, offset: number): Promise<ConsoleAnswer> {
  return ctx.api.get<ConsoleAnswer>(
    '/console',
    {
      branch: query.get('branch') || undefined,
      tags: query.get('tags') || undefined,
      limit: CONSOLE_PAGE_SIZE,
      offset: offset || undefined,
    },
    ctx.scope.signal,
  );
}

/** Calls `load` again whenever what the view shows may have changed, and after a reconnect. */
export function followConsole(ctx: PageContext, load: () => Promise<void>): void {
  const reload = coalesced(ctx.scope, load);
  ctx.scope.add(ctx.live.onAny(['buildrequest.new', 'buildrequest.complete', 'build.started', 'build.finished'], reload));
  ctx.scope.add(ctx.live.onReconnect(reload));
}

/** A change's builds on one builder. */
export function buildsOn(change: ConsoleChange, builderid: number): ConsoleBuild[] {
  return change.builds.filter((b) => b.builderid === builderid);
}

/** The first line of a change's comment. */
export const summaryOf = (change: ConsoleChange): string => change.comments.split('\n')[0] ?? '';

/** "No change matches the filter." or "No changes yet.", and the builders' counterpart. */
export function emptyText(answer: ConsoleAnswer, query: URLSearchParams): string | null {
  if (answer.builders.length === 0) return query.get('tags') ? 'No builder has these tags.' : 'No builders configured.';
  if (answer.changes.length === 0) return query.get('branch') ? 'No change on this branch.' : 'No changes yet.';
  return null;
}

/**
 * The page both views are: a title, the filter, and a body showing `render`'s table of a page of the
 * console's answer, with a pager, reloaded live. `view` names the page (its id, class and messages).
 */
export function consoleView(
  ctx: PageContext,
  query: URLSearchParams,
  view: { name: 'console' | 'grid'; title: string; render: (answer: ConsoleAnswer, query: URLSearchParams) => HTMLElement },
): HTMLElement {
  const body = h('div', { id: `${view.name}-body` }, h('p', { class: 'muted' }, 'loading…'));
  const filter = viewFilter({ view: view.name, query, branch: true, hours: false, navigate: ctx.navigate });
  const root = h('section', { class: `page page-${view.name}` }, h('h1', null, view.title), filter, body);
  let offset = 0;

  const load = async (): Promise<void> => {
    try {
      const answer = await readConsole(ctx, query, offset);
      replaceChildren(
        body,
        view.render(answer, query),
        answer.meta.total > CONSOLE_PAGE_SIZE
          ? pager(offset, CONSOLE_PAGE_SIZE, answer.meta.total, (o) => {
              offset = o;
              void load();
            })
          : null,
      );
    } catch (e) {
      if (isAbort(e)) return;
      ctx.message.error(e, `Could not load the ${view.name}`);
      if (!body.querySelector('table')) replaceChildren(body, h('p', { class: 'error' }, `The ${view.name} could not be loaded.`));
    }
  };
  followConsole(ctx, load);
  void load();
  return root;
}
