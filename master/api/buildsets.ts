/**
 * Buildsets over the API (Buildbot's `/buildsets`): the requests one submission made, with their
 * newest builds. A matrix build's parent: its cells, their results and the combined result (the
 * worst of theirs). Stopping it stops every cell (master/build/matrix-stop.ts).
 */
import { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps.ts';
import type { Buildset, BuildsetStopped } from '../../protocol/api-types.ts';
import { Results, resultName, worstResult, type Result } from '../../core/results.ts';
import { requireToken } from './auth.ts';
import { found, idPath, parseBody, parseParams } from './params.ts';
import { seconds, sendPage } from './respond.ts';
import { parseStoredCell } from '../config/matrix.ts';
import { stopBuildset } from '../build/matrix-stop.ts';

const buildsetPath = idPath('buildset id');
const stopBody = z.strictObject({ reason: z.string().max(1000).optional() });

export function buildsetsRouter(deps: ApiDeps): Router {
  const r = Router();
  const names = new Map(deps.builders.map((b) => [b.id, b.config.name]));
  r.get('/buildsets/:id', async (req, res) => {
    const { id } = parseParams(req, buildsetPath);
    const set = found(await deps.repos.buildsets.get(id), `buildset ${id}`);
    const requests = await deps.repos.buildsets.requestsOf(id);
    const builds = await deps.repos.buildsets.latestBuilds(requests.map((q) => q.id));
    const complete = requests.length > 0 && requests.every((q) => q.complete);
    const results: Result | null = complete
      ? requests.reduce<Result>((worst, q) => worstResult(worst, q.results ?? Results.EXCEPTION), Results.SUCCESS)
      : null;
    const cells = requests.map((q) => parseStoredCell(q.matrix, `build request ${q.id}`));
    const axes = [...new Set(cells.flatMap((c) => (c ? Object.keys(c) : [])))];
    const buildset: Buildset = {
      buildsetid: set.id,
      scheduler: set.scheduler,
      reason: set.reason,
      submitted_at: seconds(set.submitted_at),
      parent_buildid: set.parent_buildid,
      complete,
      results,
      result: resultName(results),
      axes,
      requests: requests.map((q, i) => {
        const build = builds.get(q.id);
        return {
          buildrequestid: q.id,
          builderid: q.builderid,
          builder_name: names.get(q.builderid) ?? null,
          matrix: cells[i] ? { ...cells[i] } : null,
          complete: q.complete,
          results: q.results,
          result: resultName(q.results),
          buildid: build?.id ?? null,
          build_number: build?.number ?? null,
          build_complete: build ? build.complete_at !== null : false,
        };
      }),
    };
    sendPage(res, 'buildsets', [buildset], 1);
  });
  r.post('/buildsets/:id/stop', requireToken(deps.authTokens), async (req, res) => {
    const { id } = parseParams(req, buildsetPath);
    const body = parseBody(req, stopBody);
    found(await deps.repos.buildsets.get(id), `buildset ${id}`);
    const stopped = await stopBuildset(deps, id, body.reason ?? `buildset ${id} stopped through the API`);
    res.status(202).json({ buildsetid: id, ...stopped } satisfies BuildsetStopped);
  });
  return r;
}
