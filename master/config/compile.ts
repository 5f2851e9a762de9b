/**
 * The config pipeline: what the user wrote -> shape check with defaults (schema.ts) -> cross-checks
 * (names that refer to each other) -> each step's own options -> a CompiledConfig the master runs.
 * Every stage adds to one list of issues, so a user sees all their mistakes at once.
 */
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../../core/errors/index.ts';
import { parseDbUrl } from '../db/db-kind.ts';
import { pollerName } from '../changes/change-source-config.ts';
import type { Step } from '../../steps/step.ts';
import { isStep } from '../../steps/step.ts';
import { configSchema, type ParsedConfig } from './schema.ts';
import { formatPath } from '../../core/format-path.ts';
import { describeIssues } from '../../core/zod-issue.ts';
import { errorMessage } from '../../core/error-message.ts';
import { isRecord } from '../../core/is-record.ts';
import { renderableProblems } from '../../steps/properties/renderable-problems.ts';
import { isInterpolate, type Renderable } from '../../steps/properties/interpolate.ts';
import type { PropertyValue } from '../../steps/properties/properties.ts';
import { expandMatrix, type MatrixCell } from './matrix.ts';
import { bisectIssues } from '../bisect/bisect-options.ts';
import { toSpec } from './matrix-schema.ts';
import { confirmingAgentGate } from '../regressions/confirm-agent.ts';

export type CompiledConfig = Omit<ParsedConfig, 'builders'> & {
  builders: CompiledBuilder[];
  /** What is accepted but likely a mistake (a scheduler without builders): for the user to read. */
  warnings: ConfigIssue[];
};
type ParsedBuilder = ParsedConfig['builders'][number];
export type CompiledBuilder = Omit<ParsedBuilder, 'properties'> & {
  steps: Step[];
  dirname: string;
  /** The builder's plain property values. */
  properties: Record<string, PropertyValue>;
  /** Its properties given as interpolate(...) or renderer(fn): rendered when each build starts. */
  renderableProperties: Record<string, Renderable<unknown>>;
  /** A matrix builder's cells (config/matrix.ts): one build of each per request; null for a plain builder. */
  matrixCells: MatrixCell[] | null;
};

/** A builder's properties: plain values apart from those to render at each build's start. */
function splitProperties(properties: ParsedBuilder['properties']): Pick<CompiledBuilder, 'properties' | 'renderableProperties'> {
  const plain: Record<string, PropertyValue> = {};
  const renderable: Record<string, Renderable<unknown>> = {};
  for (const [name, value] of Object.entries(properties)) {
    if (isInterpolate(value) || typeof value === 'function') renderable[name] = value;
    else plain[name] = value;
  }
  return { properties: plain, renderableProperties: renderable };
}

function zodIssues(error: z.ZodError, prefix: PropertyKey[] = []): ConfigIssue[] {
  return describeIssues(error, prefix);
}

function duplicates(names: string[]): Set<string> {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const n of names) (seen.has(n) ? dup : seen).add(n);
  return dup;
}

export function compileConfig(input: unknown, file?: string): CompiledConfig {
  const parsed = configSchema.safeParse(input);
  // Cross-references and step options are checked even when the shape is wrong, on whatever can be
  // read, so the user sees every mistake in one run.
  const issues: ConfigIssue[] = parsed.success ? [] : zodIssues(parsed.error);
  issues.push(
    ...crossIssues(input),
    ...stepIssues(isRecord(input) ? input.builders : undefined),
    ...trackingIssues(isRecord(input) ? input.builders : undefined),
    ...bisectIssues(isRecord(input) ? input.builders : undefined),
    // interpolate(...) templates outside steps (builder and scheduler properties, ...): steps are stepIssues'.
    ...renderableProblems(input).map((p) => ({ path: formatPath(p.path), message: p.message })),
  );
  if (!parsed.success || issues.length > 0) throw new ConfigError(dedupe(issues), file);
  const config = parsed.data;
  return {
    ...config,
    builders: config.builders.map((b) => ({
      ...b,
      ...splitProperties(b.properties),
      steps: [...b.factory.steps],
      dirname: b.workdir ?? builderDirname(b.name),
      matrixCells: b.matrix ? expandMatrix(toSpec(b.matrix)) : null,
      // confirm.agent: confirming reruns run on the same agent as the build after the change, or another.
      canStartBuild: b.confirm?.agent ? confirmingAgentGate(b.confirm.agent, b.canStartBuild) : b.canStartBuild,
    })),
    warnings: config.schedulers.flatMap((s, i) =>
      s.builderNames.length > 0
        ? []
        : [{ path: `schedulers[${i}].builderNames`, message: `is empty: scheduler "${s.name}" requests no builds` }],
    ),
  };
}

/** A builder's directory on the agent when it sets no workdir: its name, "_" for each space. */
export function builderDirname(name: string): string {
  return name.replaceAll(' ', '_');
}

const records = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.map((x) => (isRecord(x) ? x : {})) : []);
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
/** The strings of a list with their own indices (non-strings are the schema's to report). */
const indexedStrings = (v: unknown): [string, number][] =>
  Array.isArray(v) ? v.flatMap((x, i): [string, number][] => (typeof x === 'string' ? [[x, i]] : [])) : [];
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function crossIssues(input: unknown): ConfigIssue[] {
  if (!isRecord(input)) return [];
  const issues: ConfigIssue[] = [];
  const db = isRecord(input.db) ? str(input.db.url) : undefined;
  if (db !== undefined) {
    try {
      parseDbUrl(db);
    } catch (e) {
      issues.push({ path: 'db.url', message: errorMessage(e) });
    }
  }
  const agents = records(input.agents).map((a) => ({ name: str(a.name) ?? '', labels: strings(a.labels) ?? [] }));
  const agentNames = agents.map((a) => a.name);
  for (const d of duplicates(agentNames)) issues.push({ path: 'agents', message: `agent "${d}" is defined twice` });
  const builders = records(input.builders);
  const builderNames = builders.map((b) => str(b.name) ?? '');
  for (const d of duplicates(builderNames)) issues.push({ path: 'builders', message: `builder "${d}" is defined twice` });
  // "a b" and "a_b" would share a directory on the agent: one of them needs a workdir.
  const derived = [...new Set(builders.filter((b) => b.workdir === undefined).map((b) => str(b.name) ?? ''))];
  for (const d of duplicates(derived.map(builderDirname)))
    issues.push({ path: 'builders', message: `two builders would share the directory "${d}" on the agent (give one a workdir)` });
  builders.forEach((b, i) => {
    const wanted = { agents: strings(b.agents), labels: strings(b.labels) };
    for (const [a, j] of indexedStrings(b.agents)) {
      if (!agentNames.includes(a)) issues.push({ path: `builders[${i}].agents[${j}]`, message: `no agent named "${a}" in agents` });
    }
    if (agents.length > 0 && !agents.some((a) => agentFits(wanted, a))) {
      issues.push({ path: `builders[${i}]`, message: 'no configured agent can run this builder (check agents and labels)' });
    }
  });
  // Two pollers with one name would share a clone and its record of what was seen.
  const pollers = records(input.changeSources).map((c) => pollerName({ name: str(c.name), repourl: str(c.repourl) ?? '' }));
  for (const d of duplicates(pollers)) {
    issues.push({ path: 'changeSources', message: `two change sources are named "${d}" (give each a distinct name)` });
  }
  const lockNames = records(input.locks).map((l) => str(l.name) ?? '');
  for (const d of duplicates(lockNames)) issues.push({ path: 'locks', message: `lock "${d}" is defined twice` });
  builders.forEach((b, i) => {
    const taken = records(b.locks).map((access) => str(access.lock) ?? '');
    taken.forEach((lock, j) => {
      if (lock && !lockNames.includes(lock))
        issues.push({ path: `builders[${i}].locks[${j}].lock`, message: `no lock named "${lock}" in locks` });
    });
    for (const d of duplicates(taken.filter(Boolean)))
      issues.push({ path: `builders[${i}].locks`, message: `lock "${d}" is listed twice` });
  });
  records(input.locks).forEach((l, i) => {
    for (const name of Object.keys(isRecord(l.maxCountForAgent) ? l.maxCountForAgent : {})) {
      if (!agentNames.includes(name))
        issues.push({ path: `locks[${i}].maxCountForAgent.${name}`, message: `no agent named "${name}" in agents` });
    }
  });
  const schedulers = records(input.schedulers);
  schedulers.forEach((s, i) => {
    for (const [n, j] of indexedStrings(s.builderNames)) {
      if (!builderNames.includes(n)) issues.push({ path: `schedulers[${i}].builderNames[${j}]`, message: `no builder named "${n}"` });
    }
  });
  for (const d of duplicates(schedulers.map((s) => str(s.name) ?? '')))
    issues.push({ path: 'schedulers', message: `scheduler "${d}" is defined twice` });
  issues.push(...triggerIssues(builders, schedulers), ...dependentIssues(schedulers));
  // One store, one Grafana, one Prometheus; reporters may be many (each with its own name).
  const singletons = new Set(['influxdb', 'grafana', 'prometheus']);
  for (const d of duplicates(records(input.services).flatMap((s) => (singletons.has(str(s.type) ?? '') ? [str(s.type) ?? ''] : []))))
    issues.push({ path: 'services', message: `only one ${d} service can be configured` });
  return issues;
}

/**
 * A dependent scheduler's `upstream` must name another scheduler whose builds it can follow, and
 * dependents must not follow each other in a circle (each would wait for the other's builds).
 */
function dependentIssues(schedulers: Record<string, unknown>[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const types = new Map(schedulers.map((s) => [str(s.name) ?? '', str(s.type) ?? '']));
  const upstreamOf = new Map(
    schedulers.flatMap((s) => (s.type === 'dependent' && typeof s.upstream === 'string' ? [[str(s.name) ?? '', s.upstream] as const] : [])),
  );
  schedulers.forEach((s, i) => {
    if (s.type !== 'dependent' || typeof s.upstream !== 'string') return;
    const at = `schedulers[${i}].upstream`;
    const upstreamType = types.get(s.upstream);
    if (upstreamType === undefined) issues.push({ path: at, message: `no scheduler named "${s.upstream}" in schedulers` });
    else if (upstreamType === 'force')
      issues.push({
        path: at,
        message: `"${s.upstream}" is a force scheduler: forced builds are not followed (name a scheduler that requests builds itself)`,
      });
    else {
      // Follow the chain of upstreams: back to this scheduler is a circle.
      const seen = new Set<string>();
      for (let next: string | undefined = s.upstream; next !== undefined && !seen.has(next); next = upstreamOf.get(next)) {
        if (next === s.name) {
          issues.push({
            path: at,
            message: `"${s.name}" would follow its own builds: dependent schedulers in a circle (${[s.name, ...seen, next].join(' follows ')})`,
          });
          break;
        }
        seen.add(next);
      }
    }
  });
  return issues;
}

/**
 * A Trigger step must name triggerable schedulers, and builds must not wait for each other in a
 * circle (a builder whose waiting Trigger leads back to itself would wait for ever). A nightly
 * triggerable scheduler is only armed by a trigger: nothing waits for its builds.
 */
function triggerIssues(builders: Record<string, unknown>[], schedulers: Record<string, unknown>[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const triggerable = new Map(
    schedulers
      .filter((s) => s.type === 'triggerable' || s.type === 'nightlyTriggerable')
      .map((s) => [str(s.name), s.type === 'triggerable' ? (strings(s.builderNames) ?? []) : []]),
  );
  const waitsFor = new Map<string, { to: string[]; at: string }[]>();
  builders.forEach((b, i) => {
    const steps: unknown[] = isRecord(b.factory) && Array.isArray(b.factory.steps) ? b.factory.steps : [];
    steps.forEach((step, j) => {
      if (!isStep(step)) return;
      const options: unknown = step.options;
      if (!isRecord(options)) return;
      const at = `builders[${i}].factory.steps[${j}]`;
      step.triggers().forEach((name, k) => {
        const targets = triggerable.get(name);
        if (!targets)
          issues.push({
            path: `${at}.schedulerNames[${k}]`,
            message: `no triggerable scheduler named "${name}" (triggerableScheduler({...}) in schedulers)`,
          });
        else if (options.waitForFinish === true) {
          const from = str(b.name) ?? '';
          waitsFor.set(from, [...(waitsFor.get(from) ?? []), { to: targets, at }]);
        }
      });
    });
  });
  for (const [from, edges] of waitsFor) {
    for (const edge of edges) {
      // Breadth-first from the builders this step waits for: does waiting lead back to `from`?
      const seen = new Set<string>();
      const queue = [...edge.to];
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        if (next === from) {
          issues.push({
            path: edge.at,
            message: `waits for builds that wait for a build of "${from}" again: they would wait for each other for ever`,
          });
          break;
        }
        if (seen.has(next)) continue;
        seen.add(next);
        for (const e of waitsFor.get(next) ?? []) queue.push(...e.to);
      }
    }
  }
  return issues;
}

export function agentFits(
  builder: { agents?: string[] | undefined; labels?: string[] | undefined },
  agent: { name: string; labels: string[] },
): boolean {
  if (builder.agents && !builder.agents.includes(agent.name)) return false;
  if (builder.labels && !builder.labels.every((l) => agent.labels.includes(l))) return false;
  return true;
}

function stepIssues(builders: unknown): ConfigIssue[] {
  if (!Array.isArray(builders)) return [];
  const issues: ConfigIssue[] = [];
  builders.forEach((b: unknown, i) => {
    const factory = isRecord(b) && isRecord(b.factory) ? b.factory : undefined;
    if (!factory || !Array.isArray(factory.steps)) return;
    const steps: unknown[] = factory.steps;
    const names: string[] = [];
    steps.forEach((step, j) => {
      const at = ['builders', i, 'factory', 'steps', j];
      if (!isStep(step)) {
        issues.push({ path: formatPath(at), message: 'must be a step (new ShellCommand({...}) or another Step)' });
        return;
      }
      const result = step.schema.safeParse(step.options);
      if (!result.success) issues.push(...zodIssues(result.error, at));
      // A template Caliper cannot read is refused here, with its option's path, not rendered as is.
      for (const p of renderableProblems(step.options, at)) issues.push({ path: formatPath(p.path), message: p.message });
      if (typeof step.options?.name === 'string') names.push(step.options.name);
    });
    for (const d of duplicates(names))
      issues.push({ path: formatPath(['builders', i, 'factory', 'steps']), message: `step name "${d}" is used twice` });
    if (steps.length === 0) issues.push({ path: formatPath(['builders', i, 'factory']), message: 'has no steps' });
  });
  return issues;
}

/** trackStepTimes / trackCustomStep must name a step of the builder, trackProperties a property it can have. */
function trackingIssues(builders: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  records(builders).forEach((b, i) => {
    const factory = isRecord(b.factory) ? b.factory : {};
    // Steps whose options are missing are reported by stepIssues; they name nothing here.
    const steps = (Array.isArray(factory.steps) ? factory.steps : []).filter((s): s is Step => isStep(s) && isRecord(s.options));
    const stepNames = steps.map((s) => s.options?.name);
    const properties = new Set([
      ...steps.flatMap((s) => s.providedProperties()),
      ...Object.keys(isRecord(b.properties) ? b.properties : {}),
      'buildnumber',
    ]);
    records(b.metrics).forEach((t, j) => {
      const at = `builders[${i}].metrics[${j}]`;
      if ((t.type === 'stepTimes' || t.type === 'customStep') && typeof t.step === 'string') {
        if (!stepNames.includes(t.step)) issues.push({ path: `${at}.step`, message: `builder has no step named "${t.step}"` });
        // The default series `<step>_duration` must be a series name, which has no spaces.
        else if (t.type === 'stepTimes' && t.series === undefined && t.step.includes(' '))
          issues.push({ path: `${at}.series`, message: `step "${t.step}" has spaces in its name: give the series a name` });
        else if (t.type === 'customStep' && !steps.find((s) => s.options?.name === t.step)?.measures()) {
          issues.push({ path: `${at}.step`, message: `step "${t.step}" measures nothing (use MeasureShellCommand or Lint)` });
        }
      }
      if (t.type === 'property' && typeof t.property === 'string' && !properties.has(t.property)) {
        issues.push({
          path: `${at}.property`,
          message: `no step of this builder sets property "${t.property}" and the builder does not define it`,
        });
      }
    });
  });
  return issues;
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\n${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
