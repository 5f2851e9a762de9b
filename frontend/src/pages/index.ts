/** Route → page. */
import type { PageContext } from '../context.ts';
import type { Route } from '../router.ts';
import { h } from '../dom.ts';
import { agentPage } from './agent.ts';
import { agentsPage } from './agents.ts';
import { buildPage } from './build.ts';
import { builderPage } from './builder.ts';
import { buildersPage } from './builders.ts';
import { changesPage } from './changes.ts';
import { comparePage } from './compare.ts';
import { consolePage } from './console.ts';
import { gridPage } from './grid.ts';
import { waterfallPage } from './waterfall.ts';
import { loginPage } from './login.ts';
import { overviewPage } from './overview.ts';
import { metricsPage } from './metrics.ts';
import { bisectionPage } from './bisection.ts';

export function renderPage(route: Route, ctx: PageContext): HTMLElement {
  switch (route.page) {
    case 'overview':
      return overviewPage(ctx);
    case 'builders':
      return buildersPage(ctx);
    case 'builder':
      return builderPage(ctx, route.name);
    case 'build':
      return buildPage(ctx, route.buildid);
    case 'compare':
      return comparePage(ctx, route.buildid, route.other);
    case 'changes':
      return changesPage(ctx, route.query);
    case 'console':
      return consolePage(ctx, route.query);
    case 'grid':
      return gridPage(ctx, route.query);
    case 'waterfall':
      return waterfallPage(ctx, route.query);
    case 'agents':
      return agentsPage(ctx);
    case 'agent':
      return agentPage(ctx, route.name);
    case 'metrics':
      return metricsPage(ctx, route.query);
    case 'login':
      return loginPage(ctx);
    case 'bisection':
      return bisectionPage(ctx, route.bisectionid);
    case 'not-found':
      return h(
        'section',
        { class: 'page' },
        h('h1', null, 'Not found'),
        h('p', null, `Nothing here: ${route.path}. `, h('a', { href: '#/' }, 'Overview')),
      );
    default: {
      const never: never = route;
      throw new Error(`unknown route ${JSON.stringify(never)}`);
    }
  }
}
