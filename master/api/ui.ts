import { Router } from 'express';
import type { ApiDeps } from './deps.ts';

/** What the web UI needs to know of the configuration (no secrets). */
export function uiRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/ui', (_req, res) => {
    res.json(deps.ui);
  });
  return r;
}
