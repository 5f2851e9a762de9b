/**
 * The pull-request comment of `githubStatus({ githubComment: true })`: one comment per PR and builder
 * with the finished build's result, link and a table of its metric deltas against the base branch.
 *
 * One comment, edited in place: the comment opens with hidden markers naming the builder and the
 * build (`<!-- caliper:builder=NAME -->`, `<!-- caliper:buildid=N -->`). A delivery lists the PR's
 * comments, and PATCHes the one with its builder's marker, or creates it when there is none. A
 * delivery of an older build than the one the comment shows (a retry that arrives late) leaves it.
 */
import type { BuildReport, MetricDelta } from './reporter.ts';
import type { GithubApi, IssueComment, RepoRef } from './github-client.ts';
import { formatPercent } from './metric-deltas.ts';

/** Rows beyond this are summed up in a line: a comment stays readable (GitHub takes 65 536 chars). */
const MAX_ROWS = 40;

export const builderMarker = (builder: string): string => `<!-- caliper:builder=${encodeURIComponent(builder)} -->`;
const buildMarker = (buildid: number): string => `<!-- caliper:buildid=${buildid} -->`;

/** The build a comment of ours shows, from its marker; null when it has none. */
export function commentBuildId(body: string): number | null {
  const m = /<!-- caliper:buildid=(\d+) -->/.exec(body);
  return m?.[1] ? Number(m[1]) : null;
}

const RESULT_ICON: Record<string, string> = {
  success: '✅',
  warnings: '⚠️',
  failure: '❌',
  exception: '💥',
  cancelled: '⏹️',
  skipped: '⏭️',
  retry: '🔁',
};

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const number = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, ''));
const withUnit = (v: number | null, unit: string | null): string => (v === null ? '–' : unit ? `${number(v)} ${unit}` : number(v));
const flagText = (flag: MetricDelta['flag']): string =>
  flag === 'regression' ? '🔺 regression' : flag === 'improvement' ? '🟢 improvement' : '';
const order = (d: MetricDelta): number => (d.flag === 'regression' ? 0 : d.flag === 'improvement' ? 1 : 2);

/** The comment's markdown. */
export function renderComment(report: BuildReport): string {
  const { build } = report;
  const pr = report.source.pullRequest;
  const base = pr?.baseBranch ?? report.metrics.find((m) => m.baselineBranch)?.baselineBranch ?? null;
  const result = build.result ?? 'running';
  const lines = [
    builderMarker(build.builder),
    buildMarker(build.buildid),
    `### ${RESULT_ICON[result] ?? '⏳'} Caliper · ${cell(build.builder)} [#${build.number}](${build.url}): ${result}`,
    '',
  ];
  const rev = report.source.revision;
  if (rev) lines.push(`Built \`${rev.slice(0, 12)}\`${base ? `, measured against \`${cell(base)}\`` : ''}.`, '');
  const deltas = [...report.metrics].sort((a, b) => order(a) - order(b));
  if (deltas.length === 0) lines.push('No metrics were measured.');
  else {
    const baseHead = base ? `baseline (${cell(base)})` : 'baseline';
    lines.push(`| series | value | ${baseHead} | delta | flag |`, '|---|---:|---:|---:|---|');
    for (const d of deltas.slice(0, MAX_ROWS)) {
      const name = d.step && d.step !== d.series ? `${d.series} (${d.step})` : d.series;
      lines.push(
        `| ${cell(name)} | ${withUnit(d.value, d.unit)} | ${withUnit(d.baseline, d.unit)} | ${d.deltaPercent === null ? '–' : formatPercent(d.deltaPercent)} | ${flagText(d.flag)} |`,
      );
    }
    if (deltas.length > MAX_ROWS) lines.push('', `… and ${deltas.length - MAX_ROWS} more series: see the build's page.`);
    lines.push('', '<sub>Baseline: median of the last good builds; flagged beyond 3 robust deviations (MAD).</sub>');
  }
  return lines.join('\n') + '\n';
}

/** Creates the PR's comment for this builder, or edits it; leaves it when it already shows a newer build. */
export async function upsertComment(
  api: GithubApi,
  repo: RepoRef,
  issue: number,
  report: BuildReport,
): Promise<'created' | 'updated' | 'kept-newer'> {
  const marker = builderMarker(report.build.builder);
  const existing: IssueComment | undefined = (await api.listComments(repo, issue)).find((c) => c.body.includes(marker));
  const body = renderComment(report);
  if (!existing) {
    await api.createComment(repo, issue, body);
    return 'created';
  }
  const shown = commentBuildId(existing.body);
  if (shown !== null && shown > report.build.buildid) return 'kept-newer';
  await api.updateComment(repo, existing.id, body);
  return 'updated';
}
