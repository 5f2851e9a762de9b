/**
 * DOM helpers. Everything the UI shows comes from the API (builder names, log text, properties), so
 * strings only ever become text nodes: there is no innerHTML anywhere in the UI. URL attributes are
 * checked so an untrusted `javascript:` link cannot be made either.
 */

export type Child = Node | string | number | null | undefined | false | Child[];
export type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Record<string, AttrValue>;

const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction']);

/** `url` when it is relative or http(s); null for anything else (`javascript:`, `data:`, …). */
export function safeUrl(url: string): string | null {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

export function setAttr(el: Element, name: string, value: AttrValue): void {
  // Inline handlers would run text as code; listeners are added with addEventListener instead.
  if (/^on/i.test(name)) throw new Error(`h(): event attribute "${name}" not allowed`);
  if (value === null || value === undefined || value === false) {
    el.removeAttribute(name);
    return;
  }
  const text = value === true ? '' : String(value);
  if (URL_ATTRS.has(name.toLowerCase()) && safeUrl(text) === null) {
    el.removeAttribute(name);
    return;
  }
  el.setAttribute(name, text);
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, ...child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** `h('a', {href: '#/'}, 'text', child)`: an element whose string children are text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) for (const [name, value] of Object.entries(attrs)) setAttr(el, name, value);
  append(el, ...children);
  return el;
}

/** Replaces all children of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from index.html`);
  return el as T;
}

/** A link inside the app: `#/builders/<name>` with the name encoded. */
export function routeHref(...parts: (string | number)[]): string {
  return '#/' + parts.map((p) => encodeURIComponent(String(p))).join('/');
}

/** A table that scrolls sideways in a narrow window instead of overflowing the page. */
export function table(headers: string[], rows: Node[], attrs: Attrs = {}): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      attrs,
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          headers.map((t) => h('th', null, t)),
        ),
      ),
      h('tbody', null, rows),
    ),
  );
}

/** An external link (Grafana, InfluxDB), or nothing when the URL is missing or unsafe. */
export function externalLink(url: string | undefined | null, text: string, cls: string): HTMLAnchorElement | null {
  if (!url || safeUrl(url) === null) return null;
  return h('a', { href: url, class: `ext-link ${cls}`, target: '_blank', rel: 'noopener noreferrer' }, text);
}

/**
 * Resolves once the browser has drawn the next frame: what the user waits for is on screen before
 * requests for extras (a chart's marks, a filter's choices) compete with drawing it for the CPU.
 */
export function afterPaint(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}
