/**
 * The words of a `build.regressed` report (the grouped alert of master/regressions), in each form a
 * reporter sends: a mail (text and HTML), a commit status description (140 characters), a PR
 * comment (markdown). Every form lists all the series that regressed in the build, worst first.
 */
import type { BuildReport, RegressionItem } from './reporter.ts';
import { formatPercent } from './metric-deltas.ts';

const number = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, ''));
const withUnit = (v: number, unit: string | null): string => (unit ? `${number(v)} ${unit}` : number(v));
const shortRevision = (r: string | null): string | null => (r && /^[0-9a-f]{40}$/i.test(r) ? r.slice(0, 12) : r);
const pText = (p: number): string => (p < 1e-4 ? p.toExponential(1) : p.toPrecision(2));

/** The tags that tell one series from another beside its name (builder aside: the report names it). */
export function tagsText(tags: Record<string, string>): string {
  return Object.entries(tags)
    .filter(([k]) => k !== 'builder')
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** Worst (largest change) first. */
export function byMagnitude(items: readonly RegressionItem[]): RegressionItem[] {
  return [...items].sort((a, b) => Math.abs(b.magnitudePercent ?? 0) - Math.abs(a.magnitudePercent ?? 0));
}

function endText(end: RegressionItem['before']): string {
  const parts = [end.buildid === null ? null : `build ${end.buildid}`, shortRevision(end.revision)].filter(Boolean);
  return parts.length > 0 ? parts.join(' @ ') : 'an outside point';
}

/** "bundle_size [step=pack, branch=main]: 1000 → 1100 bytes (+10.0 %, p=2.1e-9), between build 41 and build 42 @ abc123". */
export function regressionLine(r: RegressionItem): string {
  const tags = tagsText(r.tags);
  return (
    `${r.series}${tags ? ` [${tags}]` : ''}: ${number(r.meanBefore)} → ${withUnit(r.meanAfter, r.unit)} ` +
    `(${formatPercent(r.magnitudePercent)}, p=${pText(r.pValue)}), between ${endText(r.before)} and ${endText(r.after)}`
  );
}

/** "3 series regressed: bundle_size +10.0 %, parse_ms +7.5 %, …", at most `max` characters. */
export function regressionSummary(items: readonly RegressionItem[], max: number): string {
  const sorted = byMagnitude(items);
  let text = `${items.length} series regressed: ${sorted.map((r) => `${r.series} ${formatPercent(r.magnitudePercent)}`).join(', ')}`;
  if (items.length === 1) text = text.replace('1 series regressed', 'Regressed');
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function regressionSubject(report: BuildReport, title: string): string {
  const n = report.regressions?.length ?? 0;
  return `${title}: ${n} series regressed in ${report.build.builder} #${report.build.number}`.replace(/[\r\n]+/g, ' ');
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** The mail: what regressed, each with its chart and the builds on either side, then the build. */
export function regressionMail(report: BuildReport): { text: string; html: string } {
  const items = byMagnitude(report.regressions ?? []);
  const { build } = report;
  const head = `Build #${build.number} of ${build.builder} revealed ${items.length} regressed series (confirmed change points).`;
  const text = [
    head,
    '',
    ...items.flatMap((r) => [
      `  ${regressionLine(r)}`,
      `    chart: ${r.chartUrl}`,
      ...(r.after.url ? [`    first build after: ${r.after.url}`] : []),
    ]),
    '',
    `Build: ${build.url}`,
    '',
  ].join('\n');
  const link = (url: string | null, label: string) => (url ? `<a href="${escapeHtml(url)}">${escapeHtml(label)}</a>` : escapeHtml(label));
  const html = [
    '<!doctype html><html><body>',
    `<p><strong>${escapeHtml(head)}</strong></p>`,
    '<ul>',
    ...items.map(
      (r) =>
        `<li>${escapeHtml(regressionLine(r))} — ${link(r.chartUrl, 'chart')}, ${link(r.before.url, 'before')}, ${link(r.after.url, 'after')}</li>`,
    ),
    '</ul>',
    `<p>${link(build.url, `Build #${build.number}`)}</p>`,
    '</body></html>',
  ].join('\n');
  return { text, html };
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

export const regressionMarker = (builder: string, buildid: number): string =>
  `<!-- caliper:regressions builder=${encodeURIComponent(builder)} buildid=${buildid} -->`;

/** The PR comment: one table of every series that regressed. */
export function regressionMarkdown(report: BuildReport): string {
  const items = byMagnitude(report.regressions ?? []);
  const { build } = report;
  const lines = [
    regressionMarker(build.builder, build.buildid),
    `### 🔺 Caliper · ${cell(build.builder)} [#${build.number}](${build.url}): ${items.length} series regressed`,
    '',
    '| series | tags | before | after | change | p | builds |',
    '|---|---|---:|---:|---:|---:|---|',
    ...items.map((r) => {
      const builds = [r.before.url ? `[before](${r.before.url})` : '–', r.after.url ? `[after](${r.after.url})` : '–'].join(' · ');
      return `| [${cell(r.series)}](${r.chartUrl}) | ${cell(tagsText(r.tags)) || '–'} | ${number(r.meanBefore)} | ${withUnit(r.meanAfter, r.unit)} | ${formatPercent(r.magnitudePercent)} | ${pText(r.pValue)} | ${builds} |`;
    }),
    '',
    '<sub>Confirmed change points (E-divisive with a t-test) in the series this build measured.</sub>',
  ];
  return lines.join('\n') + '\n';
}
