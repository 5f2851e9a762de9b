import { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps.ts';
import type { BuildRow } from '../db/entities.ts';
import type { Build, RequestSubmitted, StopRequested } from '../../protocol/api-types.ts';
import { resultName } from '../../core/results.ts';
import { requireToken } from './auth.ts';
import { fieldsOf, found, idPath, parseBody, parseParams } from './params.ts';
import { seconds, sendPage } from './respond.ts';
import { parsePropertyMap } from '../../steps/properties/properties.ts';

/** A build in the API's shape: the row, its builder's name and links (Grafana around its time), secrets masked. */
export function presentBuild(deps: ApiDeps, b: BuildRow): Build {
  const builder = deps.builders.find((x) => x.id === b.builderid)?.config.name ?? null;
  return {
    buildid: b.id,
    builderid: b.builderid,
    number: b.number,
    buildrequestid: b.buildrequestid,
    masterid: b.masterid,
    agent: b.agent,
    started_at: seconds(b.started_at),
    complete_at: seconds(b.complete_at),
    complete: b.complete_at !== null,
    results: b.results,
    result: resultName(b.results),
    state_string: b.state_string,
    properties: deps.masker.maskValue(parsePropertyMap(b.properties, `build ${b.id}'s properties`)),
    builder_name: builder,
    links: builder ? deps.links.build(builder, b.started_at, b.complete_at) : {},
  };
}

const buildPath = idPath('build id');
const actionBody = z.strictObject({ reason: z.string().max(1000).optional() });

export function buildsRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/builds', async (req, res) => {
    const { rows, total } = await deps.repos.builds.query(req.query);
    sendPage(
      res,
      'builds',
      rows.map((b) => presentBuild(deps, b)),
      total,
      fieldsOf(req.query),
    );
  });
  r.get('/builds/:id', async (req, res) => {
    const { id } = parseParams(req, buildPath);
    const build = found(await deps.repos.builds.get(id), `build ${id}`);
    sendPage(res, 'builds', [presentBuild(deps, build)], 1, fieldsOf(req.query));
  });
  r.post('/builds/:id/stop', requireToken(deps.authTokens), async (req, res) => {
    const { id } = parseParams(req, buildPath);
    const body = parseBody(req, actionBody);
    await deps.actions.stop(id, body.reason ?? 'stopped through the API');
    res.status(202).json({ buildid: id, stopping: true } satisfies StopRequested);
  });
  r.post('/builds/:id/rebuild', requireToken(deps.authTokens), async (req, res) => {
    const { id } = parseParams(req, buildPath);
    const body = parseBody(req, actionBody);
    const buildrequestid = await deps.actions.rebuild(id, body.reason ?? `rebuild of build ${id}`);
    res.status(202).json({ buildrequestid } satisfies RequestSubmitted);
  });
  return r;
}
