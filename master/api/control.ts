/**
 * Control of the master itself: `POST /control/reconfig` loads the config file again and applies it
 * (master/reconfig.ts). A write like force: a token when web.auth.tokens is set; a logged-in user
 * when the allowRules let them do `any` (it has no builder of its own). Answers what changed, or
 * the errors with the old config still in force (422 invalid, 409 needs a restart).
 */
import { Router } from 'express';
import type { ApiDeps } from './deps.ts';
import { requireToken } from './auth.ts';
import { ConflictError } from '../../core/errors/index.ts';

export function controlRouter(deps: ApiDeps): Router {
  const r = Router();
  r.post('/control/reconfig', requireToken(deps.authTokens), async (_req, res) => {
    if (!deps.reconfig) throw new ConflictError('this master was started without a config file to load again: reconfig is not possible');
    const { changes, warnings } = await deps.reconfig();
    res.json({ reconfig: { result: 'applied', ...changes, warnings } });
  });
  return r;
}
