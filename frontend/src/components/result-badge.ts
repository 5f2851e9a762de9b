/** A coloured badge for a result name, or "running" while it has none. */
import { RESULT_NAMES, type ResultName } from '../../../protocol/api-types.ts';
import { h, type Attrs } from '../dom.ts';

export function resultLabel(result: string | null | undefined): string {
  return result ?? 'running';
}

function resultClass(result: string | null | undefined): string {
  if (result === null || result === undefined) return 'result-running';
  return (RESULT_NAMES as readonly string[]).includes(result) ? `result-${result as ResultName}` : 'result-unknown';
}

export function resultBadge(result: string | null | undefined, attrs: Attrs = {}): HTMLSpanElement {
  const cls = `badge ${resultClass(result)}${attrs.class ? ` ${String(attrs.class)}` : ''}`;
  return h('span', { ...attrs, class: cls }, resultLabel(result));
}

/** Updates a badge made by resultBadge in place (its element keeps any id or extra class). */
export function setResult(badge: HTMLElement, result: string | null | undefined): void {
  for (const c of Array.from(badge.classList)) if (c.startsWith('result-')) badge.classList.remove(c);
  badge.classList.add('badge', resultClass(result));
  badge.textContent = resultLabel(result);
}
