/**
 * The Caliper web UI: wires the API client, the live stream, the message area and the router, then
 * asks the master for its title and whether writes need a token. Pages render without waiting for that.
 *
 * | file                          | job                                                            |
 * |-------------------------------|----------------------------------------------------------------|
 * | dom.ts                        | `h()` and helpers: text nodes only, checked URLs               |
 * | api.ts                        | /api/v2 client, ApiError (answer shapes: protocol/api-types)   |
 * | live.ts                       | /ws event stream, log subscriptions, reconnect with backoff    |
 * | router.ts, pages/index.ts     | hash routes → pages, each with a Scope disposed on leaving     |
 * | scope.ts, refresh.ts          | lifetimes; coalesced reloads on live events                    |
 * | message.ts, header.ts         | #message area; title, nav, token field, live dot               |
 * | wait-for-build.ts             | the one poll: a request's build after force/rebuild            |
 * | pages/*.ts                    | builders, builder, build (+ build-step), agents                |
 * | components/*.ts               | log viewer (+ log-lines), chart, force form, tables, badges    |
 */
import './style.css';
import type { UiInfo } from '../../protocol/api-types.ts';
import type { AppServices } from './context.ts';
import { api } from './api.ts';
import { LiveClient } from './live.ts';
import { MessageArea } from './message.ts';
import { Router } from './router.ts';
import { byId } from './dom.ts';
import { applyUiInfo, markActiveNav, showLiveState, showSession } from './header.ts';
import { currentUser, loadSession, loginMethods } from './session.ts';
import { renderPage } from './pages/index.ts';

async function start(): Promise<void> {
  // Who is logged in decides which actions pages offer: known before the first page renders.
  await loadSession().catch((e: unknown) => console.warn('loading the session failed', e));
  const live = new LiveClient();
  const message = new MessageArea();
  const services: AppServices = { api, live, message, navigate: (hash) => router.navigate(hash) };
  const router = new Router(
    byId('app'),
    (route, scope) => renderPage(route, { ...services, scope }),
    (route) => {
      message.clearErrors();
      markActiveNav(route);
    },
  );
  // The skip link moves the focus to the page; following its href would change the route.
  byId('skip-link').addEventListener('click', (e) => {
    e.preventDefault();
    byId('app').focus();
  });
  showLiveState(live);
  showSession((hash) => router.navigate(hash));
  if (loginMethods()?.readProtected && !currentUser()) location.hash = '#/login';
  else live.start();
  router.start();
  api.get<UiInfo>('/ui').then(applyUiInfo, (e: unknown) => console.warn('GET /api/v2/ui failed; default title, no token field', e));
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => void start(), { once: true });
else void start();
