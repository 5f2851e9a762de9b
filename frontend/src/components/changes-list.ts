/** The changes a build builds: short revision, branch, author, the commit message's first line, when. */
import type { Change } from '../../../protocol/api-types.ts';
import { h } from '../dom.ts';
import { formatTime } from '../format.ts';

export function changesList(changes: Change[]): HTMLElement {
  if (changes.length === 0) return h('p', { class: 'muted' }, 'No changes: this build was forced, periodic or a rebuild.');
  return h(
    'ol',
    { class: 'changes' },
    ...changes.map((c) =>
      h(
        'li',
        { class: 'change', 'data-changeid': String(c.changeid) },
        h('code', { class: 'revision', title: c.revision }, c.revision.slice(0, 12)),
        c.branch ? h('span', { class: 'branch' }, c.branch) : null,
        h('span', { class: 'summary' }, c.comments.split('\n')[0] ?? ''),
        h('span', { class: 'muted' }, `${c.author}${c.author ? ', ' : ''}${formatTime(c.when_timestamp)}`),
        h('span', { class: 'muted', title: c.files.slice(0, 50).join('\n') }, `${c.files.length} file${c.files.length === 1 ? '' : 's'}`),
      ),
    ),
  );
}
