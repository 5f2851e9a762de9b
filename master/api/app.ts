import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Logger } from '../../core/logger.ts';
import type { ApiDeps } from './deps.ts';
import { agentsRouter } from './agents.ts';
import { buildersRouter } from './builders.ts';
import { buildRequestsRouter } from './buildrequests.ts';
import { buildsRouter } from './builds.ts';
import { changesRouter } from './changes.ts';
import { githubHookRouter, type GithubHookConfig } from './github-hook.ts';
import { errorMiddleware, notFoundHandler } from './error-middleware.ts';
import { logsRouter } from './logs.ts';
import { stepsRouter } from './steps.ts';
import { metricsRouter } from './metrics.ts';
import { uiRouter } from './ui.ts';
import type { Registry } from 'prom-client';
import { UnsupportedMediaTypeError } from '../../core/errors/index.ts';

/** A write with a body must say it is JSON; anything else would be silently ignored. */
const requireJsonBody: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (req.method !== 'GET' && hasBody && !req.is('application/json')) {
    return next(new UnsupportedMediaTypeError('request body must be JSON: send Content-Type: application/json'));
  }
  next();
};

export function createApp(
  deps: ApiDeps,
  options: { log: Logger; maxBodyBytes: number; title: string; prometheus: Registry | null; githubHook?: GithubHookConfig | undefined },
): Express {
  const app = express();
  app.disable('x-powered-by');
  // Security headers; the UI is same-origin only (uPlot sets inline styles, hence style-src 'unsafe-inline').
  app.use(
    helmet({
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
    }),
  );
  app.set('query parser', 'simple');
  const api = express.Router();
  api.use(requireJsonBody);
  api.use(express.json({ limit: options.maxBodyBytes, strict: true }));
  api.use(buildersRouter(deps));
  api.use(buildsRouter(deps));
  api.use(buildRequestsRouter(deps));
  api.use(changesRouter(deps));
  api.use(stepsRouter(deps));
  api.use(logsRouter(deps));
  api.use(agentsRouter(deps));
  api.use(metricsRouter(deps));
  api.use(uiRouter(deps));
  api.use(notFoundHandler);
  app.use('/api/v2', api);
  if (options.githubHook) app.use(githubHookRouter(deps, options.githubHook));
  const prometheus = options.prometheus;
  if (prometheus) {
    app.get('/metrics', async (_req, res) => {
      res.type(prometheus.contentType).send(await prometheus.metrics());
    });
  }
  const ui = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'frontend', 'dist');
  if (fs.existsSync(path.join(ui, 'index.html'))) {
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
        .send(`${options.title}: a Caliper master. The web UI is not built (npm run build:ui); the JSON API is at /api/v2.\n`);
    });
  }
  app.use(notFoundHandler);
  app.use(errorMiddleware(options.log));
  return app;
}
