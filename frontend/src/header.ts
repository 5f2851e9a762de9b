/**
 * The page header: the master's title (from /api/v2/ui), the active nav link, the token field when
 * the master wants one for writes, and a dot telling whether live updates are connected.
 */
import type { UiInfo } from '../../protocol/api-types.ts';
import type { LiveClient, LiveState } from './live.ts';
import type { Route } from './router.ts';
import { byId, h, replaceChildren } from './dom.ts';
import { loadToken, saveToken } from './token.ts';
import { currentUser, hasLogin, logOut, onSessionChange } from './session.ts';

export function applyUiInfo(ui: UiInfo): void {
  const title = ui.title || 'Caliper';
  byId('title').textContent = title;
  document.title = title;
  // With user logins the header shows who is logged in instead (see showSession).
  if (ui.auth && !hasLogin()) replaceChildren(byId('header-tools'), tokenField());
}

/** The logged-in user's name and a Log out button, or a Log in link; kept current on session changes. */
export function showSession(navigate: (hash: string) => void): void {
  const render = () => {
    if (!hasLogin()) return;
    const me = currentUser();
    if (!me) return replaceChildren(byId('header-tools'), h('a', { href: '#/login', id: 'login-link' }, 'Log in'));
    const out = h('button', { type: 'button', id: 'logout', class: 'link-button' }, 'Log out');
    out.addEventListener('click', () => void logOut().then(() => navigate('#/login')));
    replaceChildren(byId('header-tools'), h('span', { class: 'user-name', id: 'user-name' }, me.username), out);
  };
  onSessionChange(render);
  render();
}

function tokenField(): HTMLElement {
  const input = h('input', {
    type: 'password',
    name: 'token',
    id: 'token',
    placeholder: 'API token',
    autocomplete: 'off',
    spellcheck: 'false',
    title: 'sent as "Authorization: Bearer" on force, stop and rebuild',
  });
  input.value = loadToken();
  input.addEventListener('input', () => saveToken(input.value.trim()));
  return h('label', { class: 'token-field' }, h('span', null, 'token'), input);
}

/** Which header link a route belongs under ('' for none). */
function navSection(route: Route): string {
  switch (route.page) {
    case 'overview':
      return 'overview';
    case 'builders':
    case 'builder':
    case 'build':
    case 'compare':
      return 'builders';
    case 'changes':
      return 'changes';
    case 'console':
    case 'grid':
    case 'waterfall':
      return route.page;
    case 'agents':
    case 'agent':
      return 'agents';
    case 'metrics':
    case 'bisection':
      return 'metrics';
    case 'login':
    case 'not-found':
      return '';
    default: {
      const never: never = route;
      throw new Error(`unknown route ${JSON.stringify(never)}`);
    }
  }
}

export function markActiveNav(route: Route): void {
  const section = navSection(route);
  byId('nav')
    .querySelectorAll<HTMLAnchorElement>('a[data-nav]')
    .forEach((a) => {
      a.classList.toggle('active', a.dataset.nav === section);
      // Screen readers announce the current section too, not only sighted users seeing the underline.
      if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
}

const STATE_TEXT: Record<LiveState, string> = {
  idle: 'live updates: off',
  connecting: 'live updates: connecting',
  open: 'live updates: connected',
  waiting: 'live updates: disconnected, retrying',
};

export function showLiveState(live: LiveClient): void {
  const dot = byId('live-status');
  live.onState((state) => {
    dot.dataset.state = state;
    dot.title = STATE_TEXT[state];
    dot.setAttribute('aria-label', STATE_TEXT[state]);
  });
}
