import { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps.ts';
import type { Builder, RequestSubmitted } from '../../protocol/api-types.ts';
import { resultName } from '../../core/results.ts';
import { requireToken } from './auth.ts';
import { fieldsOf, idParam, parseBody, parseParams } from './params.ts';
import { NotFoundError } from '../../core/errors/index.ts';
import { buildPresenter, sendBuildsPage } from './builds.ts';
import { PageCache } from './page-cache.ts';
import { memoryCollectionQuery, parseCollectionQuery, type FieldMap } from '../db/collection-query.ts';
import type { BuilderStats as BuilderStatsRow } from '../db/builds.ts';
import { seconds, sendPage } from './respond.ts';
import { toSpec } from '../config/matrix-schema.ts';
import type { PropertyValue } from '../../steps/properties/properties.ts';

const jsonValue: z.ZodType<PropertyValue> = z.lazy(() =>
  z.union([
    z.string().max(10_000),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValue).max(1000),
    z.record(z.string().max(200), jsonValue),
  ]),
);
export const forceBody = z.strictObject({
  reason: z.string().max(1000).default('forced'),
  properties: z
    .record(
      z
        .string()
        .min(1)
        .max(100)
        .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'property names: letters, digits, "_", "." or "-"'),
      jsonValue,
    )
    .refine((p) => Object.keys(p).length <= 100, 'at most 100 properties')
    .default({}),
  /** The request's priority (higher first); default the force scheduler's, else the builder's. */
  priority: z
    .number()
    .int()
    .min(-(2 ** 31))
    .max(2 ** 31 - 1)
    .optional(),
});

/** What `/builders` filters and orders on; paged like every other collection, in the configuration's order by default. */
export const builderFields: FieldMap = {
  builderid: { column: 'builderid', type: 'int' },
  name: { column: 'name', type: 'string' },
  description: { column: 'description', type: 'string' },
};

/** A builder in a path: its name, or its id when all digits. */
const builderPath = z.object({ key: z.string() });
const buildNumberPath = z.object({ number: idParam('build number') });

type BuilderStats = Map<number, BuilderStatsRow>;

export function buildersRouter(deps: ApiDeps): Router {
  const r = Router();
  const presentBuild = buildPresenter(deps);
  const pages = new PageCache(deps.repos.version);
  const present = (b: ApiDeps['builders'][number], stats: BuilderStats): Builder => {
    const s = stats.get(b.id);
    const last = s?.last ?? null;
    return {
      builderid: b.id,
      name: b.config.name,
      description: b.config.description ?? null,
      tags: b.config.tags,
      last_build: last
        ? {
            buildid: last.id,
            number: last.number,
            results: last.results,
            result: resultName(last.results),
            complete_at: seconds(last.complete_at),
          }
        : null,
      running: s?.running ?? 0,
      average_duration: s?.averageMs === null || s?.averageMs === undefined ? null : s.averageMs / 1000,
      links: deps.links.builder(b.config.name),
      // The axes let the UI offer "split by" on the builder's charts (metric points carry them as tags).
      ...(b.config.matrix ? { matrix: { axes: Object.keys(toSpec(b.config.matrix).axes) } } : {}),
    };
  };
  const find = (key: string) => {
    const b = /^\d+$/.test(key) ? deps.builders.find((x) => x.id === Number(key)) : deps.builders.find((x) => x.config.name === key);
    if (!b) throw new NotFoundError(`builder "${key}" not found`);
    return b;
  };

  r.get('/builders', async (req, res) => {
    const query = req.query; // express parses it anew on each read
    const q = parseCollectionQuery(query, builderFields);
    const listed = deps.builders.map((b) => ({ builderid: b.id, name: b.config.name, description: b.config.description ?? null, b }));
    const { rows, total } = memoryCollectionQuery(listed, builderFields, q);
    const stats = await deps.repos.builds.builderStats(rows.map((row) => row.builderid));
    sendPage(
      res,
      'builders',
      rows.map((row) => present(row.b, stats)),
      total,
      fieldsOf(query),
    );
  });
  r.get('/builders/:key', async (req, res) => {
    const b = find(parseParams(req, builderPath).key);
    sendPage(res, 'builders', [present(b, await deps.repos.builds.builderStats([b.id]))], 1, fieldsOf(req.query));
  });
  r.get('/builders/:key/builds', async (req, res) => {
    const b = find(parseParams(req, builderPath).key);
    await sendBuildsPage(res, deps.repos.builds, presentBuild, req.query, { builderid: b.id }, { pages, key: req.originalUrl });
  });
  r.get('/builders/:key/builds/:number', async (req, res) => {
    const b = find(parseParams(req, builderPath).key);
    const { number } = parseParams(req, buildNumberPath);
    const { rows } = await deps.repos.builds.query({ number: String(number) }, { builderid: b.id });
    const build = rows[0];
    if (!build) throw new NotFoundError(`build ${b.config.name}#${number} not found`);
    sendPage(res, 'builds', [presentBuild(build)], 1);
  });
  r.post('/builders/:key/force', requireToken(deps.authTokens), async (req, res) => {
    const b = find(parseParams(req, builderPath).key);
    const body = parseBody(req, forceBody);
    const buildrequestid = await deps.actions.force(b.config.name, body);
    res.status(202).json({ buildrequestid } satisfies RequestSubmitted);
  });
  return r;
}
