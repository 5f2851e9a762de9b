/**
 * Hash routing: `#/` overview, `#/builders`, `#/builders/NAME`, `#/builds/ID`, `#/compare/A/B` (B may be `previous`),
 * `#/changes`, `#/console`, `#/grid`, `#/waterfall`, `#/agents`, `#/agents/NAME`, `#/metrics` (the explorer), `#/login`, `#/bisections/ID`. A route's query (`#/changes?branch=main`) is read by its page. Each change of the hash
 * disposes the current page (its listeners, charts, fetches) and mounts the next one.
 */
import { h, replaceChildren } from './dom.ts';
import { Scope } from './scope.ts';

export type Route =
  | { page: 'overview' }
  | { page: 'builders' }
  | { page: 'builder'; name: string }
  | { page: 'build'; buildid: number }
  | { page: 'compare'; buildid: number; other: number | 'previous' }
  | { page: 'changes'; query: URLSearchParams }
  | { page: 'console'; query: URLSearchParams }
  | { page: 'grid'; query: URLSearchParams }
  | { page: 'waterfall'; query: URLSearchParams }
  | { page: 'agents' }
  | { page: 'agent'; name: string }
  | { page: 'metrics'; query: URLSearchParams }
  | { page: 'login' }
  | { page: 'bisection'; bisectionid: number }
  | { page: 'not-found'; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\?.*$/, '') || '/';
  const query = new URLSearchParams(/\?(.*)$/.exec(hash)?.[1] ?? '');
  const parts = path.split('/').filter((p) => p !== '');
  const decoded = parts.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const [first, second, third] = decoded;
  const isId = (p: string | undefined): p is string => p !== undefined && /^\d{1,12}$/.test(p);
  if (decoded.length === 0) return { page: 'overview' };
  if (first === 'builders' && decoded.length === 1) return { page: 'builders' };
  if (first === 'builders' && second !== undefined && decoded.length === 2) return { page: 'builder', name: second };
  if (first === 'builds' && second !== undefined && decoded.length === 2 && /^\d{1,12}$/.test(second))
    return { page: 'build', buildid: Number(second) };
  if (first === 'compare' && isId(second) && decoded.length === 3 && (isId(third) || third === 'previous'))
    return { page: 'compare', buildid: Number(second), other: third === 'previous' ? 'previous' : Number(third) };
  if (first === 'changes' && decoded.length === 1) return { page: 'changes', query };
  if ((first === 'console' || first === 'grid' || first === 'waterfall') && decoded.length === 1) return { page: first, query };
  if (first === 'agents' && decoded.length === 1) return { page: 'agents' };
  if (first === 'agents' && second !== undefined && decoded.length === 2) return { page: 'agent', name: second };
  if (first === 'metrics' && decoded.length === 1) return { page: 'metrics', query };
  if (first === 'login' && decoded.length === 1) return { page: 'login' };
  if (first === 'bisections' && isId(second) && decoded.length === 2) return { page: 'bisection', bisectionid: Number(second) };
  return { page: 'not-found', path };
}

/** Renders a route into an element it owns; the scope ends when the page is left. */
export type PageRenderer = (route: Route, scope: Scope) => HTMLElement;

export class Router {
  private current: Scope | null = null;

  constructor(
    private readonly outlet: HTMLElement,
    private readonly render: PageRenderer,
    private readonly onChange: (route: Route) => void = () => {},
  ) {}

  start(): void {
    window.addEventListener('hashchange', () => this.show());
    this.show();
  }

  navigate(hash: string): void {
    if (location.hash === hash) this.show();
    else location.hash = hash;
  }

  private show(): void {
    this.current?.dispose();
    const scope = new Scope();
    this.current = scope;
    const route = parseRoute(location.hash);
    this.onChange(route);
    let el: HTMLElement;
    try {
      el = this.render(route, scope);
    } catch (e) {
      console.error(e);
      el = h('p', { class: 'error' }, `This page failed to render: ${e instanceof Error ? e.message : String(e)}`);
    }
    replaceChildren(this.outlet, el);
    window.scrollTo(0, 0);
  }
}
