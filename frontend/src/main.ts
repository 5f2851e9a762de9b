/**
 * The Caliper web UI: wires the API client, the live stream, the message area and the router, then
 * applies the master's title, login methods and user from the boot data index.html carries (asked for
 * with /api/v2/ui and /auth when it has none).
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
import 'uplot/dist/uPlot.min.css'; // here, not in the lazy chart chunk (components/uplot-lib.ts)
import type { UiBoot, UiInfo } from '../../protocol/api-types.ts';
import type { AppServices } from './context.ts';
import { api } from './api.ts';
import { LiveClient } from './live.ts';
import { MessageArea } from './message.ts';
import { Router } from './router.ts';
import { byId } from './dom.ts';
import { applyUiInfo, markActiveNav, showLiveState, showSession } from './header.ts';
import { currentUser, loadSession, loginMethods, useBootSession } from './session.ts';
import { renderPage } from './pages/index.ts';

/** The boot data index.html carries (master/api/app.ts), or null when it has none (an older master). */
function bootData(): Partial<UiBoot> | null {
  const el = document.getElementById('caliper-boot');
  const text = el?.textContent;
  el?.remove(); // read once; the document keeps only what the pages show
  if (!text) return null;
  try {
    const data: unknown = JSON.parse(text);
    return typeof data === 'object' && data !== null ? (data as Partial<UiBoot>) : null;
  } catch (e) {
    console.warn('unreadable boot data in index.html', e);
    return null;
  }
}

async function start(): Promise<void> {
  const boot = bootData();
  // Who is logged in decides which actions pages offer: known before the first page renders.
  if (boot && 'auth' in boot) useBootSession(boot.auth);
  else await loadSession().catch((e: unknown) => console.warn('loading the session failed', e));
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
  if (boot?.ui) applyUiInfo(boot.ui);
  else api.get<UiInfo>('/ui').then(applyUiInfo, (e: unknown) => console.warn('GET /api/v2/ui failed; default title, no token field', e));
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => void start(), { once: true });
else void start();
