/**
 * A builder's properties given as interpolate(...) or renderer(fn), rendered when a build starts
 * with everything else the build knows by then (the request's, the agent's and the builder's plain
 * properties, buildername, agentname, reason, buildnumber), as Buildbot renders a builder's
 * properties. The config check refuses a template it cannot read; what can still go wrong is at
 * run time (a property the template needs is not set, a function throws): the build ends EXCEPTION
 * saying which property, before any step runs. A property the request or the agent sets is not
 * rendered: their value wins, as over the builder's plain values.
 */
import { render, type Renderable } from '../../steps/properties/interpolate.ts';
import { propertyValueSchema, type Properties } from '../../steps/properties/properties.ts';
import { errorMessage } from '../../core/error-message.ts';

/** Sets each rendered value on `props` (source 'Builder'); the first failure's message, or null. */
export async function renderBuilderProperties(
  renderables: Readonly<Record<string, Renderable<unknown>>>,
  props: Properties,
): Promise<string | null> {
  // Properties are stored and shown: a secret may not be rendered into one (as a Trigger's setProperties).
  const reader = {
    get: (name: string) => props.get(name),
    has: (name: string) => props.has(name),
    worker: () => props.worker(),
    secret: (name: string): string => {
      throw new Error(`cannot use %(secret:${name})s: properties are stored and shown (use secrets in commands and env)`);
    },
  };
  const rendered: [string, unknown][] = [];
  // All rendered against the same properties: one builder property never sees another rendered one.
  for (const [name, value] of Object.entries(renderables)) {
    // As the builder's plain values: one the request or the agent sets wins (what a user asks for beats a default).
    if (props.has(name)) continue;
    try {
      rendered.push([name, await render(value, reader)]);
    } catch (e) {
      return `builder property "${name}": ${errorMessage(e)}`;
    }
  }
  for (const [name, value] of rendered) {
    const parsed = propertyValueSchema.safeParse(value);
    if (!parsed.success || value === undefined)
      return `builder property "${name}": rendered to ${value === undefined ? 'undefined' : typeof value}, not a JSON value`;
    props.set(name, parsed.data, 'Builder');
  }
  return null;
}
