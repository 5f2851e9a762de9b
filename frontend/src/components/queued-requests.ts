/**
 * A builder's queued requests (not complete), oldest first, each with a Cancel button while no
 * master has claimed it; a claimed one has a build to stop instead. Reloads on the live events that
 * change the queue (a new request, a build starting, a request completing) and after a cancel.
 */
import type { BuildRequest, Page } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { h, replaceChildren, table } from '../dom.ts';
import { formatTime } from '../format.ts';
import { coalesced } from '../refresh.ts';
import { may, notAllowed } from '../session.ts';

const SHOWN = 50;

/** The list for the builder named `builderName`; `builderid()` is null until the page knows it. */
export function queuedRequests(ctx: PageContext, builderName: string, builderid: () => number | null): { el: HTMLElement; load(): void } {
  const el = h('div', { class: 'queued-requests', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'loading…'));

  const load = async (): Promise<void> => {
    const id = builderid();
    if (id === null) return;
    try {
      const res = await ctx.api.get<Page<'buildrequests'>>(
        '/buildrequests',
        { builderid: String(id), complete: 'false', order: 'buildrequestid', limit: SHOWN },
        ctx.scope.signal,
      );
      if (res.buildrequests.length === 0) replaceChildren(el, h('p', { class: 'muted' }, 'No queued requests.'));
      else
        replaceChildren(
          el,
          table(['#', 'Reason', 'Submitted', 'State', ''], res.buildrequests.map(row), { class: 'data requests-table' }),
          res.meta.total > SHOWN ? h('p', { class: 'muted' }, `${SHOWN} oldest of ${res.meta.total.toLocaleString()} shown.`) : null,
        );
    } catch (e) {
      ctx.message.error(e, 'Could not load the queued requests');
    }
  };
  const reload = coalesced(ctx.scope, load);

  const cancel = async (request: BuildRequest, button: HTMLButtonElement): Promise<void> => {
    button.disabled = true;
    button.textContent = 'Cancelling…';
    try {
      await ctx.api.post<Page<'buildrequests'>>(`/buildrequests/${request.buildrequestid}/cancel`, {}, ctx.scope.signal);
      ctx.message.show(`Cancelled request #${request.buildrequestid} of ${builderName}`, 'info');
    } catch (e) {
      ctx.message.error(e, `Cancel of request #${request.buildrequestid} failed`);
    } finally {
      reload();
    }
  };

  const row = (r: BuildRequest): HTMLElement => {
    let action: HTMLElement;
    if (r.claimed) action = h('span', { class: 'muted' }, 'starting');
    else {
      const button = h('button', { type: 'button', class: 'small danger', 'aria-label': `Cancel request #${r.buildrequestid}` }, 'Cancel');
      button.disabled = !may(builderName, 'cancel');
      if (button.disabled) button.title = notAllowed('cancel');
      button.addEventListener('click', () => void cancel(r, button));
      action = button;
    }
    return h(
      'tr',
      { 'data-buildrequestid': r.buildrequestid },
      h('td', { class: 'num' }, `#${r.buildrequestid}`),
      h('td', { class: 'wrap' }, r.reason),
      h('td', { class: 'nowrap' }, formatTime(r.submitted_at)),
      h('td', null, r.claimed ? 'claimed' : 'queued'),
      h('td', null, action),
    );
  };

  const ours = (d: { builderid: number }) => d.builderid === builderid();
  ctx.scope.add(ctx.live.on('buildrequest.new', (d) => ours(d) && reload()));
  ctx.scope.add(ctx.live.on('build.started', (d) => ours(d) && reload()));
  // Completed requests carry no builder: any may have been one of ours.
  ctx.scope.add(ctx.live.on('buildrequest.complete', () => reload()));
  ctx.scope.add(ctx.live.onReconnect(reload));
  return { el, load: reload };
}
