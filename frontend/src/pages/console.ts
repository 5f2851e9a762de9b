/**
 * `#/console`: Buildbot's console. One row per change, newest first (revision, author, the comment's
 * first line, when), one column per builder; each cell holds that builder's builds of the change,
 * coloured by result and linked to the build. Filtered by branch (rows) and builder tags (columns)
 * through the address (`#/console?branch=main&tags=web`), live over /ws.
 */
import type { ConsoleAnswer } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { h, replaceChildren, routeHref, table } from '../dom.ts';
import { isAbort } from '../api.ts';
import { formatTime } from '../format.ts';
import { pager } from '../components/pager.ts';
import { viewFilter } from '../components/view-filter.ts';
import { consoleCell } from '../components/console-cell.ts';
import { CONSOLE_PAGE_SIZE, buildsOn, emptyText, followConsole, readConsole, summaryOf } from '../components/console-data.ts';

export function consolePage(ctx: PageContext, query: URLSearchParams): HTMLElement {
  const body = h('div', { id: 'console-body' }, h('p', { class: 'muted' }, 'loading…'));
  const filter = viewFilter({ view: 'console', query, branch: true, hours: false, navigate: ctx.navigate });
  const root = h('section', { class: 'page page-console' }, h('h1', null, 'Console'), filter, body);
  let offset = 0;

  const load = async (): Promise<void> => {
    try {
      const answer = await readConsole(ctx, query, offset);
      replaceChildren(
        body,
        consoleTable(answer, query),
        answer.meta.total > CONSOLE_PAGE_SIZE
          ? pager(offset, CONSOLE_PAGE_SIZE, answer.meta.total, (o) => {
              offset = o;
              void load();
            })
          : null,
      );
    } catch (e) {
      if (isAbort(e)) return;
      ctx.message.error(e, 'Could not load the console');
      if (!body.querySelector('table')) replaceChildren(body, h('p', { class: 'error' }, 'The console could not be loaded.'));
    }
  };
  followConsole(ctx, load);
  void load();
  return root;
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
