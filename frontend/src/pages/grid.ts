/**
 * `#/grid`: Buildbot's grid, the console turned sideways. One row per builder, one column per
 * change (newest first: revision, author, when; the comment on hover); each cell holds the builder's
 * builds of the change, coloured by result and linked to the build. Filtered by branch (columns)
 * and builder tags (rows) through the address (`#/grid?branch=main&tags=web`), live over /ws.
 */
import type { ConsoleAnswer } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { h, routeHref } from '../dom.ts';
import { formatTime } from '../format.ts';
import { consoleCell } from '../components/console-cell.ts';
import { buildsOn, consoleView, emptyText, summaryOf } from '../components/console-data.ts';

export function gridPage(ctx: PageContext, query: URLSearchParams): HTMLElement {
  return consoleView(ctx, query, { name: 'grid', title: 'Grid', render: gridTable });
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
