/** "Newer / Older" paging controls over `offset` for a collection of `total` items. */
import { h } from '../dom.ts';

export function pager(offset: number, pageSize: number, total: number, go: (offset: number) => void): HTMLElement {
  const newer = h('button', { type: 'button', class: 'small' }, '‹ Newer');
  const older = h('button', { type: 'button', class: 'small' }, 'Older ›');
  newer.disabled = offset === 0;
  older.disabled = offset + pageSize >= total;
  newer.addEventListener('click', () => go(Math.max(0, offset - pageSize)));
  older.addEventListener('click', () => go(offset + pageSize));
  const last = Math.min(total, offset + pageSize);
  const text = total === 0 ? 'none' : `${(offset + 1).toLocaleString()}–${last.toLocaleString()} of ${total.toLocaleString()}`;
  return h('div', { class: 'pager' }, newer, h('span', { class: 'pager-info' }, text), older);
}
