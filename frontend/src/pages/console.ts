/**
 * `#/console`: Buildbot's console. One row per change, newest first (revision, author, the comment's
 * first line, when), one column per builder; each cell holds that builder's builds of the change,
 * coloured by result and linked to the build. Filtered by branch (rows) and builder tags (columns)
 * through the address (`#/console?branch=main&tags=web`), live over /ws.
 */
import type { ConsoleAnswer } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { h, routeHref, table } from '../dom.ts';
import { formatTime } from '../format.ts';
import { consoleCell } from '../components/console-cell.ts';
import { buildsOn, consoleView, emptyText, summaryOf } from '../components/console-data.ts';

export function consolePage(ctx: PageContext, query: URLSearchParams): HTMLElement {
  return consoleView(ctx, query, { name: 'console', title: 'Console', render: consoleTable });
}

function consoleTable(answer: ConsoleAnswer, query: URLSearchParams): HTMLElement {
  const empty = emptyText(answer, query);
  if (empty) return h('p', { class: 'muted empty' }, empty);
  const rows = answer.changes.map((c) =>
    h(
      'tr',
      { class: 'console-row', 'data-changeid': c.changeid },
      h(
        'th',
        { scope: 'row', class: 'console-change' },
        h('code', { class: 'revision', title: c.revision }, c.revision.slice(0, 12)),
        c.branch ? h('span', { class: 'tag' }, c.branch) : null,
      ),
      h('td', { class: 'wrap' }, c.author),
      h('td', { class: 'wrap console-comment' }, summaryOf(c)),
      h('td', { class: 'nowrap' }, formatTime(c.when_timestamp)),
      answer.builders.map((b) => consoleCell(buildsOn(c, b.builderid), b.name)),
    ),
  );
  const wrap = table(['Revision', 'Author', 'Comment', 'When'], rows, { class: 'data console-table', id: 'console-table' });
  // The builders' headers link to their pages (table() makes text headers only).
  const head = wrap.querySelector('thead tr');
  head?.append(
    ...answer.builders.map((b) =>
      h('th', { class: 'console-builder', scope: 'col' }, h('a', { href: routeHref('builders', b.name) }, b.name)),
    ),
  );
  return wrap;
}
