/**
 * Values rendered when a step runs, from the build's properties (Buildbot's Interpolate):
 *   interpolate('git checkout %(prop:branch:-main)s')
 * `%(prop:NAME)s` the property (error if unset), `%(prop:NAME:-DEFAULT)s` DEFAULT when unset,
 * `%(prop:NAME:~DEFAULT)s` DEFAULT when unset or falsy, `%(secret:NAME)s` a configured secret,
 * `%%` a literal percent sign.
 */
export interface PropertyReader {
  get(name: string): unknown;
  has(name: string): boolean;
  /** A configured secret's value (rendered only into commands and environments; masked in output). */
  secret?(name: string): string | undefined;
}

const RENDERABLE = Symbol.for('caliper.renderable');

export class Interpolate {
  readonly [RENDERABLE] = true;
  constructor(readonly template: string) {}

  render(props: PropertyReader): string {
    return this.template.replace(/%%|%\(([a-z]+):([A-Za-z0-9_.-]+)(?::([-~])([^)]*))?\)s/g, (match, kind, name, op, fallback) => {
      if (match === '%%') return '%';
      if (kind === 'secret') {
        const value = props.secret?.(name);
        if (value === undefined) throw new Error(`interpolate: no secret named "${String(name)}" in the config's secrets`);
        return value;
      }
      if (kind !== 'prop') throw new Error(`interpolate: unknown source "${String(kind)}" in ${match}`);
      const present = props.has(name);
      const value = props.get(name);
      if (op === '-' && !present) return String(fallback);
      if (op === '~' && (!present || !value)) return String(fallback);
      if (!present) throw new Error(`interpolate: property "${String(name)}" is not set (use %(prop:${String(name)}:-default)s)`);
      return value === null || value === undefined ? '' : String(value);
    });
  }

  toJSON(): string {
    return `interpolate(${JSON.stringify(this.template)})`;
  }
}

export function interpolate(template: string): Interpolate {
  return new Interpolate(template);
}

/** A value, an interpolation, or a function of the build's properties. */
export type Renderable<T> = T | Interpolate | ((props: PropertyReader) => T | Promise<T>);

export function isInterpolate(value: unknown): value is Interpolate {
  return typeof value === 'object' && value !== null && RENDERABLE in value && value[RENDERABLE] === true;
}

/** A renderable that is a function of the properties (values themselves are never functions). */
function isPropertyFunction<T>(value: Renderable<T>): value is (props: PropertyReader) => T | Promise<T> {
  return typeof value === 'function';
}

export async function render<T>(value: Renderable<T>, props: PropertyReader): Promise<T | string> {
  if (isInterpolate(value)) return value.render(props);
  if (isPropertyFunction(value)) return value(props);
  return value;
}

/** Renders every element of an argv, or a shell string. */
export async function renderCommand(command: Renderable<string | Renderable<string>[]>, props: PropertyReader): Promise<string | string[]> {
  const value = await render(command, props);
  if (Array.isArray(value)) return Promise.all(value.map(async (part) => String(await render(part, props))));
  return String(value);
}
