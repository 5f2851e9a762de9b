/**
 * The message area (#message): API errors and short notices, as text. An error stays until dismissed
 * or the next page; a notice also hides itself after a while.
 */
import { describeError, isAbort } from './api.ts';
import { byId, h, replaceChildren } from './dom.ts';

export type MessageKind = 'error' | 'info';

const NOTICE_MS = 15_000;

export class MessageArea {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private kind: MessageKind | null = null;

  constructor(private readonly el: HTMLElement = byId('message')) {}

  show(text: string, kind: MessageKind = 'info'): void {
    clearTimeout(this.timer);
    this.kind = kind;
    this.el.className = `message message-${kind}`;
    this.el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    const close = h('button', { type: 'button', class: 'message-close', 'aria-label': 'dismiss', title: 'dismiss' }, '×');
    close.addEventListener('click', () => this.clear());
    replaceChildren(this.el, h('span', { class: 'message-text' }, text), close);
    this.el.hidden = false;
    if (kind === 'info') this.timer = setTimeout(() => this.clear(), NOTICE_MS);
  }

  /** Shows a failed request; an aborted one (the page was left) is not an error. */
  error(e: unknown, context?: string): void {
    if (isAbort(e)) return;
    this.show(context ? `${context}: ${describeError(e)}` : describeError(e), 'error');
  }

  clear(): void {
    clearTimeout(this.timer);
    this.kind = null;
    replaceChildren(this.el);
    this.el.hidden = true;
  }

  /** On leaving a page: its errors no longer apply; a notice ("requested #12") may still. */
  clearErrors(): void {
    if (this.kind === 'error') this.clear();
  }
}
