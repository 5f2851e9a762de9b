import { Router } from 'express';
import type { ApiDeps } from './deps.ts';
import type { BuildRequestRow } from '../db/entities.ts';
import { fieldsOf, found, idParam, seconds, selectFields } from './params.ts';
import { resultName, type Result } from '../../core/results.ts';

export function serializeBuildRequest(r: BuildRequestRow) {
  return {
    buildrequestid: r.id,
    builderid: r.builderid,
    reason: r.reason,
    priority: r.priority,
    properties: JSON.parse(r.properties) as unknown,
    submitted_at: seconds(r.submitted_at),
    claimed: r.claimed_by_masterid !== null,
    claimed_at: seconds(r.claimed_at),
    claimed_by_masterid: r.claimed_by_masterid,
    complete: r.complete,
    complete_at: seconds(r.complete_at),
    results: r.results,
    result: resultName(r.results as Result | null),
    parent_buildid: r.parent_buildid,
  };
}

export function buildRequestsRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/buildrequests', async (req, res) => {
    const { rows, total } = await deps.repos.buildRequests.query(req.query);
    const present = (r: BuildRequestRow) => ({
      ...serializeBuildRequest(r),
      properties: deps.masker.maskValue(JSON.parse(r.properties) as unknown),
    });
    res.json({ buildrequests: selectFields(rows.map(present), fieldsOf(req.query)), meta: { total } });
  });
  r.get('/buildrequests/:id', async (req, res) => {
    const row = found(
      await deps.repos.buildRequests.get(idParam(req.params.id as string, 'build request id')),
      `build request ${req.params.id as string}`,
    );
    res.json({
      buildrequests: [{ ...serializeBuildRequest(row), properties: deps.masker.maskValue(JSON.parse(row.properties) as unknown) }],
      meta: { total: 1 },
    });
  });
  return r;
}
