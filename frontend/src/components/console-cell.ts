/**
 * A console or grid cell: the builds of one builder for one change, each a link to the build coloured
 * by its result (`#12`), with the builder, number and result as its spoken name; a request still
 * waiting for an agent shows as *queued*, one that ended without a build by its result.
 */
import type { ConsoleBuild } from '../../../protocol/api-types.ts';
import { h, routeHref } from '../dom.ts';
import { resultLabel } from './result-badge.ts';

export function consoleCell(builds: readonly ConsoleBuild[], builderName: string): HTMLTableCellElement {
  const cell = h('td', { class: 'console-cell', 'data-builder': builderName });
  if (builds.length === 0) {
    cell.append(h('span', { class: 'console-none', title: `${builderName}: no build` }, '·'), h('span', { class: 'sr-only' }, 'no build'));
    return cell;
  }
  for (const b of builds) {
    if (b.buildid === null) {
      const state = b.complete ? resultLabel(b.result) : 'queued';
      cell.append(
        h(
          'span',
          {
            class: `badge console-build ${b.complete ? `result-${b.result ?? 'unknown'}` : 'console-queued'}`,
            title: `request ${b.buildrequestid} ${state}`,
          },
          state,
        ),
      );
      continue;
    }
    const state = b.complete ? resultLabel(b.result) : 'running';
    cell.append(
      h(
        'a',
        {
          href: routeHref('builds', b.buildid),
          class: `badge console-build ${b.complete ? `result-${b.result ?? 'unknown'}` : 'result-running'}`,
          'data-buildid': b.buildid,
          'aria-label': `${builderName} #${b.number ?? ''}: ${state}`,
          title: `${builderName} #${b.number ?? ''}: ${state}`,
        },
        `#${b.number ?? ''}`,
      ),
    );
  }
  return cell;
}
