/**
 * `#/metrics`: the metrics explorer. Pick series (a searchable list), filter them by tag (the values
 * the store holds, `GET /metrics/{series}/tags`), split into one line per value of a tag, choose the
 * time range, and see the regression band with its flagged points and the detected change points.
 * The URL holds the whole state (components/explorer-state.ts); a control changes it in place
 * (history.replaceState, no page re-render, so the focus stays where it is) and redraws the chart.
 */
import type { MetricChangesPage, MetricSeries, MetricSeriesPage, PointsPage, SeriesTags } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import type { Scope } from '../scope.ts';
import { afterPaint, externalLink, h, replaceChildren } from '../dom.ts';
import { isAbort } from '../api.ts';
import { coalesced } from '../refresh.ts';
import {
  RANGE_PRESETS,
  explorerHash,
  filterKey,
  grafanaRange,
  parseExplorerState,
  rangeBounds,
  type ExplorerState,
  type RangePreset,
} from '../components/explorer-state.ts';
import { explorerChart, type ExplorerLine } from '../components/explorer-chart.ts';
import { loadUplot } from '../components/uplot-lib.ts';

/** Points read per series: the latest in the range. */
const POINTS_PER_SERIES = 2000;
/** The gate's defaults when the master does not say (metrics.regression.window, the gate's threshold). */
const DEFAULT_REGRESSION = { window: 10, threshold: 3 };
const RANGE_TEXT: Record<RangePreset, string> = {
  '1h': 'last hour',
  '24h': 'last 24 hours',
  '7d': 'last 7 days',
  '30d': 'last 30 days',
  '90d': 'last 90 days',
  all: 'all (latest points)',
};

export function metricsPage(ctx: PageContext, query: URLSearchParams): HTMLElement {
  const state: ExplorerState = parseExplorerState(query);
  let catalog: MetricSeries[] = [];
  let regression = DEFAULT_REGRESSION;
  /** Tag → the values the selected series' points carry (in the range). */
  let tagValues = new Map<string, string[]>();

  const search = h('input', { type: 'search', id: 'series-search', placeholder: 'filter by name', autocomplete: 'off' });
  const seriesOptions = h('div', { class: 'series-options', id: 'series-options' }, h('p', { class: 'muted' }, 'loading…'));
  const filtersBox = h('div', { class: 'explorer-filters', id: 'explorer-filters' });
  const splitSelect = h('select', { id: 'explorer-split', name: 'split' });
  const rangeSelect = h('select', { id: 'explorer-range', name: 'range' });
  const fromInput = h('input', { type: 'datetime-local', id: 'explorer-from', name: 'from' });
  const toInput = h('input', { type: 'datetime-local', id: 'explorer-to', name: 'to' });
  const customRange = h(
    'div',
    { class: 'custom-range' },
    h('label', { for: 'explorer-from' }, 'From'),
    fromInput,
    h('label', { for: 'explorer-to' }, 'To'),
    toInput,
  );
  const bandBox = h('input', { type: 'checkbox', id: 'explorer-band', name: 'band' });
  const kInput = h('input', { type: 'number', id: 'explorer-k', name: 'k', min: '0.5', max: '20', step: '0.5', inputmode: 'decimal' });
  const links = h('p', { class: 'meta-line explorer-links' });
  const output = h('div', { class: 'explorer-output', 'aria-live': 'polite' });

  const root = h(
    'section',
    { class: 'page page-metrics' },
    h('h1', null, 'Metrics explorer'),
    h(
      'form',
      { class: 'explorer-controls card', id: 'explorer-controls', 'aria-label': 'Chart settings' },
      h(
        'fieldset',
        { class: 'series-picker' },
        h('legend', null, 'Series'),
        h('label', { for: 'series-search', class: 'series-search-label' }, 'Find a series'),
        search,
        seriesOptions,
      ),
      h('fieldset', { class: 'explorer-filter-set' }, h('legend', null, 'Filter by tag'), filtersBox),
      h(
        'div',
        { class: 'explorer-view' },
        h('label', { for: 'explorer-split' }, 'Split by'),
        splitSelect,
        h('label', { for: 'explorer-range' }, 'Time range'),
        rangeSelect,
        customRange,
        h('label', { class: 'check', for: 'explorer-band' }, bandBox, ' Regression band'),
        h('label', { for: 'explorer-k' }, 'Band ± spreads'),
        kInput,
      ),
    ),
    links,
    output,
  );
  // Enter in a field must not submit the form (and reload the page): every control applies at once.
  root.querySelector('form')?.addEventListener('submit', (e) => e.preventDefault());

  /** The state changed: URL, links and chart follow. */
  const changed = (reloadTags: boolean): void => {
    history.replaceState(null, '', explorerHash(state));
    showLinks();
    if (reloadTags) reloadTagsSoon();
    reloadChart();
  };

  // ---- series picker
  const renderSeriesOptions = (): void => {
    const needle = search.value.trim().toLowerCase();
    const shown = catalog.filter((s) => state.series.includes(s.series) || s.series.toLowerCase().includes(needle));
    if (catalog.length === 0) return replaceChildren(seriesOptions, h('p', { class: 'muted' }, 'No series recorded yet.'));
    if (shown.length === 0) return replaceChildren(seriesOptions, h('p', { class: 'muted' }, `No series matches "${search.value}".`));
    replaceChildren(
      seriesOptions,
      shown.map((s) => {
        const id = `series-${s.series}`;
        const box = h('input', { type: 'checkbox', id, name: 'series', value: s.series, 'data-series': s.series });
        box.checked = state.series.includes(s.series);
        box.addEventListener('change', () => {
          state.series = box.checked ? [...state.series, s.series] : state.series.filter((x) => x !== s.series);
          changed(true);
        });
        const detail = [s.kind, s.unit].filter((x) => x).join(', ');
        return h(
          'label',
          { class: 'series-option', for: id },
          box,
          ` ${s.series}`,
          detail ? h('span', { class: 'muted' }, ` ${detail}`) : null,
        );
      }),
    );
  };
  search.addEventListener('input', renderSeriesOptions);

  // ---- filters and split (offered from the tag values the store holds)
  const renderFilters = (): void => {
    const tags = new Map(tagValues);
    // A filter from a pasted link stays visible even when no point in range carries its value.
    for (const [key, value] of Object.entries(state.filters)) {
      const tag = key.startsWith('tag.') ? key.slice(4) : key;
      const values = tags.get(tag) ?? [];
      if (!values.includes(value)) tags.set(tag, [...values, value].sort());
    }
    if (tags.size === 0) {
      replaceChildren(filtersBox, h('p', { class: 'muted' }, state.series.length === 0 ? 'Pick a series first.' : 'No tags.'));
    } else {
      replaceChildren(
        filtersBox,
        [...tags].map(([tag, values]) => {
          const key = filterKey(tag);
          const id = `filter-${tag}`;
          const select = h(
            'select',
            { id, name: key, 'data-tag': tag },
            h('option', { value: '' }, 'any'),
            values.map((v) => h('option', { value: v }, v)),
          );
          select.value = state.filters[key] ?? '';
          select.addEventListener('change', () => {
            if (select.value === '') delete state.filters[key];
            else state.filters[key] = select.value;
            changed(false);
          });
          return h('span', { class: 'explorer-filter' }, h('label', { for: id }, tag), select);
        }),
      );
    }
    const splittable = [...new Set([...tagValues.keys(), ...(state.splitBy ? [state.splitBy] : [])])].sort();
    replaceChildren(
      splitSelect,
      h('option', { value: '' }, 'none'),
      splittable.map((t) => h('option', { value: t }, t)),
    );
    splitSelect.value = state.splitBy ?? '';
  };
  splitSelect.addEventListener('change', () => {
    state.splitBy = splitSelect.value === '' ? null : splitSelect.value;
    changed(false);
  });

  // ---- time range
  replaceChildren(
    rangeSelect,
    RANGE_PRESETS.map((p) => h('option', { value: p }, RANGE_TEXT[p])),
    h('option', { value: 'custom' }, 'custom…'),
  );
  const showRange = (): void => {
    const range = state.range;
    const custom = !('preset' in range);
    rangeSelect.value = custom ? 'custom' : range.preset;
    customRange.hidden = !custom;
    if (custom) {
      fromInput.value = localInputValue(range.from);
      toInput.value = localInputValue(range.to);
    }
  };
  rangeSelect.addEventListener('change', () => {
    const value = rangeSelect.value;
    const preset = RANGE_PRESETS.find((p) => p === value);
    if (preset) state.range = { preset };
    else {
      // Custom starts from what was shown: the last 7 days up to now.
      const now = Math.floor(Date.now() / 1000);
      state.range = { from: now - 7 * 86_400, to: now };
    }
    showRange();
    changed(true);
  });
  const customChanged = (): void => {
    const from = Date.parse(fromInput.value) / 1000;
    const to = Date.parse(toInput.value) / 1000;
    if (!Number.isFinite(from) || !Number.isFinite(to)) return;
    if (from >= to) {
      ctx.message.error(new Error('the start of the range must be before its end'), 'Time range');
      return;
    }
    state.range = { from, to };
    changed(true);
  };
  fromInput.addEventListener('change', customChanged);
  toInput.addEventListener('change', customChanged);

  // ---- band
  bandBox.checked = state.band;
  bandBox.addEventListener('change', () => {
    state.band = bandBox.checked;
    changed(false);
  });
  kInput.addEventListener('change', () => {
    const k = Number(kInput.value);
    state.k = kInput.value === '' || !(k > 0) ? null : k;
    changed(false);
  });

  // ---- links: Grafana's dashboard with the same series, builder, tags and range
  const showLinks = (): void => {
    const first = catalog.find((s) => s.series === state.series[0]);
    replaceChildren(links, externalLink(grafanaUrl(first?.links.grafana, state), 'Open in Grafana', 'grafana-link'));
  };

  // ---- data
  let tagsScope: Scope = ctx.scope.child();
  const loadTags = async (): Promise<void> => {
    tagsScope.dispose();
    tagsScope = ctx.scope.child();
    const scope = tagsScope;
    const bounds = rangeBounds(state.range);
    try {
      const answers = await Promise.all(
        state.series.map((s) => ctx.api.get<SeriesTags>(`/metrics/${encodeURIComponent(s)}/tags`, bounds, scope.signal)),
      );
      const merged = new Map<string, Set<string>>();
      for (const a of answers) for (const [k, vs] of Object.entries(a.tags)) merged.set(k, new Set([...(merged.get(k) ?? []), ...vs]));
      tagValues = new Map([...merged].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, vs]) => [k, [...vs].sort()]));
      renderFilters();
    } catch (e) {
      if (!isAbort(e)) ctx.message.error(e, 'Could not load the tags');
    }
  };
  const reloadTagsSoon = coalesced(ctx.scope, loadTags, 50);

  let chartScope: Scope = ctx.scope.child();
  let catalogLoaded: Promise<void> = Promise.resolve();
  const loadChart = async (): Promise<void> => {
    chartScope.dispose();
    chartScope = ctx.scope.child();
    const scope = chartScope;
    if (state.series.length === 0) {
      replaceChildren(output, h('p', { class: 'muted explorer-empty' }, 'Pick one or more series to chart them.'));
      return;
    }
    replaceChildren(output, h('p', { class: 'muted' }, 'loading…'));
    const query = { ...state.filters, ...rangeBounds(state.range) };
    const path = (name: string) => `/metrics/${encodeURIComponent(name)}`;
    try {
      const results = await Promise.all(
        state.series.map(async (name) => ({
          name,
          points: await ctx.api.get<PointsPage>(
            `${path(name)}/points`,
            { ...query, order: '-time', limit: POINTS_PER_SERIES },
            scope.signal,
          ),
        })),
      );
      await catalogLoaded; // units, kinds and the gate's window
      if (scope.disposed) return;
      const lines: ExplorerLine[] = results.flatMap(({ name, points }) => {
        const info = catalog.find((s) => s.series === name);
        const base = { series: name, unit: info?.unit ?? null, kind: info?.kind ?? 'gauge', resolution: info?.resolution ?? 0 };
        const sorted = <T extends { time: number }>(ps: T[]) => [...ps].sort((a, b) => a.time - b.time);
        const prefix = state.series.length > 1 ? `${name} · ` : '';
        const tag = state.splitBy;
        if (tag === null) return [{ ...base, label: name, points: sorted(points.points) }];
        // Grouped here rather than by the API's splitBy, so points without the tag keep a line of their own.
        const groups = new Map<string, PointsPage['points']>();
        for (const p of points.points) {
          const value = p.tags[tag];
          const key = value === undefined ? `${prefix}${tag} not set` : `${prefix}${tag}=${value}`;
          const group = groups.get(key);
          if (group) group.push(p);
          else groups.set(key, [p]);
        }
        return [...groups].sort(([a], [b]) => (a < b ? -1 : 1)).map(([label, ps]) => ({ ...base, label, points: sorted(ps) }));
      });
      const nonEmpty = lines.filter((l) => l.points.length > 0);
      if (nonEmpty.length === 0) {
        replaceChildren(output, h('p', { class: 'muted explorer-empty' }, 'No points match these series, filters and time range.'));
        return;
      }
      const k = state.k ?? regression.threshold;
      const UPlot = await loadUplot();
      if (scope.disposed) return;
      const chart = explorerChart(UPlot, scope, { lines: nonEmpty, band: state.band ? { window: regression.window, k } : null });
      replaceChildren(output, chart.el);
      // The changes (and, after this returns, the tags) are asked for once the chart is on screen:
      // detection reads up to 10 000 points, and the chart should not share the CPU with it.
      await afterPaint();
      if (scope.disposed) return;
      Promise.all(
        state.series.map((name) =>
          ctx.api
            .get<MetricChangesPage>(
              `${path(name)}/changes`,
              { ...query, ...(state.splitBy === 'agent' ? { splitBy: 'agent' } : {}) },
              scope.signal,
            )
            .then((r) => r.changes),
        ),
      ).then(
        (all) => {
          if (!scope.disposed) chart.showChanges(all.flat());
        },
        (e: unknown) => {
          if (!isAbort(e)) ctx.message.error(e, 'Could not load the detected changes');
        },
      );
    } catch (e) {
      if (isAbort(e)) return;
      replaceChildren(output, h('p', { class: 'error' }, 'The chart could not be loaded.'));
      ctx.message.error(e, 'Could not load the points');
    }
  };
  const reloadChart = coalesced(ctx.scope, loadChart, 50);

  const loadCatalog = async (): Promise<void> => {
    try {
      const res = await ctx.api.get<MetricSeriesPage>('/metrics', undefined, ctx.scope.signal);
      catalog = res.metrics;
      regression = res.meta.regression ?? DEFAULT_REGRESSION;
      kInput.placeholder = String(regression.threshold);
      renderSeriesOptions();
      showLinks();
    } catch (e) {
      if (!isAbort(e)) ctx.message.error(e, 'Could not load the series');
    }
  };

  showRange();
  kInput.value = state.k === null ? '' : String(state.k);
  renderFilters();
  // The address names the series: their points are asked for beside the series list, not after it;
  // the tags (for the filter selects) after the points, which they would delay.
  catalogLoaded = loadCatalog();
  void loadUplot().catch((e: unknown) => ctx.message.error(e, 'Could not load the charting code'));
  void loadChart().then(() => loadTags());
  return root;
}

/** The series' Grafana link (made by the master, metrics/links.ts) narrowed to the explorer's query. */
export function grafanaUrl(base: string | undefined, state: ExplorerState): string | null {
  if (!base) return null;
  const url = new URL(base);
  url.searchParams.delete('var-series');
  for (const s of state.series) url.searchParams.append('var-series', s);
  for (const [key, value] of Object.entries(state.filters)) url.searchParams.set(`var-${key.replace(/^tag\./, '')}`, value);
  const range = grafanaRange(state.range);
  if (range) {
    url.searchParams.set('from', range.from);
    url.searchParams.set('to', range.to);
  }
  return url.toString();
}

/** Epoch seconds → a datetime-local input's value, in local time. */
function localInputValue(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
