import { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps.ts';
import type { BuildRow } from '../db/entities.ts';
import { requireToken } from './auth.ts';
import { fieldsOf, found, idParam, parseBody, seconds, selectFields } from './params.ts';
import { resultName, type Result } from '../../core/results.ts';

export function serializeBuild(b: BuildRow) {
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
    result: resultName(b.results as Result | null),
    state_string: b.state_string,
    properties: JSON.parse(b.properties) as unknown,
  };
}

const actionBody = z.strictObject({ reason: z.string().max(1000).optional() });

/** A build as the API shows it: the row, plus its builder's name and links (Grafana around its time). */
export function presentBuild(deps: ApiDeps, b: BuildRow) {
  const builder = deps.builders.find((x) => x.id === b.builderid)?.config.name ?? null;
  const build = serializeBuild(b);
  return {
    ...build,
    properties: deps.masker.maskValue(build.properties),
    builder_name: builder,
    links: builder ? deps.links.build(builder, b.started_at, b.complete_at) : {},
  };
}

export function buildsRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/builds', async (req, res) => {
    const { rows, total } = await deps.repos.builds.query(req.query);
    res.json({
      builds: selectFields(
        rows.map((b) => presentBuild(deps, b)),
        fieldsOf(req.query),
      ),
      meta: { total },
    });
  });
  r.get('/builds/:id', async (req, res) => {
    const build = found(await deps.repos.builds.get(idParam(req.params.id as string, 'build id')), `build ${req.params.id as string}`);
    res.json({ builds: selectFields([presentBuild(deps, build)], fieldsOf(req.query)), meta: { total: 1 } });
  });
  r.post('/builds/:id/stop', requireToken(deps.authTokens), async (req, res) => {
    const id = idParam(req.params.id as string, 'build id');
    const body = parseBody(actionBody, req.body);
    await deps.actions.stop(id, body.reason ?? 'stopped through the API');
    res.status(202).json({ buildid: id, stopping: true });
  });
  r.post('/builds/:id/rebuild', requireToken(deps.authTokens), async (req, res) => {
    const id = idParam(req.params.id as string, 'build id');
    const body = parseBody(actionBody, req.body);
    const buildrequestid = await deps.actions.rebuild(id, body.reason ?? `rebuild of build ${id}`);
    res.status(202).json({ buildrequestid });
  });
  return r;
}
