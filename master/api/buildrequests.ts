import { Router } from 'express';
import type { ApiDeps } from './deps.ts';
import type { BuildRequestRow } from '../db/entities.ts';
import type { BuildRequest } from '../../protocol/api-types.ts';
import { resultName } from '../../core/results.ts';
import { fieldsOf, found, idPath, parseParams } from './params.ts';
import { requireToken } from './auth.ts';
import { seconds, sendPage } from './respond.ts';
import { parsePropertyValues } from '../../steps/properties/properties.ts';
import { parseStoredCell } from '../config/matrix.ts';

/** A build request in the API's shape, secrets in its properties masked. */
export function presentBuildRequest(deps: Pick<ApiDeps, 'masker'>, r: BuildRequestRow): BuildRequest {
  return {
    buildrequestid: r.id,
    builderid: r.builderid,
    reason: r.reason,
    buildsetid: r.buildsetid,
    priority: r.priority,
    properties: deps.masker.maskValue(parsePropertyValues(r.properties, `build request ${r.id}'s properties`)),
    submitted_at: seconds(r.submitted_at),
    claimed: r.claimed_by_masterid !== null,
    claimed_at: seconds(r.claimed_at),
    claimed_by_masterid: r.claimed_by_masterid,
    complete: r.complete,
    complete_at: seconds(r.complete_at),
    results: r.results,
    result: resultName(r.results),
    parent_buildid: r.parent_buildid,
    ...(r.matrix === null ? {} : { matrix: { ...parseStoredCell(r.matrix, `build request ${r.id}`) } }),
  };
}

const requestPath = idPath('build request id');

export function buildRequestsRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/buildrequests', async (req, res) => {
    const { rows, total } = await deps.repos.buildRequests.query(req.query);
    sendPage(
      res,
      'buildrequests',
      rows.map((row) => presentBuildRequest(deps, row)),
      total,
      fieldsOf(req.query),
    );
  });
  r.get('/buildrequests/:id', async (req, res) => {
    const { id } = parseParams(req, requestPath);
    const row = found(await deps.repos.buildRequests.get(id), `build request ${id}`);
    sendPage(res, 'buildrequests', [presentBuildRequest(deps, row)], 1);
  });
  // Any request in the database, its builder configured or not: a removed builder's queue can be emptied.
  r.post('/buildrequests/:id/cancel', requireToken(deps.authTokens), async (req, res) => {
    const { id } = parseParams(req, requestPath);
    const row = await deps.actions.cancelRequest(id);
    sendPage(res, 'buildrequests', [presentBuildRequest(deps, row)], 1);
  });
  return r;
}
