/**
 * One log, shown a window of at most 1000 lines at a time: a log can be 50 MB, so it is never
 * fetched or rendered whole (the "raw" link is for that).
 *
 * Modes and transitions:
 *   follow ──First/Prev/Next/Last, or untick "follow"──▶ paged
 *   paged  ──tick "follow"──▶ follow
 * follow: shows the tail and appends each `log.appended` chunk from the WebSocket, dropping the
 *   oldest lines past 1000; a chunk that does not fit (missed events) reloads the tail.
 * paged: shows a fixed window; live chunks only move the line count.
 * A load in flight is superseded by the next one (a generation counter); chunks arriving during a
 * tail load are kept and applied after it, minus those the load already contained.
 */
import type { Log, Page } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { describeError, isAbort } from '../api.ts';
import { h, replaceChildren } from '../dom.ts';
import { ChunkFit, cleanLine, fitChunk, readPage, settleTail, totalAfter, type Chunk, type LinesPage } from './log-lines.ts';

const WINDOW = 1000;
/** Extra lines asked for on a tail load, for lines written between reading the count and the page. */
const SLACK = 500;
const RESYNC_MIN_MS = 1000;
/** Tail reads in a row that may fail to line up with the live chunks before the viewer settles for a guess. */
const MAX_RESYNCS = 5;

export class LogViewer {
  readonly el: HTMLElement;
  private readonly pre: HTMLPreElement;
  private readonly info = h('span', { class: 'log-info' });
  private readonly error = h('span', { class: 'log-error', hidden: true });
  private readonly followBox = h('input', { type: 'checkbox', class: 'log-follow' });
  private readonly buttons: Record<'first' | 'prev' | 'next' | 'last', HTMLButtonElement>;
  private following: boolean;
  /** Index of the first line shown, and how many complete lines are shown from there. */
  private start = 0;
  private shown = 0;
  /** Complete lines in the log, as far as known. */
  private total: number;
  /** Raw text of the line being written, when the window reaches the end of the log; else null. */
  private partialRaw: string | null = null;
  private partialEl: HTMLElement | null = null;
  private emptyEl: HTMLElement | null = null;
  /** Non-null while a tail load is in flight: the chunks that arrived meanwhile. */
  private buffered: Chunk[] | null = null;
  private generation = 0;
  private lastResync = 0;
  private resyncs = 0;
  private resyncTimer: ReturnType<typeof setTimeout> | undefined;
  private unsubscribe: (() => void) | null = null;

  /** `follow`: start in follow mode (the step is running). */
  constructor(
    private readonly ctx: PageContext,
    private readonly log: Log,
    follow: boolean,
  ) {
    this.following = follow;
    this.total = log.num_lines;
    this.followBox.checked = follow;
    const button = (label: string, title: string) => h('button', { type: 'button', class: 'small', title }, label);
    this.buttons = {
      first: button('First', 'first 1000 lines'),
      prev: button('Prev', 'previous 1000 lines'),
      next: button('Next', 'next 1000 lines'),
      last: button('Last', 'last 1000 lines'),
    };
    this.pre = h('pre', { class: 'log-lines', tabindex: 0 });
    this.el = h(
      'div',
      { class: 'log-viewer', 'data-log': log.slug, 'data-logid': log.logid },
      h(
        'div',
        { class: 'log-toolbar' },
        h('span', { class: 'log-name' }, log.name),
        this.info,
        h('span', { class: 'log-buttons' }, Object.values(this.buttons)),
        h('label', { class: 'log-follow-label' }, this.followBox, ' follow'),
        h('a', { href: `/api/v2/logs/${log.logid}/raw`, target: '_blank', rel: 'noopener', class: 'log-raw' }, 'raw'),
        this.error,
      ),
      this.pre,
    );
    this.wire();
    const scope = ctx.scope;
    scope.add(() => {
      clearTimeout(this.resyncTimer);
      this.stopLive();
    });
    if (log.complete !== true) {
      this.unsubscribe = ctx.live.subscribeLog(log.logid, (e) => (e.type === 'appended' ? this.onChunk(e.data) : this.onGap()));
    }
    scope.add(ctx.live.onReconnect(() => (this.following ? this.loadTail() : undefined)));
    if (follow) this.loadTail();
    else this.loadPage(Math.max(0, this.total - WINDOW));
  }

  /** The step finished: no more output will come. */
  stepFinished(): void {
    this.stopLive();
  }

  private stopLive(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private wire(): void {
    const paged = (start: () => number) => () => {
      this.setFollow(false);
      this.loadPage(Math.max(0, start()));
    };
    this.buttons.first.addEventListener(
      'click',
      paged(() => 0),
    );
    this.buttons.prev.addEventListener(
      'click',
      paged(() => this.start - WINDOW),
    );
    this.buttons.next.addEventListener(
      'click',
      paged(() => this.start + WINDOW),
    );
    this.buttons.last.addEventListener(
      'click',
      paged(() => this.total - WINDOW),
    );
    this.followBox.addEventListener('change', () => {
      this.following = this.followBox.checked;
      if (this.following) this.loadTail();
    });
  }

  private setFollow(on: boolean): void {
    this.following = on;
    this.followBox.checked = on;
  }

  /** Line after the complete lines shown. */
  private get viewEnd(): number {
    return this.start + this.shown;
  }

  /** Line after all lines shown, a partial one with text included (as `meta.total` counts). */
  private get shownEnd(): number {
    return this.viewEnd + (this.partialRaw ? 1 : 0);
  }

  // ---- loading

  private loadTail(): void {
    const gen = ++this.generation;
    this.buffered = [];
    this.lastResync = Date.now();
    void this.run(gen, async (signal) => {
      const info = await this.ctx.api.get<Page<'logs'>>(`/logs/${this.log.logid}`, { field: 'num_lines' }, signal);
      const known = info.logs[0]?.num_lines ?? 0;
      const offset = Math.max(0, known - WINDOW);
      const page = await this.fetchPage(offset, known - offset + SLACK, signal);
      if (gen !== this.generation) return;
      const buffered = this.buffered ?? [];
      this.buffered = null;
      const settled = settleTail(page, buffered, known);
      if (settled) {
        this.resyncs = 0;
        this.renderTail(page, settled.complete, settled.partial);
        for (const c of settled.rest) this.onChunk(c);
        return;
      }
      // Events were missed (the subscription was not in place yet, or the page fell behind): show
      // the best guess, and read again a few times while live updates are connected.
      this.renderTail(page, Math.min(known, page.first + page.lines.length), null);
      if (this.ctx.live.connected && ++this.resyncs <= MAX_RESYNCS) this.resync();
    });
  }

  private loadPage(start: number): void {
    const gen = ++this.generation;
    this.buffered = null;
    void this.run(gen, async (signal) => {
      const page = await this.fetchPage(start, WINDOW, signal);
      if (gen === this.generation) this.renderPage(page);
    });
  }

  private async fetchPage(offset: number, limit: number, signal: AbortSignal): Promise<LinesPage> {
    const res = await this.ctx.api.get<Page<'logchunks'>>(`/logs/${this.log.logid}/contents`, { offset, limit }, signal);
    return readPage(res.logchunks, offset, res.meta?.total ?? 0);
  }

  private async run(gen: number, load: (signal: AbortSignal) => Promise<void>): Promise<void> {
    this.pre.classList.add('loading');
    try {
      await load(this.ctx.scope.signal);
      if (gen === this.generation) this.error.hidden = true;
    } catch (e) {
      if (isAbort(e) || gen !== this.generation) return;
      this.buffered = null;
      this.error.textContent = `could not load: ${describeError(e)}`;
      this.error.hidden = false;
    } finally {
      if (gen === this.generation) this.pre.classList.remove('loading');
    }
  }

  /** Reads the tail again, at most once a second. */
  private resync(): void {
    clearTimeout(this.resyncTimer);
    const wait = this.lastResync + RESYNC_MIN_MS - Date.now();
    if (wait <= 0) this.loadTail();
    else this.resyncTimer = setTimeout(() => this.following && this.loadTail(), wait);
  }

  // ---- live chunks

  private onChunk(d: Chunk): void {
    if (typeof d.text !== 'string' || typeof d.first_line !== 'number') return;
    if (this.buffered) {
      this.buffered.push({ first_line: d.first_line, text: d.text });
      return;
    }
    const fit = this.following && this.partialRaw !== null ? fitChunk(this.viewEnd, d) : null;
    this.total = Math.max(this.total, totalAfter(d));
    if (fit === ChunkFit.append) this.append(d.text);
    else if (fit === ChunkFit.gap) this.resync();
    this.updateControls();
  }

  /** The server skipped output this client was too slow to take: read the tail again. */
  private onGap(): void {
    if (this.following) this.loadTail();
  }

  private append(text: string): void {
    const stick = this.nearBottom();
    const segments = `${this.partialRaw ?? ''}${text}`.split('\n');
    const partial = segments.pop() ?? '';
    this.partialEl?.remove();
    const fragment = document.createDocumentFragment();
    segments.forEach((line, i) => fragment.appendChild(lineEl(this.viewEnd + i, line)));
    this.shown += segments.length;
    this.partialRaw = partial;
    this.partialEl = partialLineEl(this.viewEnd, partial);
    fragment.appendChild(this.partialEl);
    this.emptyEl?.remove();
    this.emptyEl = null;
    this.pre.appendChild(fragment);
    while (this.shown > WINDOW && this.pre.firstChild) {
      this.pre.removeChild(this.pre.firstChild);
      this.start++;
      this.shown--;
    }
    this.total = Math.max(this.total, this.shownEnd);
    if (stick) this.scrollToEnd();
  }

  // ---- rendering

  /** Follow mode: the last lines of `page` up to `complete`, then the partial line (null: unknown). */
  private renderTail(page: LinesPage, complete: number, partial: string | null): void {
    const upto = Math.max(0, complete - page.first);
    const lines = page.lines.slice(Math.max(0, upto - WINDOW), upto);
    this.show(page.first + upto - lines.length, lines, partial, page.total);
    this.scrollToEnd();
  }

  /** Paged mode: the lines as read; the last one may still grow, which a fixed page does not show. */
  private renderPage(page: LinesPage): void {
    this.show(page.first, page.lines, null, page.total);
    this.pre.scrollTop = 0;
  }

  private show(start: number, lines: string[], partial: string | null, total: number): void {
    this.start = start;
    this.shown = lines.length;
    this.partialRaw = partial;
    this.total = Math.max(total, this.shownEnd);
    const fragment = document.createDocumentFragment();
    lines.forEach((line, i) => fragment.appendChild(lineEl(start + i, line)));
    this.partialEl = partial === null ? null : partialLineEl(this.viewEnd, partial);
    if (this.partialEl) fragment.appendChild(this.partialEl);
    replaceChildren(this.pre, fragment);
    this.emptyEl = this.shown === 0 && !partial ? h('span', { class: 'log-empty' }, start > 0 ? '(no lines here)' : '(empty)') : null;
    if (this.emptyEl) this.pre.appendChild(this.emptyEl);
    this.updateControls();
  }

  private updateControls(): void {
    const n = (x: number) => x.toLocaleString();
    const end = this.shownEnd;
    this.info.textContent =
      end === this.start ? `${n(this.total)} lines` : `lines ${n(this.start + 1)}–${n(end)} of ${n(Math.max(this.total, end))}`;
    this.buttons.first.disabled = this.start === 0;
    this.buttons.prev.disabled = this.start === 0;
    const atEnd = end >= this.total;
    this.buttons.next.disabled = atEnd;
    this.buttons.last.disabled = atEnd && !this.following;
  }

  private nearBottom(): boolean {
    return this.pre.scrollHeight - this.pre.scrollTop - this.pre.clientHeight < 48;
  }

  private scrollToEnd(): void {
    this.pre.scrollTop = this.pre.scrollHeight;
  }
}

function lineEl(index: number, raw: string): HTMLElement {
  return h('span', { class: 'log-line', 'data-n': index + 1 }, `${cleanLine(raw)}\n`);
}

function partialLineEl(index: number, raw: string): HTMLElement {
  return h('span', { class: raw === '' ? 'log-line partial empty' : 'log-line partial', 'data-n': index + 1 }, cleanLine(raw));
}
