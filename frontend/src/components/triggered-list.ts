/** The builds a build's Trigger steps requested: builder, then the build (a link, with its result) or "queued". */
import type { Build, BuildRequest } from '../../../protocol/api-types.ts';
import { h, routeHref } from '../dom.ts';
import { resultBadge } from './result-badge.ts';

export interface TriggeredItem {
  request: BuildRequest;
  builderName: string;
  /** The request's newest build (a retried request has several); null while it waits for an agent. */
  build: Build | null;
}

export function triggeredList(items: TriggeredItem[]): HTMLElement {
  return h(
    'ul',
    { class: 'triggered' },
    ...items.map(({ request, builderName, build }) =>
      h(
        'li',
        { class: 'triggered-build', 'data-buildrequestid': String(request.buildrequestid) },
        h('a', { href: routeHref('builders', builderName) }, builderName),
        build ? h('a', { href: routeHref('builds', build.buildid) }, `#${build.number}`) : h('span', { class: 'muted' }, 'queued'),
        build ? resultBadge(build.complete ? build.result : null) : null,
      ),
    ),
  );
}
