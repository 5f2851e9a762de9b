import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';
import type { Logger } from '../../core/logger.ts';
import type { ApiDeps } from './deps.ts';
import { agentsRouter } from './agents.ts';
import { artifactsRouter } from './artifacts.ts';
import { buildersRouter } from './builders.ts';
import { buildRequestsRouter } from './buildrequests.ts';
import { buildsRouter } from './builds.ts';
import { buildsetsRouter } from './buildsets.ts';
import { changesRouter } from './changes.ts';
import { consoleRouter } from './console.ts';
import { controlRouter } from './control.ts';
import { bisectionsRouter } from './bisections.ts';
import { githubHookRouter, type GithubHookConfig } from './github-hook.ts';
import { badgesRouter } from './badges.ts';
import { errorMiddleware, notFoundHandler } from './error-middleware.ts';
import { logsRouter } from './logs.ts';
import { stepsRouter } from './steps.ts';
import { metricsRouter } from './metrics.ts';
import { metricChangesRouter } from './metric-changes.ts';
import { changePointsRouter } from './changepoints.ts';
import { uiRouter } from './ui.ts';
import type { Registry } from 'prom-client';
import { UnsupportedMediaTypeError } from '../../core/errors/index.ts';
import { isWrite, refuseCrossSiteWrites } from './same-origin.ts';
import { refuseDeepJson } from './json-depth.ts';
import { recordHeaders, securityHeaders } from './security-headers.ts';
import type { UiBoot } from '../../protocol/api-types.ts';
import type { WebAuthConfig } from '../auth/auth-config.ts';
import { createWebAuth } from '../auth/web-auth.ts';

/** A media type's essence: `Application/JSON; charset=utf-8` is `application/json`. */
const essence = (contentType: string) => contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';

/**
 * A write says it is JSON, or sends no body and no Content-Type at all (`curl -X POST`). A body in
 * another type would be silently ignored; and text/plain, form and multipart writes are what a page
 * of another site can send without a CORS preflight, so they are refused even when empty.
 */
const requireJsonWrites: RequestHandler = (req, _res, next) => {
  if (!isWrite(req.method)) return next();
  const type = req.get('content-type');
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (type === undefined ? !hasBody : essence(type) === 'application/json') return next();
  next(new UnsupportedMediaTypeError('request body must be JSON: send Content-Type: application/json (or no body and no Content-Type)'));
};

/** The security headers, as helmet's options; the UI is same-origin only (uPlot sets inline styles, hence style-src 'unsafe-inline'). */
export const HELMET_OPTIONS = {
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'", 'ws:', 'wss:'],
      upgradeInsecureRequests: null,
    },
  },
  // The master is often served over plain HTTP on a LAN; HSTS would lock browsers out of that.
  strictTransportSecurity: false,
} satisfies HelmetOptions;

/**
 * `handlers` in order for a write (see same-origin.ts: any method but GET, HEAD and OPTIONS); a read
 * goes past them in one step. A read carries no body the API reads, so none is parsed. Chained here
 * rather than in a nested express Router: a Router that ends passes on through `setImmediate`, and a
 * refusal answered a turn later is lost when the client has already half-closed its socket.
 */
function writesOnly(...handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    if (!isWrite(req.method)) return next();
    let i = 0;
    const step = (err?: unknown): void => {
      const handler = handlers[i++];
      if (err !== undefined || handler === undefined) return next(err);
      // A handler may call back later (express.json, once the body is read): a throw then is ours to pass on.
      try {
        void handler(req, res, step);
      } catch (e) {
        next(e);
      }
    };
    step();
  };
}

export function createApp(
  deps: ApiDeps,
  options: {
    log: Logger;
    maxBodyBytes: number;
    title: string;
    prometheus: Registry | null;
    githubHook?: GithubHookConfig | undefined;
    /** web.auth: users, roles, sessions and tokens; the guard then decides every write (and reads when readProtected). */
    auth?: WebAuthConfig | undefined;
    /** Origins besides the master's own whose pages may write (web.allowedOrigins; see same-origin.ts). */
    allowedOrigins?: readonly string[] | undefined;
  },
): Express {
  const app = express();
  app.disable('x-powered-by');
  // helmet says which security headers and values; they are recorded once and set as one list.
  app.use(securityHeaders(recordHeaders(helmet(HELMET_OPTIONS))));
  app.set('query parser', 'simple');
  const webAuth = options.auth ? createWebAuth(options.auth, { repos: deps.repos, builders: deps.builders, log: options.log }) : null;
  // The guard decides every write (tokens included), so the routes' own token check stands down.
  const routeDeps: ApiDeps = webAuth ? { ...deps, authTokens: undefined } : deps;
  if (webAuth) app.use('/auth', webAuth.router);
  const api = express.Router();
  // Where a write comes from (before who sends it), what it carries, how deep it nests: before any route.
  // Reads skip what only concerns writes (one layer each side of the guard instead of four).
  api.use(writesOnly(refuseCrossSiteWrites(options.allowedOrigins ?? [])));
  if (webAuth) api.use(webAuth.guard);
  api.use(writesOnly(requireJsonWrites, express.json({ limit: options.maxBodyBytes, strict: true }), refuseDeepJson));
  api.use(buildersRouter(routeDeps));
  api.use(buildsRouter(routeDeps));
  api.use(buildRequestsRouter(routeDeps));
  api.use(buildsetsRouter(routeDeps));
  api.use(changesRouter(routeDeps));
  api.use(consoleRouter(routeDeps));
  api.use(stepsRouter(routeDeps));
  api.use(artifactsRouter(routeDeps));
  api.use(logsRouter(routeDeps));
  api.use(agentsRouter(routeDeps));
  api.use(metricsRouter(routeDeps));
  api.use(metricChangesRouter(routeDeps));
  api.use(changePointsRouter(routeDeps));
  api.use(uiRouter(routeDeps));
  api.use(controlRouter(routeDeps));
  if (deps.bisections) api.use(bisectionsRouter(deps.bisections, routeDeps.authTokens));
  api.use(notFoundHandler);
  app.use('/api/v2', api);
  if (options.githubHook) app.use(githubHookRouter(deps, options.githubHook));
  // Badges are reads like the API's: with web.auth.readProtected the guard asks for a session or token.
  app.use('/badges', ...(webAuth ? [webAuth.guard] : []), badgesRouter(deps));
  const prometheus = options.prometheus;
  if (prometheus) {
    app.get('/metrics', async (_req, res) => {
      res.type(prometheus.contentType).send(await prometheus.metrics());
    });
  }
  const ui = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'frontend', 'dist');
  if (fs.existsSync(path.join(ui, 'index.html'))) {
    const page = indexPage(fs.readFileSync(path.join(ui, 'index.html'), 'utf8'));
    app.get(['/', '/index.html'], (req, res) => {
      const auth = webAuth ? { methods: webAuth.session.methods(), me: webAuth.session.me(req) } : null;
      // A read-protected master tells a stranger only how to log in (as /api/v2/ui would).
      const boot: UiBoot = auth?.methods.readProtected && !auth.me ? { auth } : { ui: deps.ui, auth };
      res.setHeader('Cache-Control', 'no-cache');
      res.type('html').send(page(boot));
    });
    app.use(
      express.static(ui, {
        index: 'index.html',
        maxAge: '1h',
        setHeaders: (res, file) => file.endsWith('.html') && res.setHeader('Cache-Control', 'no-cache'),
      }),
    );
  } else {
    app.get('/', (_req, res) => {
      res
        .type('text/plain')
        .send(`${options.title}: a Caliper master. The web UI is not built (npm run build); the JSON API is at /api/v2.\n`);
    });
  }
  app.use(notFoundHandler);
  app.use(errorMiddleware(options.log));
  return app;
}

/**
 * index.html with the UI's boot data in a JSON script before `</head>`: what the first render needs
 * (title, login methods, the user) without three round trips after the script has loaded. `<` is
 * escaped so no value can end the script element.
 */
function indexPage(html: string): (boot: UiBoot) => string {
  const at = html.indexOf('</head>');
  if (at < 0) throw new Error('frontend/dist/index.html has no </head>');
  return (boot) =>
    `${html.slice(0, at)}<script id="caliper-boot" type="application/json">${JSON.stringify(boot).replace(/</g, '\\u003c')}</script>\n${html.slice(at)}`;
}
