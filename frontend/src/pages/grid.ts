/**
 * `#/grid`: Buildbot's grid, the console turned sideways. One row per builder, one column per
 * change (newest first: revision, author, when; the comment on hover); each cell holds the builder's
 * builds of the change, coloured by result and linked to the build. Filtered by branch (columns)
 * and builder tags (rows) through the address (`#/grid?branch=main&tags=web`), live over /ws.
 */
import type { ConsoleAnswer } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { h, replaceChildren, routeHref } from '../dom.ts';
import { isAbort } from '../api.ts';
import { formatTime } from '../format.ts';
import { pager } from '../components/pager.ts';
import { viewFilter } from '../components/view-filter.ts';
import { consoleCell } from '../components/console-cell.ts';
import { CONSOLE_PAGE_SIZE, buildsOn, emptyText, followConsole, readConsole, summaryOf } from '../components/console-data.ts';

export function gridPage(ctx: PageContext, query: URLSearchParams): HTMLElement {
  const body = h('div', { id: 'grid-body' }, h('p', { class: 'muted' }, 'loading…'));
  const filter = viewFilter({ view: 'grid', query, branch: true, hours: false, navigate: ctx.navigate });
  const root = h('section', { class: 'page page-grid' }, h('h1', null, 'Grid'), filter, body);
  let offset = 0;

  const load = async (): Promise<void> => {
    try {
      const answer = await readConsole(ctx, query, offset);
      replaceChildren(
        body,
        gridTable(answer, query),
        answer.meta.total > CONSOLE_PAGE_SIZE
          ? pager(offset, CONSOLE_PAGE_SIZE, answer.meta.total, (o) => {
              offset = o;
              void load();
            })
          : null,
      );
    } catch (e) {
      if (isAbort(e)) return;
      ctx.message.error(e, 'Could not load the grid');
      if (!body.querySelector('table')) replaceChildren(body, h('p', { class: 'error' }, 'The grid could not be loaded.'));
    }
  };
  followConsole(ctx, load);
  void load();
  return root;
}

function gridTable(answer: ConsoleAnswer, query: URLSearchParams): HTMLElement {
  const empty = emptyText(answer, query);
  if (empty) return h('p', { class: 'muted empty' }, empty);
  const head = h(
    'tr',
    null,
    h('th', { scope: 'col' }, 'Builder'),
    answer.changes.map((c) =>
      h(
        'th',
        { scope: 'col', class: 'grid-change', 'data-changeid': c.changeid, title: summaryOf(c) },
        h('code', { class: 'revision', title: c.revision }, c.revision.slice(0, 8)),
        h('span', { class: 'grid-change-meta' }, c.author.replace(/\s*<[^>]*>$/, '')),
        h('span', { class: 'grid-change-meta muted' }, formatTime(c.when_timestamp)),
      ),
    ),
  );
  const rows = answer.builders.map((b) =>
    h(
      'tr',
      { class: 'grid-row', 'data-builder': b.name },
      h('th', { scope: 'row' }, h('a', { href: routeHref('builders', b.name) }, b.name)),
      answer.changes.map((c) => consoleCell(buildsOn(c, b.builderid), b.name)),
    ),
  );
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'data grid-table', id: 'grid-table' }, h('thead', null, head), h('tbody', null, rows)),
  );
}
