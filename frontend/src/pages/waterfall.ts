/**
 * `#/waterfall`: a timeline of the last hours (1 hour to 7 days, from the address: `#/waterfall?hours=24`),
 * one lane per builder (filtered by builder tags), each build a bar from its start to its end coloured
 * by its result and linked to it. The window ends now: a running build's bar grows and the window
 * slides once a second (a display clock, not a poll); builds starting and finishing reload it over /ws.
 * Times are placed on the master's clock (the answer's `meta.to`), so a browser whose clock is off
 * still draws the bars where they belong.
 */
import type { TimelineBuild, WaterfallAnswer } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { h, replaceChildren, routeHref } from '../dom.ts';
import { isAbort } from '../api.ts';
import { coalesced } from '../refresh.ts';
import { formatDuration, formatTime } from '../format.ts';
import { viewFilter, hoursOf } from '../components/view-filter.ts';
import { resultLabel } from '../components/result-badge.ts';

/** The axis' labels: this many intervals across the window. */
const TICKS = 4;

export function waterfallPage(ctx: PageContext, query: URLSearchParams): HTMLElement {
  const hours = hoursOf(query);
  const body = h('div', { id: 'waterfall-body' }, h('p', { class: 'muted' }, 'loading…'));
  const filter = viewFilter({ view: 'waterfall', query, branch: false, hours: true, navigate: ctx.navigate });
  const root = h('section', { class: 'page page-waterfall' }, h('h1', null, 'Waterfall'), filter, body);
  /** The master's clock minus this browser's, in seconds, from the last answer. */
  let skew = 0;
  const now = () => Date.now() / 1000 + skew;

  const load = async (): Promise<void> => {
    try {
      const answer = await ctx.api.get<WaterfallAnswer>('/waterfall', { hours, tags: query.get('tags') || undefined }, ctx.scope.signal);
      skew = answer.meta.to - Date.now() / 1000;
      replaceChildren(body, timeline(answer, query));
      layout(body, hours, now());
    } catch (e) {
      if (isAbort(e)) return;
      ctx.message.error(e, 'Could not load the waterfall');
      if (!body.querySelector('.waterfall')) replaceChildren(body, h('p', { class: 'error' }, 'The waterfall could not be loaded.'));
    }
  };
  const timer = setInterval(() => layout(body, hours, now()), 1000);
  ctx.scope.add(() => clearInterval(timer));
  const reload = coalesced(ctx.scope, load);
  ctx.scope.add(ctx.live.onAny(['build.started', 'build.finished'], reload));
  ctx.scope.add(ctx.live.onReconnect(reload));
  void load();
  return root;
}

function timeline(answer: WaterfallAnswer, query: URLSearchParams): HTMLElement {
  if (answer.builders.length === 0)
    return h('p', { class: 'muted empty' }, query.get('tags') ? 'No builder has these tags.' : 'No builders configured.');
  const lanes = answer.builders.map((b) =>
    h(
      'li',
      { class: 'wf-lane', 'data-builder': b.name },
      h('a', { class: 'wf-name', href: routeHref('builders', b.name) }, b.name),
      h(
        'div',
        { class: 'wf-track' },
        answer.builds.filter((x) => x.builderid === b.builderid).map((x) => bar(x, b.name)),
      ),
    ),
  );
  const axis = h(
    'div',
    { class: 'wf-axis', 'aria-hidden': 'true' },
    h('span', { class: 'wf-name' }),
    h(
      'div',
      { class: 'wf-track' },
      Array.from({ length: TICKS + 1 }, (_, i) => h('span', { class: 'wf-tick', 'data-tick': i })),
    ),
  );
  const more =
    answer.meta.total > answer.builds.length
      ? h('p', { class: 'muted' }, `Showing the newest ${answer.builds.length} of ${answer.meta.total} builds in this window.`)
      : null;
  return h('div', { class: 'waterfall' }, axis, h('ul', { class: 'wf-lanes', 'aria-label': 'Builds per builder' }, lanes), more);
}

function bar(b: TimelineBuild, builder: string): HTMLElement {
  const state = b.complete ? resultLabel(b.result) : 'running';
  const took = b.complete_at !== null ? `, took ${formatDuration(b.complete_at - b.started_at)}` : '';
  const label = `${builder} #${b.number}: ${state}, started ${formatTime(b.started_at)}${took}`;
  return h(
    'a',
    {
      class: `wf-bar ${b.complete ? `result-${b.result ?? 'unknown'}` : 'result-running'}`,
      href: routeHref('builds', b.buildid),
      'data-buildid': b.buildid,
      'data-start': b.started_at,
      'data-end': b.complete_at ?? '',
      'aria-label': label,
      title: label,
    },
    h('span', { class: 'wf-bar-text' }, `#${b.number}`),
  );
}

/** Places every bar and axis label for a window of `hours` ending at `end` (epoch seconds). */
function layout(within: HTMLElement, hours: number, end: number): void {
  const span = hours * 3600;
  const from = end - span;
  const pct = (t: number) => `${(Math.min(Math.max(t - from, 0), span) / span) * 100}%`;
  within.querySelectorAll<HTMLElement>('.wf-bar').forEach((el) => {
    const start = Number(el.dataset.start);
    const stop = el.dataset.end ? Number(el.dataset.end) : end;
    // At least a sliver: a build of a few seconds in a week-long window still shows (and takes a
    // click), kept inside the track when it ends now.
    el.style.left = `min(${pct(start)}, calc(100% - 4px))`;
    el.style.width = `max(4px, calc(${pct(stop)} - ${pct(start)}))`;
  });
  within.querySelectorAll<HTMLElement>('.wf-tick').forEach((el) => {
    const i = Number(el.dataset.tick);
    const t = from + (span * i) / TICKS;
    el.style.left = `${(i / TICKS) * 100}%`;
    el.textContent =
      i === TICKS
        ? 'now'
        : new Date(t * 1000).toLocaleString(
            undefined,
            hours > 24 ? { weekday: 'short', hour: '2-digit', minute: '2-digit' } : { hour: '2-digit', minute: '2-digit' },
          );
  });
}
