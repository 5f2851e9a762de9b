/** Route → page. */
import type { PageContext } from '../context.ts';
import type { Route } from '../router.ts';
import { h } from '../dom.ts';
import { agentsPage } from './agents.ts';
import { buildPage } from './build.ts';
import { builderPage } from './builder.ts';
import { buildersPage } from './builders.ts';
import { loginPage } from './login.ts';

export function renderPage(route: Route, ctx: PageContext): HTMLElement {
  switch (route.page) {
    case 'builders':
      return buildersPage(ctx);
    case 'builder':
      return builderPage(ctx, route.name);
    case 'build':
      return buildPage(ctx, route.buildid);
    case 'agents':
      return agentsPage(ctx);
    case 'login':
      return loginPage(ctx);
    case 'not-found':
      return h(
        'section',
        { class: 'page' },
        h('h1', null, 'Not found'),
        h('p', null, `Nothing here: ${route.path}. `, h('a', { href: '#/' }, 'Builders')),
      );
    default: {
      const never: never = route;
      throw new Error(`unknown route ${JSON.stringify(never)}`);
    }
  }
}
