/**
 * The config pipeline: what the user wrote -> shape check with defaults (schema.ts) -> cross-checks
 * (names that refer to each other) -> each step's own options -> a CompiledConfig the master runs.
 * Every stage adds to one list of issues, so a user sees all their mistakes at once.
 */
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors/index.ts';
import { parseDbUrl } from '../db/db-kind.ts';
import type { Step } from '../../steps/step.ts';
import { isStep } from '../../steps/step.ts';
import { configSchema, type ParsedConfig } from './schema.ts';
import { formatPath } from './format-path.ts';

export type CompiledConfig = Omit<ParsedConfig, 'builders'> & { builders: CompiledBuilder[] };
export type CompiledBuilder = ParsedConfig['builders'][number] & { steps: Step[]; dirname: string };

function zodIssues(error: z.ZodError, prefix: PropertyKey[] = []): ConfigIssue[] {
  return error.issues.map((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return { path: formatPath(path), message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` };
    }
    return { path: formatPath(path), message: issue.message };
  });
}

function duplicates(names: string[]): Set<string> {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const n of names) (seen.has(n) ? dup : seen).add(n);
  return dup;
}

export function compileConfig(input: unknown, file?: string): CompiledConfig {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    // Step options are still checked so the user sees those errors in the same run.
    const issues = zodIssues(parsed.error);
    if (typeof input === 'object' && input !== null) issues.push(...stepIssues((input as { builders?: unknown }).builders));
    throw new ConfigError(dedupe(issues), file);
  }
  const config = parsed.data;
  const issues: ConfigIssue[] = [];

  try {
    parseDbUrl(config.db.url);
  } catch (e) {
    issues.push({ path: 'db.url', message: (e as Error).message });
  }

  const agentNames = config.agents.map((a) => a.name);
  for (const d of duplicates(agentNames)) issues.push({ path: 'agents', message: `agent "${d}" is defined twice` });
  const builderNames = config.builders.map((b) => b.name);
  for (const d of duplicates(builderNames)) issues.push({ path: 'builders', message: `builder "${d}" is defined twice` });

  config.builders.forEach((b, i) => {
    b.agents?.forEach((a, j) => {
      if (!agentNames.includes(a)) issues.push({ path: `builders[${i}].agents[${j}]`, message: `no agent named "${a}" in agents` });
    });
    const fits = config.agents.filter((a) => agentFits(b, a));
    if (config.agents.length > 0 && fits.length === 0) {
      issues.push({ path: `builders[${i}]`, message: 'no configured agent can run this builder (check agents and labels)' });
    }
  });
  issues.push(...stepIssues(config.builders));

  config.schedulers.forEach((s, i) => {
    s.builderNames.forEach((n, j) => {
      if (!builderNames.includes(n)) issues.push({ path: `schedulers[${i}].builderNames[${j}]`, message: `no builder named "${n}"` });
    });
  });
  for (const d of duplicates(config.schedulers.map((s) => s.name))) issues.push({ path: 'schedulers', message: `scheduler "${d}" is defined twice` });

  if (issues.length > 0) throw new ConfigError(issues, file);
  return {
    ...config,
    builders: config.builders.map((b) => ({ ...b, steps: [...b.factory.steps], dirname: b.workdir ?? b.name })),
  };
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
    const factory = (b as { factory?: { steps?: unknown } } | null)?.factory;
    if (!factory || !Array.isArray(factory.steps)) return;
    const steps = factory.steps as unknown[];
    const names: string[] = [];
    steps.forEach((step, j) => {
      const at = ['builders', i, 'factory', 'steps', j];
      if (!isStep(step)) {
        issues.push({ path: formatPath(at), message: 'must be a step (new ShellCommand({...}) or another Step)' });
        return;
      }
      const result = step.schema.safeParse(step.options);
      if (!result.success) issues.push(...zodIssues(result.error, at));
      if (typeof step.options?.name === 'string') names.push(step.options.name);
    });
    for (const d of duplicates(names)) issues.push({ path: formatPath(['builders', i, 'factory', 'steps']), message: `step name "${d}" is used twice` });
    if (steps.length === 0) issues.push({ path: formatPath(['builders', i, 'factory']), message: 'has no steps' });
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
