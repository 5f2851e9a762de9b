/**
 * A `BuildReport` (reporter.ts) snapshotted from the repositories when an event happens: the build,
 * its builder's name, its steps, its properties (masked), its changes, what was built (a pull
 * request's facts from its properties), the page's URL and, once finished, its metric deltas.
 * Times are epoch seconds, as in the Data API. Also: the stored report read back (parseBuildReport).
 */
import { z } from 'zod';
import { isResult, resultName, type Result } from '../../core/results.ts';
import { parseJson } from '../../core/parse-json.ts';
import type { Repositories } from '../db/repositories.ts';
import type { BuildRow, ChangeRow } from '../db/entities.ts';
import type { SecretMasker } from '../build/secret-masker.ts';
import { parsePropertyMap } from '../../steps/properties/properties.ts';
import type { BuildReport, MetricDelta, RegressionItem, ReportEventKind } from './reporter.ts';

export type ReportEvent =
  | { kind: 'build.started'; buildid: number }
  | { kind: 'step.finished'; buildid: number; stepid: number }
  | { kind: 'build.finished'; buildid: number }
  | { kind: 'build.regressed'; buildid: number; regressions: RegressionItem[] };

/** A build's measured series against their baselines (metric-deltas.ts makes the real one). */
export type MetricDeltas = (buildid: number) => Promise<MetricDelta[]>;

export interface ReportSources {
  repos: Pick<Repositories, 'builds' | 'steps' | 'changes'>;
  masker: SecretMasker;
  builderName: (builderid: number) => string;
  /** web.publicUrl, ending in "/": a build's page is `<publicUrl>#/builds/<buildid>`. */
  publicUrl: string;
  metricDeltas: MetricDeltas;
}

const seconds = (ms: number) => ms / 1000;

/** The report of `event`, or null when its build is not stored (it cannot be: the event follows the write). */
export async function buildReport(event: ReportEvent, sources: ReportSources): Promise<BuildReport | null> {
  const { repos, masker } = sources;
  const build = await repos.builds.get(event.buildid);
  if (!build) return null;
  const started = event.kind === 'build.started';
  const stepRows = (await repos.steps.query({}, { buildid: build.id })).rows.filter((s) => !s.hidden);
  const stepRow = event.kind === 'step.finished' ? (stepRows.find((s) => s.id === event.stepid) ?? null) : null;
  const properties = masker.maskValue(
    Object.fromEntries(Object.entries(parsePropertyMap(build.properties, `build ${build.id}'s properties`)).map(([k, [v]]) => [k, v])),
  );
  const changes = (await repos.changes.ofBuildRequest(build.buildrequestid)).rows;
  // A build that ran fast may have finished by the time `started` is read: report what `started` saw.
  const results = started ? null : build.results;
  return {
    event: event.kind,
    build: {
      buildid: build.id,
      number: build.number,
      builderid: build.builderid,
      builder: sources.builderName(build.builderid),
      results,
      result: resultName(results),
      state_string: started ? 'starting' : masker.maskText(build.state_string),
      started_at: seconds(build.started_at),
      complete_at: started || build.complete_at === null ? null : seconds(build.complete_at),
      url: `${sources.publicUrl}#/builds/${build.id}`,
    },
    step:
      stepRow && isResult(stepRow.results)
        ? {
            stepid: stepRow.id,
            number: stepRow.number,
            name: stepRow.name,
            results: stepRow.results,
            result: resultName(stepRow.results) ?? 'success',
            state_string: masker.maskText(stepRow.state_string),
          }
        : null,
    steps: (stepRow ? stepRows.filter((s) => s.number <= stepRow.number) : started ? [] : stepRows).map((s) => ({
      number: s.number,
      name: s.name,
      results: s.results,
      result: resultName(s.results),
      state_string: masker.maskText(s.state_string),
    })),
    properties,
    source: sourceOf(build, changes, properties),
    changes: changes.map((c) => ({
      changeid: c.id,
      author: masker.maskText(c.author),
      comments: masker.maskText(c.comments),
      revision: c.revision,
      when_timestamp: seconds(c.when_timestamp),
    })),
    metrics: event.kind === 'build.finished' ? await sources.metricDeltas(build.id) : [],
    ...(event.kind === 'build.regressed' ? { regressions: event.regressions } : {}),
  };
}

/** What was built: the first change's, else the properties'; a pull request's facts from its properties. */
function sourceOf(build: BuildRow, changes: ChangeRow[], properties: Record<string, unknown>): BuildReport['source'] {
  const first = changes[0];
  const text = (name: string): string | null => {
    const v = properties[name];
    return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
  };
  return {
    repository: first?.repository ?? text('repository'),
    branch: first ? first.branch : text('branch'),
    revision: first?.revision ?? text('got_revision') ?? text('revision'),
    pullRequest: first?.category === 'pull' || (!first && text('pr_number') !== null) ? pullRequestOf(text) : null,
  };
}

function pullRequestOf(text: (name: string) => string | null): BuildReport['source']['pullRequest'] {
  const number = Number(text('pr_number'));
  const [title, url, baseBranch, headBranch, headRepository] = ['pr_title', 'pr_url', 'base_branch', 'head_branch', 'head_repository'].map(
    text,
  );
  if (!Number.isSafeInteger(number) || number <= 0 || !url || !baseBranch) return null;
  return { number, title: title ?? '', url, baseBranch, headBranch: headBranch ?? '', headRepository: headRepository ?? '' };
}

// The stored report, checked when read back (written by this or an earlier version of the master).
const result = z.custom<Result>((v) => isResult(v), 'a result code');
const resultNameSchema = z.enum(['success', 'warnings', 'failure', 'skipped', 'exception', 'retry', 'cancelled']);
const eventKind = z.enum(['build.started', 'build.finished', 'step.finished', 'build.regressed'] satisfies ReportEventKind[]);
const regressionEnd = z.object({ buildid: z.number().nullable(), revision: z.string().nullable(), url: z.string().nullable() });
const regressionItem: z.ZodType<RegressionItem> = z.object({
  id: z.number(),
  series: z.string(),
  tags: z.record(z.string(), z.string()),
  unit: z.string().nullable(),
  meanBefore: z.number(),
  meanAfter: z.number(),
  magnitudePercent: z.number().nullable(),
  pValue: z.number(),
  before: regressionEnd,
  after: regressionEnd,
  chartUrl: z.string(),
});
const buildReportSchema: z.ZodType<BuildReport> = z.object({
  event: eventKind,
  build: z.object({
    buildid: z.number(),
    number: z.number(),
    builderid: z.number(),
    builder: z.string(),
    results: result.nullable(),
    result: resultNameSchema.nullable(),
    state_string: z.string(),
    started_at: z.number(),
    complete_at: z.number().nullable(),
    url: z.string(),
  }),
  step: z
    .object({
      stepid: z.number(),
      number: z.number(),
      name: z.string(),
      results: result,
      result: resultNameSchema,
      state_string: z.string(),
    })
    .nullable(),
  steps: z.array(
    z.object({
      number: z.number(),
      name: z.string(),
      results: result.nullable(),
      result: resultNameSchema.nullable(),
      state_string: z.string(),
    }),
  ),
  properties: z.record(z.string(), z.unknown()),
  source: z.object({
    repository: z.string().nullable(),
    branch: z.string().nullable(),
    revision: z.string().nullable(),
    pullRequest: z
      .object({
        number: z.number(),
        title: z.string(),
        url: z.string(),
        baseBranch: z.string(),
        headBranch: z.string(),
        headRepository: z.string(),
      })
      .nullable(),
  }),
  changes: z.array(
    z.object({ changeid: z.number(), author: z.string(), comments: z.string(), revision: z.string(), when_timestamp: z.number() }),
  ),
  metrics: z.array(
    z.object({
      series: z.string(),
      step: z.string().nullable(),
      unit: z.string().nullable(),
      value: z.number(),
      baseline: z.number().nullable(),
      deltaPercent: z.number().nullable(),
      flag: z.enum(['regression', 'improvement']).nullable(),
      baselineBranch: z.string().nullable(),
    }),
  ),
  regressions: z.array(regressionItem).optional(),
});

/** A stored report read back; throws InvalidJsonError when it does not read as one. */
export function parseBuildReport(json: string): BuildReport {
  return parseJson(json, buildReportSchema, 'a stored build report');
}
