import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from '../logger.ts';
import type { ApiDeps } from './deps.ts';
import { agentsRouter } from './agents.ts';
import { buildersRouter } from './builders.ts';
import { buildRequestsRouter } from './buildrequests.ts';
import { buildsRouter } from './builds.ts';
import { errorMiddleware, notFoundHandler } from './error-middleware.ts';
import { logsRouter } from './logs.ts';
import { stepsRouter } from './steps.ts';
import { metricsRouter } from './metrics.ts';
import type { Registry } from 'prom-client';
import { UnsupportedMediaTypeError } from '../errors/index.ts';

/** A write with a body must say it is JSON; anything else would be silently ignored. */
const requireJsonBody: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (req.method !== 'GET' && hasBody && !req.is('application/json')) {
    return next(new UnsupportedMediaTypeError('request body must be JSON: send Content-Type: application/json'));
  }
  next();
};

export function createApp(deps: ApiDeps, options: { log: Logger; maxBodyBytes: number; title: string; prometheus: Registry | null }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const api = express.Router();
  api.use(requireJsonBody);
  api.use(express.json({ limit: options.maxBodyBytes, strict: true }));
  api.use(buildersRouter(deps));
  api.use(buildsRouter(deps));
  api.use(buildRequestsRouter(deps));
  api.use(stepsRouter(deps));
  api.use(logsRouter(deps));
  api.use(agentsRouter(deps));
  api.use(metricsRouter(deps));
  api.use(notFoundHandler);
  app.use('/api/v2', api);
  const prometheus = options.prometheus;
  if (prometheus) {
    app.get('/metrics', async (_req, res) => {
      res.type(prometheus.contentType).send(await prometheus.metrics());
    });
  }
  app.get('/', (_req, res) => {
    res.type('text/plain').send(`${options.title}: a Caliper master. The JSON API is at /api/v2 (see docs/api.md).\n`);
  });
  app.use(notFoundHandler);
  app.use(errorMiddleware(options.log));
  return app;
}
