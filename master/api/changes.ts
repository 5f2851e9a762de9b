import { Router, type Response } from 'express';
import type { ApiDeps } from './deps.ts';
import type { ChangeRow } from '../db/entities.ts';
import type { Change, ChangeAdded, ChangeBuildRequests } from '../../protocol/api-types.ts';
import { requireToken } from './auth.ts';
import { fieldsOf, found, idPath, parseBody, parseParams } from './params.ts';
import { seconds, sendPage } from './respond.ts';
import { z } from 'zod';
import { parseJson } from '../../core/parse-json.ts';
import { changeInputSchema } from '../changes/change.ts';
import { parsePropertyValues } from '../../steps/properties/properties.ts';

export function presentChange(c: ChangeRow): Change {
  return {
    changeid: c.id,
    repository: c.repository,
    branch: c.branch,
    revision: c.revision,
    author: c.author,
    comments: c.comments,
    files: parseJson(c.files, paths, `change ${c.id}'s files`),
    properties: parsePropertyValues(c.properties, `change ${c.id}'s properties`),
    project: c.project,
    category: c.category,
    when_timestamp: seconds(c.when_timestamp),
    created_at: seconds(c.created_at),
  };
}

const paths = z.array(z.string());
const changePath = idPath('change id');
const requestPath = idPath('build request id');
const buildPath = idPath('build id');

export function changesRouter(deps: ApiDeps): Router {
  const r = Router();
  const page = (res: Response, query: Record<string, unknown>, { rows, total }: { rows: ChangeRow[]; total: number }) =>
    sendPage(res, 'changes', rows.map(presentChange), total, fieldsOf(query));

  r.get('/changes', async (req, res) => page(res, req.query, await deps.repos.changes.query(req.query)));
  r.get('/changes/:id', async (req, res) => {
    const { id } = parseParams(req, changePath);
    const change = found(await deps.repos.changes.get(id), `change ${id}`);
    sendPage(res, 'changes', [presentChange(change)], 1);
  });
  // Which requests build a change (a change can feed several builders); their builds are found by buildrequestid.
  r.get('/changes/:id/buildrequests', async (req, res) => {
    const { id } = parseParams(req, changePath);
    found(await deps.repos.changes.get(id), `change ${id}`);
    res.json({ buildrequestids: await deps.repos.changes.requestIdsOf(id) } satisfies ChangeBuildRequests);
  });
  r.get('/buildrequests/:id/changes', async (req, res) => {
    const { id } = parseParams(req, requestPath);
    found(await deps.repos.buildRequests.get(id), `build request ${id}`);
    page(res, req.query, await deps.repos.changes.ofBuildRequest(id, req.query));
  });
  r.get('/builds/:id/changes', async (req, res) => {
    const { id } = parseParams(req, buildPath);
    const build = found(await deps.repos.builds.get(id), `build ${id}`);
    page(res, req.query, await deps.repos.changes.ofBuildRequest(build.buildrequestid, req.query));
  });
  // Buildbot's base change hook, in JSON: a CI system, a repository's post-receive hook or a script posts here.
  r.post('/changes', requireToken(deps.authTokens), async (req, res) => {
    const change = parseBody(req, changeInputSchema);
    const [changeid] = await deps.actions.addChanges([change]);
    if (changeid === undefined) throw new Error('storing a change gave no id');
    res.status(201).json({ changeid } satisfies ChangeAdded);
  });
  return r;
}
