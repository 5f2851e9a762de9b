/**
 * The `npx caliper try …` line that re-creates a build on one's own machine (docs/local-runs.md):
 * the builder, the properties the build got from its request, and a matrix cell's axis values.
 */
import type { Build, JsonValue } from '../../../protocol/api-types.ts';
import { h } from '../dom.ts';

/**
 * Sources of the properties a request gave its build (a force form's fields, a scheduler's). The
 * builder's, agent's and matrix's come back by themselves when the builder runs locally.
 */
const REQUEST_SOURCES = new Set(['Force', 'Scheduler']);
/** Set from the request's reason rather than given as a property: `try` has no use for it. */
const NOT_PROPERTIES = new Set(['reason']);

/** `'text'` for a POSIX shell: single quotes, and `'\''` for a quote inside. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A property as `--property` takes it: strings as they are, other JSON values as JSON. */
function propertyText(value: JsonValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function tryCommandLine(builderName: string, build: Pick<Build, 'properties' | 'matrix'>): string {
  const words = ['npx', 'caliper', 'try', shellQuote(builderName)];
  const names = Object.keys(build.properties).sort();
  for (const name of names) {
    const [value, source] = build.properties[name] as [JsonValue, string];
    if (!REQUEST_SOURCES.has(source) || NOT_PROPERTIES.has(name)) continue;
    // A masked secret would come back as the mask; the user must supply the real value.
    words.push('--property', shellQuote(`${name}=${propertyText(value)}`));
  }
  for (const [axis, value] of Object.entries(build.matrix ?? {})) words.push('--matrix', shellQuote(`${axis}=${value}`));
  return words.join(' ');
}

/** The command as a `<code>` line with a Copy button (the text is selectable as well). */
export function tryCommand(builderName: string, build: Pick<Build, 'properties' | 'matrix'>): HTMLElement {
  const line = tryCommandLine(builderName, build);
  const copy = h('button', { type: 'button', class: 'copy', 'aria-label': 'Copy the command' }, 'Copy');
  copy.addEventListener('click', () => {
    void navigator.clipboard?.writeText(line).then(
      () => (copy.textContent = 'Copied'),
      () => (copy.textContent = 'Select and copy'),
    );
  });
  return h('div', { class: 'try-command' }, h('code', { id: 'try-command' }, line), ' ', copy);
}
