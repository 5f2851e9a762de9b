/** A build's properties: name, value as JSON text, and where it came from. */
import type { PropertyEntry } from '../../../protocol/api-types.ts';
import { h, table } from '../dom.ts';
import { jsonText } from '../format.ts';

export function propertiesTable(properties: Record<string, PropertyEntry> | undefined): HTMLElement {
  const entries = Object.entries(properties ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return h('p', { class: 'muted' }, 'No properties.');
  const rows = entries.map(([name, entry]) => {
    const [value, source] = Array.isArray(entry) ? entry : [entry, ''];
    return h(
      'tr',
      { 'data-property': name },
      h('td', { class: 'prop-name' }, name),
      h('td', { class: 'prop-value' }, h('code', null, jsonText(value))),
      h('td', { class: 'muted' }, String(source ?? '')),
    );
  });
  return table(['Name', 'Value', 'Source'], rows, { class: 'data properties-table' });
}
