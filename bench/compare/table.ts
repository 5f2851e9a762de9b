/**
 * The comparison's table: one row per figure, the median over runs for each system, and the ratio
 * written as Caliper's advantage (Buildbot / Caliper for a time or a size, Caliper / Buildbot for a
 * rate), so a ratio above 1 always means Caliper does better. Printed as Markdown, ready to paste.
 */
import { median } from './measure.ts';
import type { CompareOptions } from './options.ts';
import type { SystemName } from './system.ts';

export const FIGURE_KEYS = [
  'perStepMs',
  'stepsPerSecond',
  'logMiBs',
  'logExact',
  'logRssGrowthMiB',
  'forceToStartMs',
  'apiOneReqPerSecond',
  'apiManyReqPerSecond',
  'apiManyP99Ms',
] as const;
export type FigureKey = (typeof FIGURE_KEYS)[number];

interface FigureDef {
  label: string;
  /** Whether less is better (times, sizes) or more (rates); `check` rows hold 1 (yes) or 0 (no). */
  better: 'lower' | 'higher' | 'check';
}

export function figureDefs(o: CompareOptions): Record<FigureKey, FigureDef> {
  const page = 'GET /api/v2/builds?limit=50';
  return {
    perStepMs: { label: `per-step overhead, ${o.steps} × \`true\` (spawn subtracted), ms`, better: 'lower' },
    stepsPerSecond: { label: `throughput, ${o.queued} builds of ${o.steps} steps queued, steps/s`, better: 'higher' },
    logMiBs: { label: `${o.logMiB} MiB log end to end, MiB/s`, better: 'higher' },
    logExact: { label: `${o.logMiB} MiB log read back byte-exact`, better: 'check' },
    logRssGrowthMiB: { label: `master RSS growth during the log, MiB`, better: 'lower' },
    forceToStartMs: { label: 'force-to-start latency (to the first command), ms', better: 'lower' },
    apiOneReqPerSecond: { label: `${page}, 1 keep-alive client, req/s`, better: 'higher' },
    apiManyReqPerSecond: { label: `${page}, ${o.apiClients} keep-alive clients, req/s`, better: 'higher' },
    apiManyP99Ms: { label: `${page}, ${o.apiClients} keep-alive clients, p99 ms`, better: 'lower' },
  };
}

/** Each figure's value in each run, per system. */
export type RunValues = Record<SystemName, Record<FigureKey, number[]>>;

export const emptyRunValues = (): RunValues => {
  const one = () => Object.fromEntries(FIGURE_KEYS.map((k) => [k, [] as number[]])) as Record<FigureKey, number[]>;
  return { Buildbot: one(), Caliper: one() };
};

export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return '-';
  const abs = Math.abs(x);
  return x.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}

function cell(def: FigureDef, xs: number[]): string {
  if (xs.length === 0) return '-';
  if (def.better === 'check') return xs.every((x) => x === 1) ? 'yes' : 'NO';
  return formatNumber(median(xs));
}

function ratio(def: FigureDef, buildbot: number[], caliper: number[]): string {
  if (def.better === 'check' || buildbot.length === 0 || caliper.length === 0) return '-';
  const [b, c] = [median(buildbot), median(caliper)];
  const r = def.better === 'lower' ? b / c : c / b;
  return Number.isFinite(r) && r > 0 && b > 0 && c > 0 ? `${r.toFixed(1)}×` : '-';
}

export function compareTable(o: CompareOptions, values: RunValues): string {
  const defs = figureDefs(o);
  const rows = FIGURE_KEYS.map((k) => {
    const def = defs[k];
    return `| ${def.label} | ${cell(def, values.Buildbot[k])} | ${cell(def, values.Caliper[k])} | ${ratio(def, values.Buildbot[k], values.Caliper[k])} |`;
  });
  return ['| figure | Buildbot | Caliper | ratio |', '|---|---|---|---|', ...rows].join('\n');
}

/** Every run's value, for the spread the medians hide. */
export function runsDetail(o: CompareOptions, values: RunValues): string {
  const defs = figureDefs(o);
  return FIGURE_KEYS.filter((k) => defs[k].better !== 'check')
    .map((k) => {
      const side = (s: SystemName) => `${s} ${values[s][k].map(formatNumber).join(', ') || '-'}`;
      return `  ${defs[k].label}: ${side('Buildbot')}; ${side('Caliper')}`;
    })
    .join('\n');
}
