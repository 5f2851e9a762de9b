import { Router, type Response } from 'express';
import type { ApiDeps } from './deps.ts';
import type { ChangeRow } from '../db/entities.ts';
import { requireToken } from './auth.ts';
import { fieldsOf, found, idParam, parseBody, seconds, selectFields } from './params.ts';
import { changeInputSchema } from '../changes/change.ts';

export function serializeChange(c: ChangeRow) {
  return {
    changeid: c.id,
    repository: c.repository,
    branch: c.branch,
    revision: c.revision,
    author: c.author,
    comments: c.comments,
    files: JSON.parse(c.files) as string[],
    project: c.project,
    category: c.category,
    when_timestamp: seconds(c.when_timestamp),
    created_at: seconds(c.created_at),
  };
}

export function changesRouter(deps: ApiDeps): Router {
  const r = Router();
  const page = (res: Response, query: Record<string, unknown>, { rows, total }: { rows: ChangeRow[]; total: number }) =>
    res.json({ changes: selectFields(rows.map(serializeChange), fieldsOf(query)), meta: { total } });

  r.get('/changes', async (req, res) => page(res, req.query, await deps.repos.changes.query(req.query)));
  r.get('/changes/:id', async (req, res) => {
    const id = idParam(req.params.id as string, 'change id');
    const change = found(await deps.repos.changes.get(id), `change ${id}`);
    res.json({ changes: [serializeChange(change)], meta: { total: 1 } });
  });
  r.get('/buildrequests/:id/changes', async (req, res) => {
    const id = idParam(req.params.id as string, 'build request id');
    found(await deps.repos.buildRequests.get(id), `build request ${id}`);
    page(res, req.query, await deps.repos.changes.ofBuildRequest(id, req.query));
  });
  r.get('/builds/:id/changes', async (req, res) => {
    const id = idParam(req.params.id as string, 'build id');
    const build = found(await deps.repos.builds.get(id), `build ${id}`);
    page(res, req.query, await deps.repos.changes.ofBuildRequest(build.buildrequestid, req.query));
  });
  // Buildbot's base change hook, in JSON: a CI system, a repository's post-receive hook or a script posts here.
  r.post('/changes', requireToken(deps.authTokens), async (req, res) => {
    const change = parseBody(changeInputSchema, req.body);
    const [changeid] = await deps.actions.addChanges([change]);
    res.status(201).json({ changeid });
  });
  return r;
}
