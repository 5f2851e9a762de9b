/**
 * The filter form of the console, grid and waterfall: a branch (console and grid), builder tags, and
 * for the waterfall how many hours back. Submitting puts the filter in the address
 * (`#/console?branch=main&tags=web`), so a filtered view can be bookmarked or shared.
 */
import { h } from '../dom.ts';

/** The waterfall's choices of window, in hours. */
export const HOUR_CHOICES = [1, 3, 6, 12, 24, 48, 168] as const;
export const DEFAULT_HOURS = 6;

export interface ViewFilterOptions {
  /** `console`, `grid` or `waterfall`: the route and the fields' ids. */
  view: string;
  query: URLSearchParams;
  branch: boolean;
  hours: boolean;
  navigate(hash: string): void;
}

export function viewFilter(o: ViewFilterOptions): HTMLFormElement {
  const field = (name: string, label: string, hint: string) => {
    const input = h('input', {
      type: 'text',
      name,
      id: `${o.view}-${name}`,
      value: o.query.get(name) ?? '',
      autocomplete: 'off',
      title: hint,
    });
    return { input, nodes: [h('label', { for: input.id }, label), input] };
  };
  const branch = o.branch ? field('branch', 'Branch', 'exact branch name; empty for every branch') : null;
  const tags = field('tags', 'Builder tags', 'builders with any of these tags, separated by commas; empty for every builder');
  const hours = o.hours ? hoursSelect(o.view, o.query) : null;
  const form = h(
    'form',
    { class: 'filter-form', id: `${o.view}-filter`, role: 'search', 'aria-label': `Filter the ${o.view}` },
    hours ? [h('label', { for: hours.id }, 'Last'), hours] : null,
    branch?.nodes,
    tags.nodes,
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const params = new URLSearchParams();
    if (hours && Number(hours.value) !== DEFAULT_HOURS) params.set('hours', hours.value);
    if (branch?.input.value.trim()) params.set('branch', branch.input.value.trim());
    if (tags.input.value.trim()) params.set('tags', tags.input.value.trim());
    const qs = params.toString();
    o.navigate(qs ? `#/${o.view}?${qs}` : `#/${o.view}`);
  });
  return form;
}

/** The hours the address asks for, when it is one of the choices; else the default. */
export function hoursOf(query: URLSearchParams): number {
  const asked = Number(query.get('hours'));
  return (HOUR_CHOICES as readonly number[]).includes(asked) ? asked : DEFAULT_HOURS;
}

function hoursSelect(view: string, query: URLSearchParams): HTMLSelectElement {
  const current = hoursOf(query);
  const select = h(
    'select',
    { name: 'hours', id: `${view}-hours` },
    HOUR_CHOICES.map((n) => h('option', { value: n, selected: n === current }, n === 168 ? '7 days' : `${n} hour${n === 1 ? '' : 's'}`)),
  );
  return select;
}
