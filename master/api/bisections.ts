/**
 * Bisections over the API (docs/api.md): the list, one with its steps, and `POST /bisections` (a
 * write: token or allowed user) to start one by hand. The bisector itself is master/bisect/.
 */
import { Router } from 'express';
import { z } from 'zod';
import { isResult, resultName } from '../../core/results.ts';
import type * as Api from '../../protocol/api-types.ts';
import { seriesName, tagKey } from '../../metrics/capture-options.ts';
import { refName, revisionId } from '../../steps/git-refs.ts';
import type { Bisections } from '../bisect/bisections.ts';
import type { BisectionBuildRow, BisectionRow, BisectionStepRow } from '../db/bisections.ts';
import { requireToken } from './auth.ts';
import { bound, found, idPath, parseBody, parseParams, parseQuery } from './params.ts';
import { seconds } from './respond.ts';

const bisectionPath = idPath('bisection id');
const listQuery = z.strictObject({ limit: bound('limit', 1000).optional(), offset: bound('offset', 1_000_000).optional() });
const revision = z
  .string({ error: () => 'must be a commit id or a branch name' })
  .refine((v) => revisionId.safeParse(v).success || refName.safeParse(v).success, 'must be a commit id or a branch name');
const startBody = z.strictObject({
  builder: z.string({ error: () => 'must be a builder name' }).min(1, 'must be a builder name'),
  series: z.string({ error: () => 'must be a series name' }).refine((s) => seriesName.safeParse(s).success, 'is not a valid series name'),
  tags: z.record(tagKey, z.string().min(1).max(200)).optional(),
  good: revision,
  bad: revision,
  branch: refName.optional(),
});

export function presentBisection(b: BisectionRow, builds: readonly BisectionBuildRow[], builder: string | null): Api.Bisection {
  return {
    bisectionid: b.id,
    builderid: b.builderid,
    builder,
    series: b.series,
    tags: b.tags,
    branch: b.branch,
    good: b.good,
    bad: b.bad,
    changepointid: b.changepointid,
    state: b.state,
    reason: b.reason,
    commits: b.commits.length,
    builds_requested: builds.filter((r) => r.buildrequestid !== null).length,
    culprit:
      b.culprit === null ? null : { revision: b.culprit, author: b.culprit_author, email: b.culprit_email, subject: b.culprit_subject },
    created_at: seconds(b.created_at),
    finished_at: seconds(b.finished_at),
  };
}

/** The commits looked at, in the order first looked at: the two ends, then each commit judged or under way. */
export function presentSteps(
  b: BisectionRow,
  builds: readonly BisectionBuildRow[],
  steps: readonly BisectionStepRow[],
): Api.BisectionStep[] {
  const order: string[] = [];
  for (const r of builds) if (!order.includes(r.revision)) order.push(r.revision);
  for (const s of steps) if (!order.includes(s.revision)) order.push(s.revision);
  return order.map((rev) => {
    const step = steps.find((s) => s.revision === rev);
    const role = rev === b.good ? 'good' : rev === b.bad ? 'bad' : 'commit';
    return {
      revision: rev,
      position: rev === b.good ? -1 : b.commits.indexOf(rev),
      role,
      builds: builds
        .filter((r) => r.revision === rev)
        .map((r) => {
          const results = isResult(r.results) ? r.results : null;
          return {
            buildrequestid: r.buildrequestid,
            buildid: r.buildid,
            state: r.state,
            results,
            result: resultName(results),
            samples: r.samples ?? [],
          };
        }),
      verdict: step?.verdict ?? (role === 'commit' ? null : role),
      how: step?.how ?? null,
    };
  });
}

export function bisectionsRouter(bisections: Bisections, authTokens: string[] | undefined): Router {
  const r = Router();
  const repo = bisections.repo;
  r.get('/bisections', async (req, res) => {
    const { limit = 100, offset = 0 } = parseQuery(req, listQuery);
    const { rows, total } = await repo.list(limit, offset);
    const items = await Promise.all(
      rows.map(async (b) => presentBisection(b, await repo.builds(b.id), bisections.builderName(b.builderid))),
    );
    res.json({ bisections: items, meta: { total } } satisfies Api.BisectionList);
  });
  r.get('/bisections/:id', async (req, res) => {
    const { id } = parseParams(req, bisectionPath);
    const b = found(await repo.get(id), `bisection ${id}`);
    const builds = await repo.builds(id);
    const steps = await repo.steps(id);
    res.json({
      bisection: presentBisection(b, builds, bisections.builderName(b.builderid)),
      steps: presentSteps(b, builds, steps),
    } satisfies Api.BisectionDetail);
  });
  r.post('/bisections', requireToken(authTokens), async (req, res) => {
    const body = parseBody(req, startBody);
    const bisectionid = await bisections.startByHand(body);
    res.status(201).json({ bisectionid } satisfies Api.BisectionStarted);
  });
  return r;
}
