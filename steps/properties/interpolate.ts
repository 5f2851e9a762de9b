/**
 * Values rendered when a step runs (Buildbot's Interpolate), e.g.
 *   interpolate('git checkout %(prop:branch:-main)s')
 *   interpolate('%(kw:greeting)s from %(worker:name)s', { greeting: 'hi' })
 * The template is parsed once, here (interpolate-syntax.ts has the grammar); its `problems` are
 * reported by the config check with the option's path, so a step never renders a bad template.
 * Unlike Buildbot, `%(prop:NAME)s` of an unset property is an error naming it (use `:-` for a default);
 * `src` and `worker` attributes that are unknown for this build render as '' as in Buildbot.
 */
import { parseTemplate, type Segment, type Source, type SourceAttr, type WorkerAttr } from './interpolate-syntax.ts';

/** What the agent running the build said of itself (what `%(worker:...)s` reads). */
export interface WorkerInfo {
  name: string;
  os?: string;
  version?: string;
  labels?: string[];
}

export interface PropertyReader {
  get(name: string): unknown;
  has(name: string): boolean;
  /** A configured secret's value (rendered only into commands and environments; masked in output). */
  secret?(name: string): string | undefined;
  /** The build's agent, when the reader knows it. */
  worker?(): WorkerInfo | undefined;
}

const RENDERABLE = Symbol.for('caliper.renderable');

/** A keyword argument: a value or anything renderable. */
export type KeywordValue = Renderable<unknown>;

export class Interpolate {
  readonly [RENDERABLE] = true;
  private readonly segments: Segment[];
  /** Mistakes in the template (an unknown source, a malformed operator, a missing keyword); empty when good. */
  readonly problems: readonly string[];

  constructor(
    readonly template: string,
    readonly kwargs: Readonly<Record<string, KeywordValue>> = {},
  ) {
    const parsed = parseTemplate(template, new Set(Object.keys(kwargs)));
    this.segments = parsed.segments;
    this.problems = parsed.problems;
  }

  /**
   * Renders with keyword arguments that are plain values or interpolations; one that is a function
   * needs the asynchronous `render(value, props)`, which resolves keyword arguments first.
   */
  render(props: PropertyReader): string {
    return this.renderWith(props, (name) => {
      const value = this.kwargs[name];
      if (isInterpolate(value)) return value.render(props);
      if (typeof value === 'function') throw new Error(`interpolate: keyword "${name}" is a function: render with render(value, props)`);
      return value;
    });
  }

  /** Renders after resolving every keyword argument (they may be any renderable). */
  async renderAsync(props: PropertyReader): Promise<string> {
    const resolved = new Map<string, unknown>();
    for (const [name, value] of Object.entries(this.kwargs)) resolved.set(name, await render(value, props));
    return this.renderWith(props, (name) => resolved.get(name));
  }

  private renderWith(props: PropertyReader, keyword: (name: string) => unknown): string {
    if (this.problems.length > 0) throw new Error(`interpolate(${JSON.stringify(this.template)}): ${this.problems.join('; ')}`);
    const kw = (name: string): Lookup => (Object.hasOwn(this.kwargs, name) ? { present: true, value: keyword(name) } : ABSENT);
    return renderSegments(this.segments, props, kw);
  }

  toJSON(): string {
    return `interpolate(${JSON.stringify(this.template)})`;
  }
}

type Lookup = { present: true; value: unknown } | { present: false };
const ABSENT: Lookup = { present: false };

function renderSegments(segments: Segment[], props: PropertyReader, kw: (name: string) => Lookup): string {
  let out = '';
  for (const s of segments) {
    if (s.kind === 'text') {
      out += s.text;
      continue;
    }
    const found = lookup(s.source, props, kw);
    const sub = (parts: Segment[]): string => renderSegments(parts, props, kw);
    const op = s.operator;
    switch (op.op) {
      case 'plain':
        if (!found.present && s.source.from === 'prop')
          throw new Error(`interpolate: property "${s.source.name}" is not set (use %(prop:${s.source.name}:-default)s)`);
        out += found.present ? text(found.value) : '';
        break;
      case 'default':
        out += found.present && (!op.whenFalsy || truthy(found.value)) ? text(found.value) : sub(op.value);
        break;
      case 'ifSet':
        out += found.present ? sub(op.value) : '';
        break;
      case 'ternary':
        out += found.present && (!op.truthy || truthy(found.value)) ? sub(op.ifTrue) : sub(op.ifFalse);
        break;
      default: {
        const never: never = op;
        throw new Error(`interpolate: unknown operator ${JSON.stringify(never)}`);
      }
    }
  }
  return out;
}

function lookup(source: Source, props: PropertyReader, kw: (name: string) => Lookup): Lookup {
  switch (source.from) {
    case 'prop':
      return props.has(source.name) ? { present: true, value: props.get(source.name) } : ABSENT;
    case 'kw':
      return kw(source.name);
    case 'secret': {
      const value = props.secret?.(source.name);
      if (value === undefined) throw new Error(`interpolate: no secret named "${source.name}" in the config's secrets`);
      return { present: true, value };
    }
    case 'worker':
      return workerAttr(props.worker?.(), source.attr);
    case 'src':
      return sourceAttr(props, source.codebase, source.attr);
    default: {
      const never: never = source;
      throw new Error(`interpolate: unknown source ${JSON.stringify(never)}`);
    }
  }
}

function workerAttr(info: WorkerInfo | undefined, attr: WorkerAttr): Lookup {
  const value = attr === 'labels' ? info?.labels?.join(',') : info?.[attr];
  return value === undefined ? ABSENT : { present: true, value };
}

/**
 * A Caliper build has one source: the properties `repository`, `branch`, `revision`, `project` and
 * `codebase` (default ''). A codebase named in the template matches it when it is '', equals the
 * `codebase` property, or is the repository's name (`caliper` for https://host/org/caliper.git).
 */
function sourceAttr(props: PropertyReader, codebase: string, attr: SourceAttr): Lookup {
  const own = props.has('codebase') ? text(props.get('codebase')) : '';
  const repository = props.has('repository') ? text(props.get('repository')) : '';
  const repoName =
    repository
      .replace(/\/+$/, '')
      .replace(/\.git$/, '')
      .split(/[/:]/)
      .pop() ?? '';
  if (codebase !== '' && codebase !== own && codebase !== repoName) return ABSENT;
  if (attr === 'codebase') return { present: true, value: own };
  return props.has(attr) ? { present: true, value: props.get(attr) } : ABSENT;
}

/** Python's truthiness, which `:~` and `:#?` follow: '', 0, false, null, [] and {} are false. */
function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object' && value !== null) return Object.keys(value).length > 0;
  return Boolean(value);
}

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function interpolate(template: string, kwargs: Readonly<Record<string, KeywordValue>> = {}): Interpolate {
  return new Interpolate(template, kwargs);
}

/** A value, an interpolation, or a function of the build's properties (renderer() and transform() make such functions). */
export type Renderable<T> = T | Interpolate | ((props: PropertyReader) => T | Promise<T>);

export function isInterpolate(value: unknown): value is Interpolate {
  return typeof value === 'object' && value !== null && RENDERABLE in value && value[RENDERABLE] === true;
}

/**
 * Whether a renderable's value follows from the properties alone: plain values and interpolations
 * (their keyword arguments too), or arrays of them; not a function, which may read anything (the
 * clock, a file). The master renders such a command before its step starts (master/build/command-ahead.ts).
 */
export function rendersFromProperties(value: unknown): boolean {
  if (typeof value === 'function') return false;
  if (Array.isArray(value)) return value.every(rendersFromProperties);
  if (isInterpolate(value)) return Object.values(value.kwargs).every(rendersFromProperties);
  return true;
}

/** A renderable that is a function of the properties (values themselves are never functions). */
function isPropertyFunction<T>(value: Renderable<T>): value is (props: PropertyReader) => T | Promise<T> {
  return typeof value === 'function';
}

export async function render<T>(value: Renderable<T>, props: PropertyReader): Promise<T | string> {
  if (isInterpolate(value)) return value.renderAsync(props);
  if (isPropertyFunction(value)) return value(props);
  return value;
}

/** Renders every element of an argv, or a shell string. */
export async function renderCommand(command: Renderable<string | Renderable<string>[]>, props: PropertyReader): Promise<string | string[]> {
  const value = await render(command, props);
  if (Array.isArray(value)) return Promise.all(value.map(async (part) => String(await render(part, props))));
  return String(value);
}
