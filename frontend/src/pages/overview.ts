/**
 * `#/`: the team's daily screen. Five panels, each loading on its own so a slow one never holds the
 * others, and each reloading on the live events that change it:
 *   - running now: claimed, incomplete requests → their builds, each with its elapsed time (a one-second
 *     clock, no polling) and its current step (step events reload it);
 *   - latest builds across builders;
 *   - builders whose last finished build failed;
 *   - agents online and offline;
 *   - recent regressions: the values flagged `regression` in the latest finished builds
 *     (`GET /builds/ID/metrics`, the numbers the build page and the reporters show).
 */
import type { Build, BuildMetricsPage, Page, Step } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import type { LiveEventName } from '../live.ts';
import { h, replaceChildren, routeHref, table } from '../dom.ts';
import { formatDuration, formatTime, formatValue, spanSeconds } from '../format.ts';
import { resultBadge } from '../components/result-badge.ts';
import { coalesced } from '../refresh.ts';

/** How many finished builds are searched for regressions (one request each). */
const REGRESSION_BUILDS = 10;
const LATEST = 15;
const RUNNING_MAX = 30;

export function overviewPage(ctx: PageContext): HTMLElement {
  const root = h('section', { class: 'page page-overview' }, h('h1', null, 'Overview'));
  const grid = h('div', { class: 'overview-grid' });
  root.append(grid);
  panel(ctx, grid, 'running', 'Running now', ['build.started', 'build.finished', 'step.started', 'step.finished'], loadRunning);
  panel(ctx, grid, 'failing', 'Failing builders', ['build.finished', 'master.reconfigured'], loadFailing);
  panel(ctx, grid, 'agents', 'Agents', ['agent.connected', 'agent.disconnected', 'master.reconfigured'], loadAgents);
  panel(ctx, grid, 'regressions', 'Recent regressions', ['build.finished'], loadRegressions, 'wide');
  panel(ctx, grid, 'latest', 'Latest builds', ['build.started', 'build.finished'], loadLatest, 'wide');
  return root;
}

type Loader = (ctx: PageContext) => Promise<Node>;

/** A titled panel that shows what `load` makes, and makes it again on `events` and after a reconnect. */
function panel(ctx: PageContext, parent: HTMLElement, id: string, title: string, events: LiveEventName[], load: Loader, cls = ''): void {
  const body = h('div', { class: 'panel-body' }, h('p', { class: 'muted' }, 'loading…'));
  const headingId = `overview-${id}-title`;
  parent.append(
    h(
      'section',
      { class: `card overview-panel ${cls}`.trim(), id: `overview-${id}`, 'aria-labelledby': headingId },
      h('h2', { id: headingId }, title),
      body,
    ),
  );
  let loaded = false;
  const run = async (): Promise<void> => {
    try {
      const content = await load(ctx);
      if (!ctx.scope.disposed) replaceChildren(body, content);
      loaded = true;
    } catch (e) {
      if (ctx.scope.disposed) return;
      ctx.message.error(e, `Could not load "${title}"`);
      if (!loaded) replaceChildren(body, h('p', { class: 'error' }, `"${title}" could not be loaded.`));
    }
  };
  const reload = coalesced(ctx.scope, run);
  ctx.scope.add(ctx.live.onAny(events, reload));
  ctx.scope.add(ctx.live.onReconnect(reload));
  void run();
}

function buildLink(b: Pick<Build, 'buildid' | 'number' | 'builder_name'>): HTMLElement {
  return h('a', { href: routeHref('builds', b.buildid), class: 'build-link' }, `${b.builder_name ?? '(removed)'} #${b.number}`);
}

async function loadRunning(ctx: PageContext): Promise<Node> {
  const signal = ctx.scope.signal;
  // A request claimed and not complete has a build running (or just starting) somewhere.
  const requests = await ctx.api.get<Page<'buildrequests'>>(
    '/buildrequests',
    { complete: 'false', claimed_at__ge: 0, order: 'claimed_at', limit: RUNNING_MAX, field: 'buildrequestid' },
    signal,
  );
  const ids = requests.buildrequests.map((r) => String(r.buildrequestid));
  if (ids.length === 0) return h('p', { class: 'muted empty' }, 'No build is running.');
  const builds = (await ctx.api.get<Page<'builds'>>('/builds', { buildrequestid: ids, order: 'started_at' }, signal)).builds.filter(
    (b) => !b.complete,
  );
  if (builds.length === 0) return h('p', { class: 'muted empty' }, 'No build is running.');
  const steps = await Promise.all(builds.map((b) => ctx.api.get<Page<'steps'>>(`/builds/${b.buildid}/steps`, undefined, signal)));
  const rows = builds.map((b, i) => {
    const current = currentStep(steps[i]?.steps ?? []);
    const elapsed = h('td', { class: 'num elapsed', 'data-started': b.started_at }, formatDuration(spanSeconds(b.started_at, null)));
    return h(
      'tr',
      { 'data-buildid': b.buildid },
      h('td', null, buildLink(b)),
      h('td', { class: 'current-step' }, current ? current.name : h('span', { class: 'muted' }, 'starting')),
      elapsed,
      h('td', null, b.agent),
    );
  });
  const wrap = table(['Build', 'Current step', 'Elapsed', 'Agent'], rows, { class: 'data running-table' });
  tickElapsed(ctx, wrap);
  return wrap;
}

/** The step running now: the last started and not finished (steps run in order). */
function currentStep(steps: Step[]): Step | undefined {
  return steps.filter((s) => s.started_at !== null && !s.complete).at(-1);
}

/** Counts the elapsed times up once a second while the panel is shown: a display clock, not a poll. */
function tickElapsed(ctx: PageContext, within: HTMLElement): void {
  const timer = setInterval(() => {
    if (!within.isConnected) return clearInterval(timer);
    within.querySelectorAll<HTMLElement>('td.elapsed').forEach((td) => {
      td.textContent = formatDuration(spanSeconds(Number(td.dataset.started), null));
    });
  }, 1000);
  ctx.scope.add(() => clearInterval(timer));
}

async function loadLatest(ctx: PageContext): Promise<Node> {
  const res = await ctx.api.get<Page<'builds'>>('/builds', { order: '-buildid', limit: LATEST }, ctx.scope.signal);
  if (res.builds.length === 0) return h('p', { class: 'muted empty' }, 'No builds yet.');
  const rows = res.builds.map((b) =>
    h(
      'tr',
      { 'data-buildid': b.buildid },
      h('td', null, buildLink(b)),
      h('td', null, resultBadge(b.result)),
      h('td', null, b.agent),
      h('td', { class: 'nowrap' }, formatTime(b.started_at)),
      b.complete
        ? h('td', { class: 'num' }, formatDuration(spanSeconds(b.started_at, b.complete_at)))
        : h('td', { class: 'num elapsed', 'data-started': b.started_at }, formatDuration(spanSeconds(b.started_at, null))),
    ),
  );
  const wrap = table(['Build', 'Result', 'Agent', 'Started', 'Duration'], rows, { class: 'data latest-table' });
  tickElapsed(ctx, wrap);
  return wrap;
}

async function loadFailing(ctx: PageContext): Promise<Node> {
  const res = await ctx.api.get<Page<'builders'>>('/builders', undefined, ctx.scope.signal);
  const failing = res.builders.filter(
    (b) => b.last_build && b.last_build.complete_at !== null && (b.last_build.result === 'failure' || b.last_build.result === 'exception'),
  );
  if (failing.length === 0) return h('p', { class: 'muted empty all-good' }, 'No builder’s last build failed.');
  return h(
    'ul',
    { class: 'plain-list failing-list' },
    failing.map((b) =>
      h(
        'li',
        { 'data-builder': b.name },
        h('a', { href: routeHref('builders', b.name) }, b.name),
        ' ',
        b.last_build ? h('a', { href: routeHref('builds', b.last_build.buildid) }, `#${b.last_build.number}`) : null,
        ' ',
        resultBadge(b.last_build?.result),
        ' ',
        h('span', { class: 'muted' }, formatTime(b.last_build?.complete_at)),
      ),
    ),
  );
}

async function loadAgents(ctx: PageContext): Promise<Node> {
  const res = await ctx.api.get<Page<'agents'>>('/agents', undefined, ctx.scope.signal);
  if (res.agents.length === 0) return h('p', { class: 'muted empty' }, 'No agents are configured.');
  const online = res.agents.filter((a) => a.connected).length;
  return h(
    'div',
    null,
    h('p', { class: 'agent-counts' }, `${online} online, ${res.agents.length - online} offline`),
    h(
      'ul',
      { class: 'plain-list agent-list' },
      res.agents.map((a) =>
        h(
          'li',
          { 'data-agent': a.name },
          h('a', { href: routeHref('agents', a.name) }, a.name),
          ' ',
          h('span', { class: a.connected ? 'badge agent-connected' : 'badge agent-disconnected' }, a.connected ? 'online' : 'offline'),
          a.connected ? h('span', { class: 'muted' }, ` ${a.running_builds} / ${a.maxBuilds} running`) : null,
        ),
      ),
    ),
  );
}

async function loadRegressions(ctx: PageContext): Promise<Node> {
  const signal = ctx.scope.signal;
  const res = await ctx.api.get<Page<'builds'>>('/builds', { complete_at__gt: 0, order: '-complete_at', limit: REGRESSION_BUILDS }, signal);
  const pages = await Promise.all(res.builds.map((b) => ctx.api.get<BuildMetricsPage>(`/builds/${b.buildid}/metrics`, undefined, signal)));
  const rows = res.builds.flatMap((b, i) =>
    (pages[i]?.metrics ?? [])
      .filter((m) => m.flag === 'regression')
      .map((m) =>
        h(
          'tr',
          { 'data-series': m.series, 'data-buildid': b.buildid },
          h('td', null, buildLink(b)),
          h('td', { class: 'metric-series' }, m.series, m.tags.step ? h('span', { class: 'muted' }, ` (${m.tags.step})`) : null),
          h('td', { class: 'num' }, formatValue(m.value, m.unit)),
          h('td', { class: 'num' }, m.baseline ? formatValue(m.baseline.median, m.unit) : '–'),
          h(
            'td',
            { class: 'num score-high' },
            m.delta_percent === null ? '–' : `${m.delta_percent > 0 ? '+' : ''}${m.delta_percent.toFixed(1)} %`,
          ),
        ),
      ),
  );
  if (rows.length === 0)
    return h(
      'p',
      { class: 'muted empty' },
      `No regression in the last ${res.builds.length} finished build${res.builds.length === 1 ? '' : 's'}.`,
    );
  return table(['Build', 'Series', 'Value', 'Baseline', 'Delta'], rows, { class: 'data regressions-table' });
}
