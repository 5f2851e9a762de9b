/**
 * `#/compare/A/B`: two builds side by side, A the one looked at and B the base it is compared with
 * (`#/compare/A/previous`: the latest successful build of A's builder before A). Every step's result
 * and duration, and every value either build measured, with the delta A − B and its percentage.
 * Steps are matched by name (a step that only one build ran shows an empty side), values by series
 * and step. Reloads when either build changes (a running build's steps finish one by one).
 */
import type { Build, BuildMetric, BuildMetricsPage, Page, Step } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { ApiError } from '../api.ts';
import { h, replaceChildren, routeHref, table } from '../dom.ts';
import { formatDuration, formatValue, spanSeconds } from '../format.ts';
import { resultBadge } from '../components/result-badge.ts';
import { coalesced } from '../refresh.ts';

interface Side {
  build: Build;
  steps: Step[];
  metrics: BuildMetric[];
}

export function comparePage(ctx: PageContext, buildid: number, other: number | 'previous'): HTMLElement {
  const head = h('div', { class: 'compare-head' });
  const body = h('div', null, h('p', { class: 'muted' }, 'loading…'));
  const root = h('section', { class: 'page page-compare' }, h('h1', null, 'Compare builds'), head, pickForm(ctx, buildid, other), body);
  let shown: [number, number] | null = null;

  const load = async (): Promise<void> => {
    try {
      const a = await side(ctx, buildid);
      const baseId = other === 'previous' ? await previousSuccess(ctx, a.build) : other;
      if (baseId === null) {
        replaceChildren(head, buildTitle('A', a.build));
        replaceChildren(
          body,
          h(
            'p',
            { class: 'muted empty' },
            `${a.build.builder_name ?? 'This builder'} has no successful build before #${a.build.number} to compare with.`,
          ),
        );
        return;
      }
      const b = await side(ctx, baseId);
      shown = [a.build.buildid, b.build.buildid];
      replaceChildren(
        head,
        h('ul', { class: 'plain-list compare-builds' }, h('li', null, buildTitle('A', a.build)), h('li', null, buildTitle('B', b.build))),
      );
      replaceChildren(
        body,
        h('section', null, h('h2', null, 'Steps'), stepsTable(a, b)),
        h('section', null, h('h2', null, 'Measured values'), valuesTable(a, b)),
      );
    } catch (e) {
      if (ctx.scope.disposed) return;
      const text = e instanceof ApiError && e.status === 404 ? `No such build: ${e.message}` : 'The builds could not be loaded.';
      replaceChildren(body, h('p', { class: 'error' }, text));
      ctx.message.error(e, 'Compare builds');
    }
  };
  const reload = coalesced(ctx.scope, load);
  const mine = (id: number) => shown === null || shown.includes(id);
  ctx.scope.add(ctx.live.on('step.finished', (d) => mine(d.buildid) && reload()));
  ctx.scope.add(ctx.live.on('build.finished', (d) => mine(d.buildid) && reload()));
  ctx.scope.add(ctx.live.onReconnect(reload));
  void load();
  return root;
}

async function side(ctx: PageContext, buildid: number): Promise<Side> {
  const signal = ctx.scope.signal;
  const [builds, steps, metrics] = await Promise.all([
    ctx.api.get<Page<'builds'>>(`/builds/${buildid}`, undefined, signal),
    ctx.api.get<Page<'steps'>>(`/builds/${buildid}/steps`, undefined, signal),
    ctx.api.get<BuildMetricsPage>(`/builds/${buildid}/metrics`, undefined, signal),
  ]);
  const build = builds.builds[0];
  if (!build) throw new ApiError(404, 'NOT_FOUND', `build ${buildid}`);
  return { build, steps: steps.steps, metrics: metrics.metrics };
}

/** The latest successful build of the builder numbered before `build`, or null. */
async function previousSuccess(ctx: PageContext, build: Build): Promise<number | null> {
  const res = await ctx.api.get<Page<'builds'>>(
    '/builds',
    { builderid: build.builderid, results: 0, number__lt: build.number, order: '-number', limit: 1 },
    ctx.scope.signal,
  );
  return res.builds[0]?.buildid ?? null;
}

function buildTitle(label: string, b: Build): HTMLElement {
  return h(
    'span',
    { class: 'compare-build', 'data-side': label },
    h('strong', null, `${label}: `),
    h('a', { href: routeHref('builds', b.buildid) }, `${b.builder_name ?? `builder ${b.builderid}`} #${b.number}`),
    ' ',
    resultBadge(b.result),
    ' ',
    h('span', { class: 'muted' }, formatDuration(spanSeconds(b.started_at, b.complete_at))),
  );
}

/** A form to compare A with another build by id, or with its builder's previous successful build. */
function pickForm(ctx: PageContext, buildid: number, other: number | 'previous'): HTMLElement {
  const input = h('input', {
    type: 'text',
    inputmode: 'numeric',
    id: 'compare-other',
    name: 'other',
    value: other === 'previous' ? '' : other,
    placeholder: 'previous successful',
    autocomplete: 'off',
  });
  const form = h(
    'form',
    { class: 'filter-form', id: 'compare-form' },
    h('label', { for: 'compare-other' }, `Compare build ${buildid} with build id`),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Compare'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = input.value.trim();
    if (v !== '' && !/^\d{1,12}$/.test(v)) {
      ctx.message.error(
        new Error(`"${v}" is not a build id (a whole number); leave it empty for the previous successful build`),
        'Compare',
      );
      return;
    }
    ctx.navigate(`#/compare/${buildid}/${v === '' ? 'previous' : v}`);
  });
  return form;
}

const stepSeconds = (s: Step | undefined) => (s ? spanSeconds(s.started_at, s.complete_at) : null);

function stepsTable(a: Side, b: Side): HTMLElement {
  // Steps in A's order, then those only B ran, in B's order.
  const names = [...new Set([...a.steps.map((s) => s.name), ...b.steps.map((s) => s.name)])];
  const byName = (steps: Step[]) => new Map(steps.map((s) => [s.name, s]));
  const sa = byName(a.steps);
  const sb = byName(b.steps);
  const rows = names.map((name) => {
    const x = sa.get(name);
    const y = sb.get(name);
    const dx = stepSeconds(x);
    const dy = stepSeconds(y);
    return h(
      'tr',
      { 'data-step': name },
      h('th', { scope: 'row' }, name),
      h('td', null, x ? resultBadge(x.result) : '–'),
      h('td', { class: 'num' }, formatDuration(dx) || '–'),
      h('td', null, y ? resultBadge(y.result) : '–'),
      h('td', { class: 'num' }, formatDuration(dy) || '–'),
      deltaCells(dx, dy, (d) => `${d > 0 ? '+' : '-'}${formatDuration(Math.abs(d))}`, 'higher'),
    );
  });
  return table(['Step', 'A result', 'A duration', 'B result', 'B duration', 'Δ', 'Δ %'], rows, { class: 'data compare-steps' });
}

function valuesTable(a: Side, b: Side): HTMLElement {
  const key = (m: BuildMetric) => `${m.series}\u0000${m.tags.step ?? ''}`;
  const ma = new Map(a.metrics.map((m) => [key(m), m]));
  const mb = new Map(b.metrics.map((m) => [key(m), m]));
  const keys = [...new Set([...ma.keys(), ...mb.keys()])];
  if (keys.length === 0) return h('p', { class: 'muted empty' }, 'Neither build measured a value.');
  const rows = keys.map((k) => {
    const x = ma.get(k);
    const y = mb.get(k);
    const m = (x ?? y) as BuildMetric;
    const unit = m.unit;
    return h(
      'tr',
      { 'data-series': m.series, 'data-step': m.tags.step ?? '' },
      h('th', { scope: 'row', class: 'metric-series' }, m.series, m.tags.step ? h('span', { class: 'muted' }, ` (${m.tags.step})`) : null),
      h('td', { class: 'num' }, x ? formatValue(x.value, unit) : '–'),
      h('td', { class: 'num' }, y ? formatValue(y.value, unit) : '–'),
      deltaCells(x?.value ?? null, y?.value ?? null, (d) => `${d > 0 ? '+' : ''}${formatValue(d, unit)}`, worseWhen(m.kind)),
    );
  });
  return table(['Series', 'A', 'B', 'Δ', 'Δ %'], rows, { class: 'data compare-values' });
}

/**
 * Which way a value of this kind gets worse: the master's rule for regression flags
 * (master/reporters/metric-deltas.ts): a ratio (coverage, hit rate) when it drops, anything else when it
 * grows. A series of no known kind gets no colour.
 */
function worseWhen(kind: string | null): 'higher' | 'lower' | null {
  if (kind === null) return null;
  return kind === 'ratio' ? 'lower' : 'higher';
}

/** The delta A − B and its percentage of B; red when A is worse, green when better (words in the title). */
function deltaCells(a: number | null, b: number | null, show: (d: number) => string, worse: 'higher' | 'lower' | null): HTMLElement[] {
  if (a === null || b === null) return [h('td', { class: 'num' }, '–'), h('td', { class: 'num' }, '–')];
  const d = a - b;
  const pct = b === 0 ? null : (d / Math.abs(b)) * 100;
  const isWorse = worse === 'higher' ? d > 0 : d < 0;
  const cls = worse === null || d === 0 ? 'num delta' : isWorse ? 'num delta score-high worse' : 'num delta score-low better';
  return [
    h('td', { class: cls }, d === 0 ? '0' : show(d)),
    h('td', { class: cls }, pct === null ? '–' : `${pct > 0 ? '+' : ''}${pct.toFixed(1)} %`),
  ];
}
