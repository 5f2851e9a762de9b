/**
 * `yamlProjects('projects/')`: the builders and schedulers of every `*.yml` (or `*.yaml`) project in
 * a folder, for a master.config.ts to list beside its own (docs/projects.md). A project goes through
 * stages, each adding to one list of issues so the user sees every mistake of every file at once:
 *   1. YAML syntax (the yaml library; duplicate keys are errors),
 *   2. shape (yaml-project-schema.ts, unknown keys refused),
 *   3. references (named scripts, the runs a trigger names, one command per step),
 *   4. builders and schedulers (yaml-project-builders.ts), checked by compileConfig, the pipeline a
 *      TypeScript builder goes through, whose errors are placed back in the file.
 * Every issue names the file, line, column and key: `projects/app.yml:7:5: runs[0].steps[1].comand`.
 *
 * A relative folder is read from the folder of the config file being loaded (the loader runs the
 * config module inside `withConfigDir`), so `caliper start --config elsewhere/master.config.ts`
 * finds `elsewhere/projects/`; outside the loader, from the working directory.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, type ConfigIssue } from '../../core/errors/index.ts';
import { issueMessage } from '../../core/zod-issue.ts';
import { compileConfig } from './compile.ts';
import { projectBuilders, type BuilderInput, type SchedulerInput, type TranslatedProject } from './yaml-project-builders.ts';
import { yamlIssue, type YamlPath, type YamlSource } from './yaml-positions.ts';
import { yamlProjectSchema, type YamlProject } from './yaml-project-schema.ts';
import type { PropertyValue } from '../../steps/properties/properties.ts';

export interface YamlProjects {
  builders: BuilderInput[];
  schedulers: SchedulerInput[];
}

export interface YamlProjectOptions {
  /**
   * Build properties every run starts with (a run's own `properties` win): what the projects may
   * read as `%(prop:NAME)s` but cannot know themselves, such as a path on this machine.
   */
  properties?: Record<string, PropertyValue>;
}

const configDir = new AsyncLocalStorage<string>();

/** Runs `load` (the import of a config module) with relative project folders read from `dir`. */
export function withConfigDir<T>(dir: string, load: () => T): T {
  return configDir.run(dir, load);
}

const PROJECT_NAME = /^[A-Za-z0-9_.-]+$/;

/** The builders and schedulers of the YAML projects in `dir`; throws a ConfigError listing every problem. */
export function yamlProjects(dir: string | URL, options: YamlProjectOptions = {}): YamlProjects {
  const full = typeof dir === 'string' ? path.resolve(configDir.getStore() ?? process.cwd(), dir) : fileURLToPath(dir);
  const shown = displayName(full);
  let files: string[];
  try {
    files = fs
      .readdirSync(full)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort();
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : String(e);
    throw new ConfigError([{ path: '', message: `cannot read the YAML projects folder: ${why}` }], shown);
  }
  const issues: ConfigIssue[] = [];
  const out: YamlProjects = { builders: [], schedulers: [] };
  const seen = new Map<string, string>(); // builder name -> where it was first defined
  for (const file of files) {
    const project = readYamlProject(path.join(full, file), options);
    issues.push(...project.issues);
    if (!project.translated) continue;
    project.translated.builders.forEach((b, i) => {
      const at = project.translated?.origins.builders[i]?.run ?? [];
      const first = seen.get(b.name);
      if (first !== undefined && project.source)
        issues.push(yamlIssue(project.source, [...at, 'name'], `run "${b.name}" is also defined at ${first}: builder names are unique`));
      else if (project.source) seen.set(b.name, yamlIssue(project.source, [...at, 'name'], '').path);
    });
    out.builders.push(...project.translated.builders);
    out.schedulers.push(...project.translated.schedulers);
  }
  if (issues.length > 0) throw new ConfigError(issues, shown);
  return out;
}

/** One project file through every stage: its builders and schedulers, or the issues that stopped it. */
export function readYamlProject(
  file: string,
  options: YamlProjectOptions = {},
): { translated: TranslatedProject | null; issues: ConfigIssue[]; source: YamlSource | null } {
  const name = displayName(file);
  const projectName = path.basename(file).replace(/\.ya?ml$/, '');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { translated: null, issues: [{ path: name, message: `cannot read: ${String(e)}` }], source: null };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  const source: YamlSource = { name, doc, lines };
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      // The library's message repeats the position and quotes the line: the first sentence is enough.
      return { path: `${name}:${pos?.line ?? 1}:${pos?.col ?? 1}`, message: `YAML syntax: ${e.message.split(/ at line \d+/)[0]}` };
    });
    return { translated: null, issues, source };
  }
  const issues: ConfigIssue[] = [];
  if (!PROJECT_NAME.test(projectName))
    issues.push({ path: `${name}:1:1`, message: `the file's name is the project's: letters, digits, "_", "." or "-" only` });
  const parsed = yamlProjectSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const at = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      if (issue.code === 'unrecognized_keys') issues.push(...issue.keys.map((k) => yamlIssue(source, at, `unknown key "${k}"`, k)));
      else issues.push(yamlIssue(source, at, issueMessage(issue)));
    }
    return { translated: null, issues, source };
  }
  issues.push(...referenceIssues(parsed.data).map((i) => yamlIssue(source, i.at, i.message)));
  if (issues.length > 0) return { translated: null, issues, source };
  const translated = projectBuilders(parsed.data, projectName, options.properties ?? {});
  issues.push(...compiledIssues(translated, source));
  return { translated: issues.length > 0 ? null : translated, issues, source };
}

/** Stage 3: what the shape cannot say: one command per step, and names that must refer to something. */
function referenceIssues(project: YamlProject): { at: YamlPath; message: string }[] {
  const issues: { at: YamlPath; message: string }[] = [];
  const scripts = Object.keys(project.scripts ?? {});
  const runNames = project.runs.map((r) => r.name);
  const commandIssues = (spec: { command?: unknown; script?: string | undefined }, at: YamlPath, what: string) => {
    if (spec.command !== undefined && spec.script !== undefined)
      issues.push({ at, message: `${what} has both a command and a script: keep one` });
    else if (spec.command === undefined && spec.script === undefined) issues.push({ at, message: `${what} needs a command or a script` });
    if (spec.script !== undefined && !scripts.includes(spec.script))
      issues.push({
        at: [...at, 'script'],
        message: `no script named "${spec.script}" under scripts${scripts.length > 0 ? ` (there are: ${scripts.join(', ')})` : ''}`,
      });
  };
  const kindIssues = (spec: Record<string, unknown>, at: YamlPath) => {
    const kinds = ['measure', 'lint', 'property'].filter((k) => spec[k] !== undefined);
    if (kinds.length > 1)
      issues.push({ at: [...at, kinds[1] ?? ''], message: `a step is one of measure, lint or property, not ${kinds.join(' and ')}` });
  };
  project.runs.forEach((run, r) => {
    const at: YamlPath = ['runs', r];
    if (run.steps) {
      for (const key of ['command', 'script', 'measure', 'lint', 'property', 'workdir'] as const)
        if (run[key] !== undefined) issues.push({ at: [...at, key], message: `a run with steps says "${key}" in its steps` });
      const names = new Set<string>();
      run.steps.forEach((step, s) => {
        commandIssues(step, [...at, 'steps', s], 'a step');
        kindIssues(step, [...at, 'steps', s]);
        if (names.has(step.name))
          issues.push({ at: [...at, 'steps', s, 'name'], message: `step name "${step.name}" is used twice in this run` });
        names.add(step.name);
      });
    } else {
      commandIssues(run, at, 'a run without steps');
      kindIssues(run, at);
    }
    if (runNames.indexOf(run.name) !== r) issues.push({ at: [...at, 'name'], message: `run "${run.name}" is defined twice in this file` });
  });
  (project.triggers ?? []).forEach((t, i) => {
    (t.runs ?? []).forEach((name, j) => {
      if (!runNames.includes(name))
        issues.push({ at: ['triggers', i, 'runs', j], message: `no run named "${name}" in this project (runs: ${runNames.join(', ')})` });
    });
  });
  return issues;
}

/**
 * Stage 4: the project's builders and schedulers through compileConfig, as a config of their own.
 * Agents are the master.config.ts's, unknown here: stand-ins named as the runs name them, with every
 * label the runs ask for, let everything else be checked; the master's compile checks the real ones.
 */
function compiledIssues(project: TranslatedProject, source: YamlSource): ConfigIssue[] {
  const names = [...new Set(project.builders.flatMap((b) => b.agents ?? []))];
  const labels = [...new Set(project.builders.flatMap((b) => b.labels ?? []))];
  const agents = (names.length > 0 ? names : ['any']).map((name) => ({ name, token: 'yaml-project-check', labels }));
  try {
    compileConfig({ agents, builders: project.builders, schedulers: project.schedulers });
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.issues.flatMap((issue) => {
      const at = yamlPathOf(parseIssuePath(issue.path), project);
      return at ? [yamlIssue(source, at, issue.message)] : [];
    });
  }
}

/** `builders[0].factory.steps[1].env.FOO` -> ['builders', 0, 'factory', 'steps', 1, 'env', 'FOO'] (formatPath's inverse). */
export function parseIssuePath(text: string): YamlPath {
  const out: YamlPath = [];
  for (const m of text.matchAll(/\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([^.[\]]+)/g)) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(String(JSON.parse(m[2])));
    else if (m[3] !== undefined) out.push(m[3]);
  }
  return out;
}

const SCHEDULER_KEYS: Record<string, string> = { builderNames: 'runs', branchRegex: 'branches', baseBranch: 'branches' };

/** Where in the project file a compile issue's path points; null for the stand-in agents. */
function yamlPathOf(at: YamlPath, project: TranslatedProject): YamlPath | null {
  const [root, index, ...rest] = at;
  if (root === 'builders' && typeof index === 'number') {
    const origin = project.origins.builders[index];
    if (!origin) return [];
    const [factory, steps, s, option, ...more] = rest;
    if (factory !== 'factory') return [...origin.run, ...rest];
    if (steps !== 'steps' || typeof s !== 'number')
      return [...origin.run, ...(origin.run.length > 0 && steps === 'steps' ? ['steps'] : [])];
    const step = origin.steps[s];
    if (!step) return origin.run;
    if (option === undefined) return step.at;
    return [...(step.options[String(option)] ?? [...step.at, option]), ...more];
  }
  if (root === 'schedulers' && typeof index === 'number') {
    const origin = project.origins.schedulers[index] ?? [];
    const [key, ...more] = rest;
    return key === undefined ? origin : [...origin, SCHEDULER_KEYS[String(key)] ?? key, ...more];
  }
  if (root === 'agents') return null;
  return root === 'builders' ? ['runs'] : [];
}

/** A path as the user knows it: relative to the working directory when it is under it. */
function displayName(full: string): string {
  const rel = path.relative(process.cwd(), full);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : full;
}

export type { BuilderInput, SchedulerInput } from './yaml-project-builders.ts';
