/**
 * Buildbot's console, grid and waterfall, as two reads:
 * - `GET /console?branch=&tags=&limit=&offset=`: a page of changes, newest first, each with its
 *   builds on the builders that carry one of the tags (every builder without `tags`). Two queries
 *   whatever the page's size (master/db/console.ts), so the views never fetch per change.
 * - `GET /waterfall?hours=&tags=&limit=`: the builds of those builders that overlap the last hours.
 * Builders come from the configuration, in its order: they are the views' columns (or rows).
 */
import { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps.ts';
import type { ConsoleCellRow, TimelineBuildRow } from '../db/console.ts';
import type { ConsoleAnswer, ConsoleBuild, TimelineBuild, ViewBuilder, WaterfallAnswer } from '../../protocol/api-types.ts';
import { resultName } from '../../core/results.ts';
import { bound, parseQuery, single } from './params.ts';
import { presentChange } from './changes.ts';
import { seconds } from './respond.ts';

const MAX_CHANGES = 200;
const MAX_BUILDS = 5000;
const MAX_HOURS = 24 * 7;

/** `tags=a,b`: builders with at least one of them. Empty names are dropped; none given means every builder. */
const tagsParam = single('tags')
  .max(2000, 'tags must be at most 2000 characters')
  .transform((v) =>
    v
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== ''),
  );

/** A limit of 1 to `max` (0 would read as "no limit" to the query builder). */
const limitParam = (max: number) =>
  single('limit')
    .refine((v) => /^\d{1,9}$/.test(v) && Number(v) >= 1 && Number(v) <= max, {
      error: (issue) => `limit must be an integer from 1 to ${max}, got "${String(issue.input)}"`,
    })
    .transform(Number);

const consoleQuery = z.strictObject({
  branch: single('branch').max(250, 'branch must be at most 250 characters').optional(),
  tags: tagsParam.optional(),
  limit: limitParam(MAX_CHANGES).optional(),
  offset: bound('offset', 1_000_000_000).optional(),
});

const waterfallQuery = z.strictObject({
  hours: single('hours')
    .refine((v) => /^\d{1,3}(\.\d{1,3})?$/.test(v) && Number(v) > 0 && Number(v) <= MAX_HOURS, {
      error: (issue) => `hours must be a number above 0 and at most ${MAX_HOURS}, got "${String(issue.input)}"`,
    })
    .transform(Number)
    .optional(),
  tags: tagsParam.optional(),
  limit: limitParam(MAX_BUILDS).optional(),
});

export function consoleRouter(deps: ApiDeps): Router {
  const r = Router();

  /** The configured builders the tags select, in the configuration's order. */
  const buildersFor = (tags: string[] | undefined): ViewBuilder[] =>
    deps.builders
      .filter((b) => !tags || tags.length === 0 || b.config.tags.some((t) => tags.includes(t)))
      .map((b) => ({ builderid: b.id, name: b.config.name, tags: b.config.tags }));

  r.get('/console', async (req, res) => {
    const q = parseQuery(req, consoleQuery);
    const builders = buildersFor(q.tags);
    const page = await deps.repos.console.changePage({ branch: q.branch || null, limit: q.limit ?? 25, offset: q.offset ?? 0 });
    const cells = await deps.repos.console.cells(
      page.rows.map((c) => c.id),
      builders.map((b) => b.builderid),
    );
    const byChange = new Map<number, ConsoleBuild[]>();
    for (const cell of cells) byChange.set(cell.changeid, [...(byChange.get(cell.changeid) ?? []), presentCell(cell)]);
    res.json({
      builders,
      changes: page.rows.map((c) => ({ ...presentChange(c), builds: byChange.get(c.id) ?? [] })),
      meta: { total: page.total },
    } satisfies ConsoleAnswer);
  });

  r.get('/waterfall', async (req, res) => {
    const q = parseQuery(req, waterfallQuery);
    const builders = buildersFor(q.tags);
    const to = Date.now();
    const from = to - Math.round((q.hours ?? 6) * 3_600_000);
    const { rows, total } = await deps.repos.console.timeline(
      builders.map((b) => b.builderid),
      from,
      to,
      q.limit ?? 1000,
    );
    res.json({
      builders,
      builds: rows.map(presentTimelineBuild),
      meta: { total, from: seconds(from), to: seconds(to) },
    } satisfies WaterfallAnswer);
  });
  return r;
}

/** A cell's entry: its build when one started, else the request (waiting, or ended without a build). */
function presentCell(c: ConsoleCellRow): ConsoleBuild {
  const built = c.buildid !== null;
  const results = built ? c.results : c.request_results;
  return {
    builderid: c.builderid,
    buildrequestid: c.buildrequestid,
    buildid: c.buildid,
    number: c.number,
    complete: built ? c.complete_at !== null : c.request_complete,
    results,
    result: resultName(results),
    started_at: seconds(c.started_at),
    complete_at: seconds(c.complete_at),
  };
}

function presentTimelineBuild(b: TimelineBuildRow): TimelineBuild {
  return {
    buildid: b.buildid,
    builderid: b.builderid,
    number: b.number,
    started_at: seconds(b.started_at),
    complete_at: seconds(b.complete_at),
    complete: b.complete_at !== null,
    results: b.results,
    result: resultName(b.results),
  };
}
