/**
 * The text (and HTML) of a build's mail: what Buildbot's default mail says (the result, the link,
 * the blamelist) plus what a reader needs to act without opening the UI: the failed steps, the tail
 * of the failing step's log, the metric regressions and the changes.
 */
import { resultName, type Result } from '../../core/results.ts';
import type { BuildReport, MetricDelta } from './reporter.ts';

export interface LogTail {
  step: string;
  log: string;
  /** The last lines, oldest first (already masked). */
  lines: string[];
  /** How many lines the log has in all. */
  total: number;
}

export interface MailFacts {
  report: BuildReport;
  /** The builder's previous finished build, when it was looked up. */
  previous: { number: number; results: Result } | null;
  logTail: LogTail | null;
}

export interface MailMessage {
  subject: string;
  text: string;
  html: string;
}

/** `%(result)s`, `%(builder)s`, `%(number)s`, `%(title)s`, `%(branch)s` in a subject template (Buildbot's syntax). */
export function renderSubject(template: string, report: BuildReport, title: string): string {
  const values: Record<string, string> = {
    result: report.build.result ?? 'unknown',
    builder: report.build.builder,
    number: String(report.build.number),
    title,
    branch: report.source.branch ?? '',
  };
  // One line: a newline in a header would start another header.
  return template.replace(/%\((\w+)\)s/g, (whole, key: string) => values[key] ?? whole).replace(/[\r\n]+/g, ' ');
}

export const DEFAULT_SUBJECT = '%(title)s: %(result)s in builder %(builder)s #%(number)s';

/** What happened in one phrase, as Buildbot's "status detected". */
function headline(facts: MailFacts): string {
  const { build } = facts.report;
  const now = build.result ?? 'unknown';
  const before = facts.previous ? resultName(facts.previous.results) : null;
  if (before === null || before === now) return `Build #${build.number} of ${build.builder} ended ${now}.`;
  if (now === 'failure')
    return `New failure: build #${build.number} of ${build.builder} failed; build #${facts.previous?.number} ended ${before}.`;
  if (now === 'success')
    return `Fixed: build #${build.number} of ${build.builder} passed; build #${facts.previous?.number} ended ${before}.`;
  return `Build #${build.number} of ${build.builder} ended ${now} (build #${facts.previous?.number} ended ${before}).`;
}

const failedSteps = (report: BuildReport) => report.steps.filter((s) => s.result === 'failure' || s.result === 'exception');

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toPrecision(6).replace(/\.?0+$/, '');
}

function regressionLine(m: MetricDelta): string {
  const unit = m.unit ? ` ${m.unit}` : '';
  const delta = m.deltaPercent === null ? '' : ` (${m.deltaPercent >= 0 ? '+' : ''}${m.deltaPercent.toFixed(1)} %)`;
  const baseline = m.baseline === null ? '' : `, baseline ${formatNumber(m.baseline)}${unit}`;
  return `${m.series}${m.step ? ` [${m.step}]` : ''}: ${formatNumber(m.value)}${unit}${baseline}${delta}`;
}

const firstLine = (s: string) => s.split('\n', 1)[0]?.trim() ?? '';
const shortRevision = (r: string) => (/^[0-9a-f]{40}$/i.test(r) ? r.slice(0, 12) : r);

/** The body's sections, each a title and its lines; the text and HTML forms are drawn from the same. */
function sections(facts: MailFacts): { title: string; lines: string[]; pre?: boolean }[] {
  const { report } = facts;
  const out: { title: string; lines: string[]; pre?: boolean }[] = [];
  const source = report.source;
  const pr = source.pullRequest;
  const what = [source.repository, source.branch, source.revision ? shortRevision(source.revision) : null].filter(Boolean).join(' ');
  const summary = [`Result: ${report.build.result ?? 'unknown'} (${report.build.state_string})`];
  if (what) summary.push(`Source: ${what}`);
  if (pr) summary.push(`Pull request #${pr.number}: ${pr.title} (${pr.url})`);
  summary.push(`Details: ${report.build.url}`);
  out.push({ title: headline(facts), lines: summary });
  const failed = failedSteps(report);
  if (failed.length > 0) out.push({ title: 'Failed steps', lines: failed.map((s) => `${s.name}: ${s.result} (${s.state_string})`) });
  if (facts.logTail) {
    const t = facts.logTail;
    const shown = t.lines.length < t.total ? `last ${t.lines.length} of ${t.total} lines` : `${t.total} lines`;
    out.push({ title: `Log of ${t.step} (${t.log}), ${shown}`, lines: t.lines, pre: true });
  }
  const regressions = report.metrics.filter((m) => m.flag === 'regression');
  if (regressions.length > 0) out.push({ title: 'Metric regressions', lines: regressions.map(regressionLine) });
  if (report.changes.length > 0)
    out.push({
      title: 'Changes',
      lines: report.changes.map((c) => `${shortRevision(c.revision)} by ${c.author}: ${firstLine(c.comments)}`),
    });
  return out;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export function composeMail(facts: MailFacts, subject: string): MailMessage {
  const parts = sections(facts);
  const text = parts
    .map((s) => [s.title, ...s.lines.map((l) => (s.pre ? `    ${l}` : `  ${l}`))].join('\n'))
    .join('\n\n')
    .concat('\n');
  const html = [
    '<!doctype html><html><body>',
    ...parts.map((s, i) => {
      const title = i === 0 ? `<p><strong>${escapeHtml(s.title)}</strong></p>` : `<h3>${escapeHtml(s.title)}</h3>`;
      const body = s.pre
        ? `<pre>${s.lines.map(escapeHtml).join('\n')}</pre>`
        : `<ul>${s.lines.map((l) => `<li>${linkify(escapeHtml(l))}</li>`).join('')}</ul>`;
      return title + body;
    }),
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

/** Makes the http(s) addresses of an (escaped) line links. */
function linkify(escaped: string): string {
  return escaped.replace(/\bhttps?:\/\/[^\s<>()"]+/g, (url) => `<a href="${url}">${url}</a>`);
}
