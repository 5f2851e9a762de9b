/**
 * `#/bisections/ID`: one bisection of a change point to its culprit commit (docs/metrics.md,
 * "Bisection"): its state and budget, the culprit (commit, author, subject) or why it ended without
 * one, and every commit it looked at in order: the two ends, then each middle commit with its
 * builds, the values they measured and the verdict (good or bad, and how it was decided).
 *
 * While running it follows the bisection live: it reloads on the build events of /ws, and, because
 * the bisector writes its verdicts and requests just *after* those events (and has none of its own),
 * also every few seconds until the bisection ends.
 */
import type { Bisection, BisectionDetail, BisectionStep } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { h, replaceChildren, routeHref, table } from '../dom.ts';
import { formatTime, formatValue } from '../format.ts';
import { resultBadge } from '../components/result-badge.ts';
import { coalesced } from '../refresh.ts';

/** How often a running bisection is read again without an event (see the header). */
const RUNNING_POLL_MS = 3000;

export function bisectionPage(ctx: PageContext, id: number): HTMLElement {
  const facts = h('div', null, h('p', { class: 'muted' }, 'loading…'));
  const stepsBox = h('div', null);
  const root = h(
    'section',
    { class: 'page page-bisection' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/metrics' }, 'Metrics'), ' / '),
    h('h1', null, `Bisection #${id}`),
    facts,
    h('section', null, h('h2', null, 'Steps'), stepsBox),
  );
  let running = true;
  const load = async (): Promise<void> => {
    try {
      const d = await ctx.api.get<BisectionDetail>(`/bisections/${id}`, {}, ctx.scope.signal);
      running = d.bisection.state === 'running';
      if (!running) clearInterval(poll);
      replaceChildren(facts, bisectionFacts(d.bisection));
      replaceChildren(stepsBox, stepsTable(d.steps));
    } catch (e) {
      ctx.message.error(e, `Bisection #${id}`);
    }
  };
  const reload = coalesced(ctx.scope, load);
  ctx.scope.add(
    ctx.live.onAny(['buildrequest.new', 'build.started', 'build.finished', 'buildrequest.complete'], () => running && reload()),
  );
  ctx.scope.add(ctx.live.onReconnect(reload));
  const poll = setInterval(() => running && reload(), RUNNING_POLL_MS);
  ctx.scope.add(() => clearInterval(poll));
  void load();
  return root;
}

const short = (sha: string) => sha.slice(0, 12);

function bisectionFacts(b: Bisection): HTMLElement {
  const fact = (term: string, ...value: (Node | string)[]) => [h('dt', null, term), h('dd', null, ...value)];
  const tags = Object.entries(b.tags).map(([k, v]) => `${k}=${v}`);
  const culprit = b.culprit;
  return h(
    'dl',
    { class: 'facts bisection-facts' },
    fact('State', h('span', { id: 'bisection-state', class: `badge bisection-${b.state}` }, b.state)),
    culprit
      ? fact(
          'Culprit',
          h('code', { id: 'bisection-culprit', title: culprit.revision }, short(culprit.revision)),
          ` ${culprit.subject ?? ''}`,
          h('br'),
          `by ${culprit.author ?? 'unknown'}${culprit.email ? ` <${culprit.email}>` : ''}`,
        )
      : null,
    b.reason ? fact('Why no culprit', h('span', { id: 'bisection-reason' }, b.reason)) : null,
    fact('Series', `${b.series}${tags.length ? ` (${tags.join(', ')})` : ''}`),
    fact('Builder', b.builder ? h('a', { href: routeHref('builders', b.builder) }, b.builder) : `builder ${b.builderid}`),
    fact(
      'Between',
      h('code', { title: b.good }, short(b.good)),
      ' (good) and ',
      h('code', { title: b.bad }, short(b.bad)),
      ` (bad): ${b.commits} commits`,
    ),
    fact('Builds requested', String(b.builds_requested)),
    fact('Started', formatTime(b.created_at), b.finished_at === null ? '' : `, finished ${formatTime(b.finished_at)}`),
  );
}

function stepsTable(steps: BisectionStep[]): HTMLElement {
  if (steps.length === 0) return h('p', { class: 'muted empty' }, 'No commit looked at yet.');
  const rows = steps.map((s) =>
    h(
      'tr',
      { 'data-revision': s.revision },
      h('td', null, h('code', { title: s.revision }, short(s.revision)), s.role === 'commit' ? '' : ` (${s.role} end)`),
      h('td', { class: 'num' }, s.position < 0 ? '' : String(s.position + 1)),
      h(
        'td',
        null,
        s.builds.map((b) =>
          h(
            'div',
            null,
            b.buildid === null
              ? h('span', { class: 'muted' }, 'queued')
              : h('a', { href: routeHref('builds', b.buildid) }, `build ${b.buildid}`),
            ' ',
            b.state === 'done' ? resultBadge(b.result) : h('span', { class: 'muted' }, 'pending'),
            b.buildrequestid === null ? h('span', { class: 'muted' }, ' (borrowed)') : '',
          ),
        ),
      ),
      h('td', { class: 'num' }, s.builds.flatMap((b) => b.samples.map((v) => formatValue(v))).join(', ')),
      h('td', { class: s.verdict ? `verdict-${s.verdict}` : 'muted' }, s.verdict ?? 'pending'),
      h('td', { class: 'muted' }, s.how ?? ''),
    ),
  );
  return table(['Commit', '#', 'Builds', 'Values', 'Verdict', 'How'], rows, { class: 'data bisection-steps' });
}
