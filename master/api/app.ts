import express, { type Express } from 'express';
import type { Logger } from '../logger.ts';
import type { ApiDeps } from './deps.ts';
import { agentsRouter } from './agents.ts';
import { buildersRouter } from './builders.ts';
import { buildRequestsRouter } from './buildrequests.ts';
import { buildsRouter } from './builds.ts';
import { errorMiddleware, notFoundHandler } from './error-middleware.ts';
import { logsRouter } from './logs.ts';
import { stepsRouter } from './steps.ts';

export function createApp(deps: ApiDeps, options: { log: Logger; maxBodyBytes: number; title: string }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const api = express.Router();
  api.use(express.json({ limit: options.maxBodyBytes, strict: true }));
  api.use(buildersRouter(deps));
  api.use(buildsRouter(deps));
  api.use(buildRequestsRouter(deps));
  api.use(stepsRouter(deps));
  api.use(logsRouter(deps));
  api.use(agentsRouter(deps));
  api.use(notFoundHandler);
  app.use('/api/v2', api);
  app.get('/', (_req, res) => {
    res.type('text/plain').send(`${options.title}: a Caliper master. The JSON API is at /api/v2 (see docs/api.md).\n`);
  });
  app.use(notFoundHandler);
  app.use(errorMiddleware(options.log));
  return app;
}
