import { Router } from 'express';
import type { ApiDeps } from './deps.ts';
import type { UiInfo } from '../../protocol/api-types.ts';

/** What the web UI needs to know of the configuration (no secrets). */
export function uiRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/ui', (_req, res) => {
    const ui: UiInfo = deps.ui;
    res.json(ui);
  });
  return r;
}
