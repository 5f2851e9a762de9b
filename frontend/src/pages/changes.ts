/**
 * `#/changes`: the changes the master has stored, newest first, 50 a page, filtered by branch and
 * author (the filter lives in the URL: `#/changes?branch=main&author=ada`, so a filtered list can be
 * shared). Authors match by substring (`ada` finds `Ada <ada@example.org>`), branches exactly.
 * Each change lists the builds of the requests it started (`GET /changes/ID/buildrequests`).
 */
import type { Build, Change, ChangeBuildRequests, Page } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { h, replaceChildren, routeHref, table } from '../dom.ts';
import { isAbort } from '../api.ts';
import { resultBadge } from '../components/result-badge.ts';
import { formatTime } from '../format.ts';
import { pager } from '../components/pager.ts';
import { coalesced } from '../refresh.ts';

const PAGE_SIZE = 50;

export function changesPage(ctx: PageContext, query: URLSearchParams): HTMLElement {
  const branch = query.get('branch') ?? '';
  const author = query.get('author') ?? '';
  const body = h('div', null, h('p', { class: 'muted' }, 'loading…'));
  const branchInput = h('input', { type: 'text', name: 'branch', id: 'changes-branch', value: branch, autocomplete: 'off' });
  const authorInput = h('input', { type: 'text', name: 'author', id: 'changes-author', value: author, autocomplete: 'off' });
  const form = h(
    'form',
    { class: 'filter-form', id: 'changes-filter', role: 'search', 'aria-label': 'Filter changes' },
    h('label', { for: 'changes-branch' }, 'Branch'),
    branchInput,
    h('label', { for: 'changes-author' }, 'Author'),
    authorInput,
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const params = new URLSearchParams();
    if (branchInput.value.trim()) params.set('branch', branchInput.value.trim());
    if (authorInput.value.trim()) params.set('author', authorInput.value.trim());
    const qs = params.toString();
    ctx.navigate(qs ? `#/changes?${qs}` : '#/changes');
  });
  const root = h('section', { class: 'page page-changes' }, h('h1', null, 'Changes'), form, body);
  let offset = 0;

  const load = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<Page<'changes'>>(
        '/changes',
        { order: '-changeid', limit: PAGE_SIZE, offset, branch: branch || undefined, author__contains: author || undefined },
        ctx.scope.signal,
      );
      const cells = new Map(res.changes.map((c) => [c.changeid, h('td', { class: 'change-builds' }, h('span', { class: 'muted' }, '…'))]));
      replaceChildren(
        body,
        changesTable(res.changes, branch !== '' || author !== '', cells),
        res.meta.total > PAGE_SIZE
          ? pager(offset, PAGE_SIZE, res.meta.total, (o) => {
              offset = o;
              void load();
            })
          : null,
      );
      await loadBuilds(cells);
    } catch (e) {
      if (isAbort(e)) return;
      ctx.message.error(e, 'Could not load the changes');
      if (!body.querySelector('table')) replaceChildren(body, h('p', { class: 'error' }, 'The changes could not be loaded.'));
    }
  };
  /** Fills each change's Builds cell: the newest build of every request the change started. */
  const loadBuilds = async (cells: Map<number, HTMLElement>): Promise<void> => {
    const requestsOf = new Map<number, number[]>();
    await Promise.all(
      [...cells.keys()].map(async (changeid) => {
        const res = await ctx.api.get<ChangeBuildRequests>(`/changes/${changeid}/buildrequests`, undefined, ctx.scope.signal);
        requestsOf.set(changeid, res.buildrequestids);
      }),
    );
    const ids = [...new Set([...requestsOf.values()].flat())];
    // All their builds in one query, newest first: the first seen per request is its newest.
    const newest = new Map<number, Build>();
    if (ids.length > 0) {
      const builds = await ctx.api.get<Page<'builds'>>('/builds', { buildrequestid: ids.map(String), order: '-buildid' }, ctx.scope.signal);
      for (const b of builds.builds) if (!newest.has(b.buildrequestid)) newest.set(b.buildrequestid, b);
    }
    for (const [changeid, cell] of cells) replaceChildren(cell, buildLinks(requestsOf.get(changeid) ?? [], newest));
  };

  // A new change shows as the builds it starts: build.started is the event a change leaves.
  const reload = coalesced(ctx.scope, load);
  ctx.scope.add(ctx.live.onAny(['build.started'], reload));
  ctx.scope.add(ctx.live.onReconnect(reload));
  void load();
  return root;
}

/** One link per request the change started (`builder #N` and its result), or *queued* before its build starts. */
function buildLinks(requestids: number[], newest: ReadonlyMap<number, Build>): HTMLElement {
  if (requestids.length === 0) return h('span', { class: 'muted' }, 'none');
  return h(
    'ul',
    { class: 'change-build-list' },
    requestids.map((r) => {
      const b = newest.get(r);
      if (!b) return h('li', { class: 'muted' }, `request ${r} queued`);
      return h(
        'li',
        { class: 'change-build', 'data-buildid': b.buildid },
        h('a', { href: routeHref('builds', b.buildid) }, `${b.builder_name ?? `builder ${b.builderid}`} #${b.number}`),
        ' ',
        b.complete ? resultBadge(b.result) : h('span', { class: 'muted' }, 'running'),
      );
    }),
  );
}

function changesTable(changes: Change[], filtered: boolean, buildCells: ReadonlyMap<number, HTMLElement>): HTMLElement {
  if (changes.length === 0) return h('p', { class: 'muted empty' }, filtered ? 'No change matches the filter.' : 'No changes yet.');
  const rows = changes.map((c) =>
    h(
      'tr',
      { class: 'change-row', 'data-changeid': c.changeid },
      h('td', null, h('code', { class: 'revision', title: c.revision }, c.revision.slice(0, 12))),
      h('td', null, c.branch ?? ''),
      h('td', { class: 'wrap' }, c.comments.split('\n')[0] ?? ''),
      h('td', { class: 'wrap' }, c.author),
      h('td', { class: 'nowrap' }, formatTime(c.when_timestamp)),
      h('td', { class: 'num', title: c.files.slice(0, 50).join('\n') }, c.files.length),
      h('td', { class: 'wrap muted' }, c.repository),
      buildCells.get(c.changeid),
    ),
  );
  return table(['Revision', 'Branch', 'Comment', 'Author', 'When', 'Files', 'Repository', 'Builds'], rows, { class: 'data changes-table' });
}
