/**
 * Buildbot's Interpolate syntax, parsed once into a typed tree when the config is built, so a
 * mistake is a config error with its path instead of text rendered as is or a failure mid-build.
 *   template   := ( text | '%%' | '%(' source [ ':' operator ] ')s' )*
 *   source     := prop:NAME | kw:NAME | secret:NAME | worker:ATTR | src:CODEBASE:ATTR
 *   operator   := '-' T | '~' T | '+' T | '?' D T D T | '#?' D T D T   (T a template, D one character)
 * A lone `%` not followed by `(` is kept as text (Buildbot would refuse it; Caliper always allowed it).
 */

/** What the agent said of itself in its hello; `name` is always known, the rest once the master passes it. */
export const WORKER_ATTRS = ['name', 'os', 'version', 'labels'] as const;
export type WorkerAttr = (typeof WORKER_ATTRS)[number];

/** A build's one source stamp, as Buildbot's `ss.asDict()` keys (read from the build's properties). */
export const SOURCE_ATTRS = ['repository', 'branch', 'revision', 'project', 'codebase'] as const;
export type SourceAttr = (typeof SOURCE_ATTRS)[number];

export type Source =
  | { from: 'prop'; name: string }
  | { from: 'kw'; name: string }
  | { from: 'secret'; name: string }
  | { from: 'worker'; attr: WorkerAttr }
  | { from: 'src'; codebase: string; attr: SourceAttr };

/**
 * What happens with the looked-up value (Buildbot's _Lookup):
 * plain the value; default `-` (unset) / `~` (unset or falsy) use `value` instead; ifSet `+` gives
 * `value` when set, else ''; ternary `?` (set) / `#?` (set and truthy) chooses ifTrue or ifFalse.
 */
export type Operator =
  | { op: 'plain' }
  | { op: 'default'; whenFalsy: boolean; value: Segment[] }
  | { op: 'ifSet'; value: Segment[] }
  | { op: 'ternary'; truthy: boolean; ifTrue: Segment[]; ifFalse: Segment[] };

export type Segment = { kind: 'text'; text: string } | { kind: 'lookup'; source: Source; operator: Operator; raw: string };

export interface ParsedTemplate {
  segments: Segment[];
  /** Every mistake found, in the user's words; empty when the template is good. */
  problems: string[];
}

const IDENTIFIER = /^[\w.-]+$/;
const SOURCES = ['prop', 'kw', 'secret', 'worker', 'src'];

/** Parses a template; `keywords` are the names passed as keyword arguments (a missing one is a problem). */
export function parseTemplate(template: string, keywords: ReadonlySet<string>): ParsedTemplate {
  const problems: string[] = [];
  const segments = parseSegments(template, keywords, problems);
  return { segments, problems };
}

function parseSegments(template: string, keywords: ReadonlySet<string>, problems: string[]): Segment[] {
  const segments: Segment[] = [];
  let text = '';
  let i = 0;
  while (i < template.length) {
    if (template.startsWith('%%', i)) {
      text += '%';
      i += 2;
      continue;
    }
    if (!template.startsWith('%(', i)) {
      text += template[i];
      i += 1;
      continue;
    }
    const close = matchingParen(template, i + 1);
    if (close === -1) {
      problems.push(`"${template.slice(i)}" has no closing ")s"`);
      return segments;
    }
    const key = template.slice(i + 2, close);
    const raw = template.slice(i, close + 2);
    if (template[close + 1] !== 's') {
      problems.push(`"${template.slice(i, close + 1)}" must end in ")s" (write %(${key})s)`);
      i = close + 1;
      continue;
    }
    if (text) segments.push({ kind: 'text', text });
    text = '';
    const lookup = parseLookup(key, keywords, problems);
    if (lookup) segments.push({ kind: 'lookup', ...lookup, raw });
    i = close + 2;
  }
  if (text) segments.push({ kind: 'text', text });
  return segments;
}

/** The index of the `)` closing the `(` at `open`, counting nested parentheses (as Python's % does); -1 if none. */
function matchingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

/** Splits at the first `sep`: ['a', 'b:c'] for 'a:b:c'; [s, undefined] without one. */
function splitOnce(s: string, sep: string): [string, string | undefined] {
  const at = s.indexOf(sep);
  return at === -1 ? [s, undefined] : [s.slice(0, at), s.slice(at + 1)];
}

function parseLookup(key: string, keywords: ReadonlySet<string>, problems: string[]): { source: Source; operator: Operator } | null {
  const [selector, arg] = splitOnce(key, ':');
  if (arg === undefined) {
    problems.push(`"%(${key})s" has no source: write %(prop:${key})s (or kw:, src:, secret:, worker:)`);
    return null;
  }
  const parsed = parseSource(selector, arg, key, problems);
  if (!parsed) return null;
  const operator = parseOperator(parsed.rest, key, keywords, problems);
  if (!operator) return null;
  const { source } = parsed;
  if (source.from === 'kw' && operator.op === 'plain' && !keywords.has(source.name)) {
    problems.push(`"%(${key})s" names no keyword argument "${source.name}" (pass it: interpolate('...', { ${source.name}: ... }))`);
  }
  if (source.from === 'secret' && operator.op !== 'plain') problems.push(`"%(${key})s": a secret takes no default or operator`);
  return { source, operator };
}

function parseSource(selector: string, arg: string, key: string, problems: string[]): { source: Source; rest: string | undefined } | null {
  const [name, rest] = splitOnce(arg, ':');
  const bad = (what: string): null => {
    problems.push(`"%(${key})s": ${what}`);
    return null;
  };
  switch (selector) {
    case 'prop':
    case 'kw':
    case 'secret':
      if (!IDENTIFIER.test(name))
        return bad(
          `"${name}" is not a ${selector === 'prop' ? 'property' : selector === 'kw' ? 'keyword' : 'secret'} name (letters, digits, "_", "." or "-")`,
        );
      return { source: { from: selector, name }, rest };
    case 'worker': {
      const attr = WORKER_ATTRS.find((a) => a === name);
      if (!attr) return bad(`unknown worker attribute "${name}" (one of ${WORKER_ATTRS.join(', ')})`);
      return { source: { from: 'worker', attr }, rest };
    }
    case 'src': {
      if (rest === undefined) return bad('src needs a codebase and an attribute: %(src::branch)s or %(src:CODEBASE:branch)s');
      const [attrName, srcRest] = splitOnce(rest, ':');
      if (name !== '' && !IDENTIFIER.test(name)) return bad(`"${name}" is not a codebase name`);
      const attr = SOURCE_ATTRS.find((a) => a === attrName);
      if (!attr) return bad(`unknown source attribute "${attrName}" (one of ${SOURCE_ATTRS.join(', ')})`);
      return { source: { from: 'src', codebase: name, attr }, rest: srcRest };
    }
    default:
      return bad(`unknown source "${selector}" (one of ${SOURCES.join(', ')})`);
  }
}

function parseOperator(rest: string | undefined, key: string, keywords: ReadonlySet<string>, problems: string[]): Operator | null {
  if (rest === undefined) return { op: 'plain' };
  const sub = (t: string): Segment[] => parseSegments(t, keywords, problems);
  if (rest.startsWith('-')) return { op: 'default', whenFalsy: false, value: sub(rest.slice(1)) };
  if (rest.startsWith('~')) return { op: 'default', whenFalsy: true, value: sub(rest.slice(1)) };
  if (rest.startsWith('+')) return { op: 'ifSet', value: sub(rest.slice(1)) };
  const truthy = rest.startsWith('#?');
  if (truthy || rest.startsWith('?')) {
    const body = rest.slice(truthy ? 2 : 1);
    const delim = body[0];
    const parts = delim === undefined || delim === '(' ? null : splitBalanced(body.slice(1), delim);
    if (!parts) {
      problems.push(`"%(${key})s": a ternary is written ${truthy ? '#?' : '?'}|if_true|if_false (any delimiter but "(")`);
      return null;
    }
    return { op: 'ternary', truthy, ifTrue: sub(parts[0]), ifFalse: sub(parts[1]) };
  }
  problems.push(`"%(${key})s": unknown operator "${rest}" (one of :-, :~, :+, :?, :#?)`);
  return null;
}

/** Splits at the first `delim` outside parentheses (so a nested %(...)s may hold it); null if none. */
function splitBalanced(s: string, delim: string): [string, string] | null {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth < 0) return null;
    if (depth === 0 && s[i] === delim) return [s.slice(0, i), s.slice(i + 1)];
  }
  return null;
}
