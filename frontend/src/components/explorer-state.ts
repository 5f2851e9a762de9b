/**
 * The metrics explorer's whole state, and its one text form: the query of `#/metrics?…`, so a reload
 * or a pasted link shows exactly the same chart.
 *
 *   series=NAME (repeated)      the series drawn, each overlaid on the others
 *   builder= step= agent= result= tag.NAME=   filters, spelled as the points API spells them
 *   split=TAG                   one line per value of the tag
 *   range=1h|24h|7d|30d|90d|all, or from=&to= (epoch seconds) for a custom range
 *   band=0                      hides the regression band and flagged points (shown by default)
 *   k=NUMBER                    the band's half-width in robust spreads (default: the gate's)
 * Unknown keys and bad values are dropped, not fatal: an old link still opens.
 */

export const RANGE_PRESETS = ['1h', '24h', '7d', '30d', '90d', 'all'] as const;
export type RangePreset = (typeof RANGE_PRESETS)[number];
export type TimeRange = { preset: RangePreset } | { from: number; to: number };

export const STANDARD_FILTERS = ['builder', 'step', 'agent', 'result'] as const;

export interface ExplorerState {
  series: string[];
  /** Filter key as the points API takes it (`builder`, `tag.branch`) → value. */
  filters: Record<string, string>;
  splitBy: string | null;
  range: TimeRange;
  band: boolean;
  /** Band half-width in spreads; null: the gate's threshold. */
  k: number | null;
}

export const DEFAULT_RANGE: TimeRange = { preset: 'all' };

const PRESET_SECONDS: Record<Exclude<RangePreset, 'all'>, number> = {
  '1h': 3600,
  '24h': 86_400,
  '7d': 7 * 86_400,
  '30d': 30 * 86_400,
  '90d': 90 * 86_400,
};

const isPreset = (v: string | null): v is RangePreset => RANGE_PRESETS.some((p) => p === v);
const TAG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The filter key the API takes for a tag: standard tags by name, the user's own as `tag.NAME`. */
export function filterKey(tag: string): string {
  return STANDARD_FILTERS.some((t) => t === tag) ? tag : `tag.${tag}`;
}

export function isFilterKey(key: string): boolean {
  return STANDARD_FILTERS.some((t) => t === key) || (key.startsWith('tag.') && TAG_NAME.test(key.slice(4)));
}

export function parseExplorerState(query: URLSearchParams): ExplorerState {
  const series = [...new Set(query.getAll('series').filter((s) => s !== ''))];
  const filters: Record<string, string> = {};
  for (const [k, v] of query) if (isFilterKey(k) && v !== '') filters[k] = v;
  const split = query.get('split');
  const from = Number(query.get('from'));
  const to = Number(query.get('to'));
  const preset = query.get('range');
  const range: TimeRange =
    query.has('from') && query.has('to') && Number.isFinite(from) && Number.isFinite(to) && from < to
      ? { from, to }
      : isPreset(preset)
        ? { preset }
        : DEFAULT_RANGE;
  const k = Number(query.get('k'));
  return {
    series,
    filters,
    splitBy: split !== null && TAG_NAME.test(split) ? split : null,
    range,
    band: query.get('band') !== '0',
    k: query.has('k') && Number.isFinite(k) && k > 0 ? k : null,
  };
}

export function explorerQuery(state: ExplorerState): URLSearchParams {
  const q = new URLSearchParams();
  for (const s of state.series) q.append('series', s);
  for (const [k, v] of Object.entries(state.filters).sort(([a], [b]) => (a < b ? -1 : 1))) q.set(k, v);
  if (state.splitBy) q.set('split', state.splitBy);
  const range = state.range;
  if ('preset' in range) {
    if (range.preset !== 'all') q.set('range', range.preset);
  } else {
    q.set('from', String(range.from));
    q.set('to', String(range.to));
  }
  if (!state.band) q.set('band', '0');
  if (state.k !== null) q.set('k', String(state.k));
  return q;
}

export function explorerHash(state: ExplorerState): string {
  const qs = explorerQuery(state).toString();
  return qs ? `#/metrics?${qs}` : '#/metrics';
}

/** The range as epoch seconds for the API (`from`/`to`); a preset ends now. */
export function rangeBounds(range: TimeRange, nowSeconds = Date.now() / 1000): { from?: number; to?: number } {
  if (!('preset' in range)) return { from: range.from, to: range.to };
  if (range.preset === 'all') return {};
  return { from: Math.floor(nowSeconds - PRESET_SECONDS[range.preset]) };
}

/** Grafana's spelling of the range: `now-7d`…`now`, or epoch milliseconds. */
export function grafanaRange(range: TimeRange): { from: string; to: string } | null {
  if (!('preset' in range)) return { from: String(range.from * 1000), to: String(range.to * 1000) };
  if (range.preset === 'all') return null;
  return { from: `now-${range.preset}`, to: 'now' };
}
