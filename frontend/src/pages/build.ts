/**
 * `#/builds/ID`: the build's result and actions (stop while running, rebuild when done), its
 * properties, measured values and steps. Reloads on step and build events of this build.
 */
import type {
  Build,
  Builder,
  BuildMetric,
  BuildMetricsPage,
  BuildRequest,
  Buildset,
  MetricSeriesPage,
  Page,
  RequestSubmitted,
} from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { ApiError, isAbort } from '../api.ts';
import { externalLink, h, replaceChildren, routeHref } from '../dom.ts';
import { formatDuration, formatTime, formatValue, spanSeconds } from '../format.ts';
import { resultBadge } from '../components/result-badge.ts';
import { propertiesTable } from '../components/properties-table.ts';
import { metricValues } from '../components/metric-values.ts';
import { changesList } from '../components/changes-list.ts';
import { triggeredList, type TriggeredItem } from '../components/triggered-list.ts';
import { tryCommand } from '../components/try-command.ts';
import { coalesced } from '../refresh.ts';
import { waitForBuild } from '../wait-for-build.ts';
import { StepView } from './build-step.ts';
import { may, notAllowed } from '../session.ts';

export function buildPage(ctx: PageContext, buildid: number): HTMLElement {
  const head = h('div', { class: 'build-head' }, h('p', { class: 'muted' }, 'loading…'));
  const propsBox = h('div');
  const metricsBox = h('div');
  const changesBox = h('section', { class: 'build-changes', hidden: true }, h('h2', null, 'Changes'));
  const triggeredBody = h('div');
  const triggeredBox = h('section', { class: 'build-triggered', hidden: true }, h('h2', null, 'Triggered builds'), triggeredBody);
  // A matrix cell's siblings: the cells of its buildset (the matrix's parent) with their results.
  const matrixBody = h('div');
  const matrixBox = h('section', { class: 'build-matrix', hidden: true }, h('h2', null, 'Matrix'), matrixBody);
  const artifactsBody = h('ul', { class: 'artifacts' });
  const artifactsBox = h('section', { class: 'build-artifacts', hidden: true }, h('h2', null, 'Artifacts'), artifactsBody);
  const stepsList = h('ol', { class: 'steps' });
  // Steps a config hides (hideStepIf) are left out unless asked for; the toggle shows when there are some.
  const showHidden = h('input', { type: 'checkbox', id: 'show-hidden-steps' });
  const showHiddenLabel = h('label', { class: 'show-hidden-steps', hidden: true }, showHidden, ' show hidden steps');
  const root = h(
    'section',
    { class: 'page page-build' },
    head,
    changesBox,
    matrixBox,
    h('section', null, h('h2', null, 'Steps'), showHiddenLabel, stepsList),
    triggeredBox,
    artifactsBox,
    h('section', { class: 'build-metrics' }, h('h2', null, 'Build metrics'), metricsBox),
    h('details', { class: 'card properties' }, h('summary', null, h('h2', null, 'Properties')), propsBox),
  );

  let build: Build | null = null;
  /** The build whose Trigger step requested this one, once known. */
  let parent: { buildid: number; label: string } | null = null;
  let parentLooked = false;
  let builderName: string | null = null;
  let stopping = false;
  let units: ReadonlyMap<string, string | null> = new Map();
  const steps = new Map<number, StepView>();
  const hiddenSteps = new Set<number>();
  const applyHidden = (): void => {
    for (const [stepid, view] of steps) {
      view.el.classList.toggle('step-hidden', hiddenSteps.has(stepid));
      view.el.hidden = hiddenSteps.has(stepid) && !showHidden.checked;
    }
    showHiddenLabel.hidden = hiddenSteps.size === 0;
  };
  showHidden.addEventListener('change', applyHidden);

  const loadBuild = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<Page<'builds'>>(`/builds/${buildid}`, undefined, ctx.scope.signal);
      const b = res.builds[0];
      if (!b) throw new ApiError(404, 'NOT_FOUND', `build ${buildid} not found`);
      build = b;
      builderName ??= b.builder_name ?? (await nameOf(b.builderid));
      if (b.complete) stopping = false;
      replaceChildren(head, header(b));
      replaceChildren(propsBox, propertiesTable(b.properties));
      if (b.matrix) void loadMatrix(b);
      if (!parentLooked) {
        parentLooked = true;
        void findParent(b).then(() => build && replaceChildren(head, header(build)));
      }
    } catch (e) {
      if (isAbort(e)) return;
      ctx.message.error(e, `Build ${buildid}`);
      if (!build) replaceChildren(head, h('h1', null, `Build ${buildid}`), h('p', { class: 'error' }, 'This build could not be loaded.'));
    }
  };

  const loadMatrix = async (b: Build): Promise<void> => {
    try {
      const req = await ctx.api.get<Page<'buildrequests'>>(`/buildrequests/${b.buildrequestid}`, undefined, ctx.scope.signal);
      const setid = req.buildrequests[0]?.buildsetid;
      if (setid === null || setid === undefined) return;
      const set = (await ctx.api.get<Page<'buildsets'>>(`/buildsets/${setid}`, undefined, ctx.scope.signal)).buildsets[0];
      if (set) replaceChildren(matrixBody, matrixTable(set, buildid));
      matrixBox.hidden = !set;
    } catch (e) {
      if (!isAbort(e)) ctx.message.error(e, 'Could not load the matrix');
    }
  };

  const findParent = async (b: Build): Promise<void> => {
    try {
      const req = (
        await ctx.api.get<{ buildrequests: Pick<BuildRequest, 'parent_buildid'>[] }>(
          `/buildrequests/${b.buildrequestid}`,
          { field: 'parent_buildid' },
          ctx.scope.signal,
        )
      ).buildrequests[0];
      if (!req?.parent_buildid) return;
      const p = (await ctx.api.get<Page<'builds'>>(`/builds/${req.parent_buildid}`, undefined, ctx.scope.signal)).builds[0];
      if (p)
        parent = { buildid: p.buildid, label: `${p.builder_name ?? (await nameOf(p.builderid)) ?? `builder ${p.builderid}`} #${p.number}` };
    } catch {
      // Without it the page lacks one link; nothing else depends on it.
    }
  };

  const builderNames = new Map<number, string>();
  let triggeredOpen = false; // some triggered build has not finished (or this build may trigger more)
  const loadTriggered = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<Page<'buildrequests'>>(
        '/buildrequests',
        { parent_buildid: String(buildid), order: 'buildrequestid' },
        ctx.scope.signal,
      );
      if (res.buildrequests.length === 0) {
        triggeredOpen = !build || !build.complete;
        return;
      }
      // All their builds in one query, newest first: the first seen per request is its newest.
      const builds = await ctx.api.get<Page<'builds'>>(
        '/builds',
        { buildrequestid: res.buildrequests.map((r) => String(r.buildrequestid)), order: '-buildid' },
        ctx.scope.signal,
      );
      const newest = new Map<number, Build>();
      for (const b of builds.builds) if (!newest.has(b.buildrequestid)) newest.set(b.buildrequestid, b);
      const items: TriggeredItem[] = [];
      for (const request of res.buildrequests) {
        if (!builderNames.has(request.builderid))
          builderNames.set(request.builderid, (await nameOf(request.builderid)) ?? `builder ${request.builderid}`);
        items.push({
          request,
          builderName: builderNames.get(request.builderid) as string,
          build: newest.get(request.buildrequestid) ?? null,
        });
      }
      triggeredOpen = items.some((i) => !i.request.complete) || !build || !build.complete;
      replaceChildren(triggeredBody, triggeredList(items));
      triggeredBox.hidden = false;
    } catch (e) {
      if (!isAbort(e)) ctx.message.error(e, 'Could not load the triggered builds');
    }
  };

  const nameOf = async (builderid: number): Promise<string | null> => {
    try {
      const res = await ctx.api.get<{ builders: Pick<Builder, 'name'>[] }>(`/builders/${builderid}`, { field: 'name' }, ctx.scope.signal);
      return res.builders[0]?.name ?? null;
    } catch {
      return null; // the builder left the config; the page still works without its name
    }
  };

  const loadSteps = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<Page<'steps'>>(`/builds/${buildid}/steps`, undefined, ctx.scope.signal);
      for (const s of res.steps) {
        if (s.hidden) hiddenSteps.add(s.stepid);
        else hiddenSteps.delete(s.stepid);
        const view = steps.get(s.stepid);
        if (view) view.update(s);
        else {
          const created = new StepView(ctx, s, () => builderName);
          steps.set(s.stepid, created);
          stepsList.appendChild(created.el);
        }
      }
      if (steps.size === 0) replaceChildren(stepsList, h('li', { class: 'muted' }, 'No steps yet.'));
      else stepsList.querySelector(':scope > li:not(.step)')?.remove();
      applyHidden();
      distributeMetrics();
    } catch (e) {
      // A missing build is reported once, by loadBuild.
      if (!(e instanceof ApiError && e.status === 404)) ctx.message.error(e, 'Could not load the steps');
    }
  };

  // A build's changes never change: loaded once, shown only when there are some.
  const loadChanges = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<Page<'changes'>>(`/builds/${buildid}/changes`, undefined, ctx.scope.signal);
      if (res.changes.length === 0) return;
      changesBox.appendChild(changesList(res.changes));
      changesBox.hidden = false;
    } catch (e) {
      if (!isAbort(e) && !(e instanceof ApiError && e.status === 404)) ctx.message.error(e, 'Could not load the changes');
    }
  };

  // Files the build's upload steps kept: a download link each, with its size; shown when there are some.
  const loadArtifacts = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<Page<'artifacts'>>(`/builds/${buildid}/artifacts`, undefined, ctx.scope.signal);
      replaceChildren(
        artifactsBody,
        res.artifacts.map((a) =>
          h(
            'li',
            { class: 'artifact', 'data-name': a.name },
            h('a', { href: a.url, download: a.name }, a.name),
            h('span', { class: 'muted' }, ` ${formatBytes(a.size)} · ${a.step ?? 'step'}`),
          ),
        ),
      );
      artifactsBox.hidden = res.artifacts.length === 0;
    } catch (e) {
      if (!isAbort(e) && !(e instanceof ApiError && e.status === 404)) ctx.message.error(e, 'Could not load the artifacts');
    }
  };

  let points: BuildMetric[] = [];
  const loadMetrics = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<BuildMetricsPage>(`/builds/${buildid}/metrics`, undefined, ctx.scope.signal);
      points = res.metrics;
      if (units.size === 0 && points.length > 0 && builderName) units = await seriesUnits(builderName);
      distributeMetrics();
    } catch (e) {
      if (!isAbort(e)) replaceChildren(metricsBox, h('p', { class: 'error' }, 'Metrics could not be loaded.'));
    }
  };

  const seriesUnits = async (builder: string): Promise<Map<string, string | null>> => {
    try {
      const res = await ctx.api.get<MetricSeriesPage>('/metrics', { builder }, ctx.scope.signal);
      return new Map(res.metrics.map((m) => [m.series, m.unit]));
    } catch {
      return new Map(); // values are shown without units
    }
  };

  const distributeMetrics = (): void => {
    const names = new Map([...steps.values()].map((v) => [v.name, v]));
    const byStep = new Map<StepView, BuildMetric[]>();
    const buildLevel: BuildMetric[] = [];
    for (const p of points) {
      const view = p.tags.step === undefined ? undefined : names.get(p.tags.step);
      if (view) byStep.set(view, [...(byStep.get(view) ?? []), p]);
      else buildLevel.push(p);
    }
    for (const view of steps.values()) view.setMetrics(byStep.get(view) ?? [], units);
    replaceChildren(
      metricsBox,
      buildLevel.length > 0
        ? metricValues(buildLevel, units)
        : h('p', { class: 'muted' }, points.length > 0 ? 'All values are shown with their steps.' : 'None recorded.'),
      points.length > 0 ? deltaTable(points, units) : null,
    );
  };

  const header = (b: Build): HTMLElement[] => {
    const title = builderName ?? `builder ${b.builderid}`;
    const actions = h('div', { class: 'actions' });
    if (!b.complete) {
      const stop = h('button', { type: 'button', id: 'stop-build', class: 'danger' }, stopping ? 'Stopping…' : 'Stop');
      stop.disabled = stopping || !may(builderName, 'stop');
      if (!may(builderName, 'stop')) stop.title = notAllowed('stop');
      stop.addEventListener('click', () => void stopBuild(stop));
      actions.appendChild(stop);
    } else {
      const rebuild = h('button', { type: 'button', id: 'rebuild-build', class: 'primary' }, 'Rebuild');
      rebuild.disabled = !may(builderName, 'rebuild');
      if (rebuild.disabled) rebuild.title = notAllowed('rebuild');
      rebuild.addEventListener('click', () => void rebuildBuild(rebuild));
      actions.appendChild(rebuild);
    }
    actions.appendChild(h('a', { href: `#/compare/${b.buildid}/previous`, id: 'compare-link' }, 'Compare with the previous success'));
    const grafana = externalLink(b.links?.grafana, 'Open in Grafana', 'grafana-link');
    if (grafana) actions.appendChild(grafana);
    return [
      h(
        'nav',
        { class: 'crumbs' },
        h('a', { href: '#/builders' }, 'Builders'),
        ' / ',
        builderName ? h('a', { href: routeHref('builders', builderName) }, builderName) : title,
        ' /',
      ),
      h(
        'div',
        { class: 'title-row' },
        h('h1', null, `${title} #${b.number}`),
        resultBadge(b.result, { id: 'build-result', class: 'big' }),
        actions,
      ),
      h(
        'dl',
        { class: 'facts' },
        fact('State', b.state_string),
        fact('Agent', b.agent),
        fact('Started', formatTime(b.started_at)),
        b.complete ? fact('Finished', formatTime(b.complete_at)) : null,
        fact('Duration', formatDuration(spanSeconds(b.started_at, b.complete_at)) + (b.complete ? '' : ' so far')),
        parent
          ? [
              h('dt', null, 'Triggered by'),
              h('dd', null, h('a', { href: routeHref('builds', parent.buildid), id: 'triggered-by' }, parent.label)),
            ]
          : null,
        bisectionFact(b),
        // The builder's name is what `caliper try` takes; a builder gone from the config has none to give.
        builderName ? [h('dt', null, 'Run locally'), h('dd', null, tryCommand(builderName, b))] : null,
      ),
    ];
  };

  const stopBuild = async (button: HTMLButtonElement): Promise<void> => {
    stopping = true;
    button.disabled = true;
    button.textContent = 'Stopping…';
    try {
      await ctx.api.post(`/builds/${buildid}/stop`, {}, ctx.scope.signal);
      ctx.message.show(`Stopping build ${buildid}`, 'info');
    } catch (e) {
      stopping = false;
      button.disabled = false;
      button.textContent = 'Stop';
      ctx.message.error(e, 'Stop failed');
    }
  };

  const rebuildBuild = async (button: HTMLButtonElement): Promise<void> => {
    button.disabled = true;
    try {
      const res = await ctx.api.post<RequestSubmitted>(`/builds/${buildid}/rebuild`, {}, ctx.scope.signal);
      ctx.message.show(`requested #${res.buildrequestid}`, 'info');
      button.textContent = 'Waiting for the new build…';
      const next = await waitForBuild(ctx.api, res.buildrequestid, ctx.scope.signal);
      if (next !== null) ctx.navigate(`#/builds/${next}`);
      else ctx.message.show(`requested #${res.buildrequestid}; no build has started yet (no free agent?)`, 'info');
    } catch (e) {
      ctx.message.error(e, 'Rebuild failed');
    } finally {
      button.disabled = false;
      button.textContent = 'Rebuild';
    }
  };

  const reloadBuild = coalesced(ctx.scope, loadBuild);
  const reloadSteps = coalesced(ctx.scope, loadSteps, 50);
  const reloadMetrics = coalesced(ctx.scope, loadMetrics, 300);
  const reloadTriggered = coalesced(ctx.scope, loadTriggered, 300);
  const reloadArtifacts = coalesced(ctx.scope, loadArtifacts, 300);
  // Triggered builds are other builds: any build or request event may concern them while some are open.
  for (const event of ['buildrequest.new', 'build.started', 'build.finished'] as const) {
    ctx.scope.add(ctx.live.on(event, () => triggeredOpen && reloadTriggered()));
  }
  const reloadAll = (): void => {
    reloadBuild();
    reloadSteps();
    reloadMetrics();
    reloadTriggered();
    reloadArtifacts();
  };
  const mine = (d: { buildid: number }) => d.buildid === buildid;
  ctx.scope.add(
    ctx.live.on('step.started', (d) => {
      if (!mine(d)) return;
      reloadSteps();
      reloadBuild();
    }),
  );
  ctx.scope.add(ctx.live.on('step.finished', (d) => mine(d) && reloadAll()));
  ctx.scope.add(ctx.live.on('build.finished', (d) => mine(d) && reloadAll()));
  ctx.scope.add(ctx.live.onReconnect(reloadAll));

  // Steps load beside the build; the metrics wait for it, as their charts need the builder's name.
  const buildLoaded = loadBuild();
  void loadSteps();
  void loadChanges();
  void loadTriggered();
  void loadArtifacts();
  void buildLoaded.then(loadMetrics);
  return root;
}

/** "1.5 MiB": a size as people read it. */
function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u]}`;
}

/** "Part of bisection #N" for a build a bisection requested (its property `bisect`, docs/metrics.md). */
function bisectionFact(b: Build): HTMLElement[] | null {
  const id = b.properties.bisect?.[0];
  if (typeof id !== 'number') return null;
  return [h('dt', null, 'Part of'), h('dd', null, h('a', { href: routeHref('bisections', id), id: 'bisection-link' }, `bisection #${id}`))];
}

function fact(label: string, value: string): HTMLElement[] {
  return [h('dt', null, label), h('dd', null, value)];
}

/** "+12.3 %", "−4.0 %": a delta as the reporters write it. */
function percentText(p: number | null): string {
  if (p === null) return '–';
  return `${p > 0 ? '+' : p < 0 ? '−' : '±'}${Math.abs(p).toFixed(1)} %`;
}

/**
 * Every measured value against its baseline, as the pull request's comment shows it: for a PR
 * build the baseline is the base branch's ("vs main"), otherwise the builder's own last good builds.
 */
function deltaTable(points: BuildMetric[], units: ReadonlyMap<string, string | null>): HTMLElement {
  const branch = points.find((p) => p.baseline_branch)?.baseline_branch ?? null;
  const rows = points.map((p) => {
    const unit = p.unit ?? units.get(p.series) ?? null;
    const name = p.tags.step && p.tags.step !== p.series ? `${p.series} (${p.tags.step})` : p.series;
    const flagClass = p.flag === 'regression' ? 'score score-high' : p.flag === 'improvement' ? 'score score-low' : '';
    return h(
      'tr',
      { class: 'metric-delta', 'data-series': p.series, 'data-flag': p.flag ?? '' },
      h('td', null, name),
      h('td', { class: 'num' }, formatValue(p.value, unit)),
      h('td', { class: 'num' }, p.baseline ? formatValue(p.baseline.median, unit) : '–'),
      h('td', { class: 'num' }, percentText(p.delta_percent)),
      h('td', null, p.flag ? h('span', { class: flagClass }, p.flag) : ''),
    );
  });
  return h(
    'table',
    { class: 'metric-deltas' },
    h('caption', null, branch ? `vs ${branch}: against the last good builds of ${branch}` : "Against the builder's recent good builds"),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', null, 'series'),
        h('th', null, 'value'),
        h('th', null, branch ? `baseline (${branch})` : 'baseline'),
        h('th', null, 'delta'),
        h('th', null, 'flag'),
      ),
    ),
    h('tbody', null, rows),
  );
}

/** The cells of a matrix: axis values, result, a link to each cell's build; the combined result above. */
function matrixTable(set: Buildset, current: number): HTMLElement {
  const rows = set.requests.map((r) =>
    h(
      'tr',
      { class: r.buildid === current ? 'current' : '' },
      ...set.axes.map((axis) => h('td', null, r.matrix?.[axis] ?? '')),
      h('td', null, r.complete ? resultBadge(r.result) : h('span', { class: 'muted' }, r.buildid === null ? 'queued' : 'running')),
      h('td', null, r.buildid === null ? '' : h('a', { href: routeHref('builds', r.buildid) }, `#${r.build_number ?? r.buildid}`)),
    ),
  );
  return h(
    'div',
    null,
    h(
      'p',
      null,
      'Combined result: ',
      set.complete ? resultBadge(set.result) : h('span', { class: 'muted' }, 'running'),
      ` (buildset ${set.buildsetid})`,
    ),
    h(
      'table',
      { class: 'matrix-cells' },
      h('thead', null, h('tr', null, ...set.axes.map((a) => h('th', null, a)), h('th', null, 'result'), h('th', null, 'build'))),
      h('tbody', null, ...rows),
    ),
  );
}
