import { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps.ts';
import { requireToken } from './auth.ts';
import { fieldsOf, idParam, parseBody, selectFields } from './params.ts';
import { NotFoundError } from '../errors/index.ts';
import { serializeBuild } from './builds.ts';
import type { PropertyValue } from '../build/properties.ts';

const jsonValue: z.ZodType<PropertyValue> = z.lazy(() =>
  z.union([z.string().max(10_000), z.number(), z.boolean(), z.null(), z.array(jsonValue).max(1000), z.record(z.string().max(200), jsonValue)]),
);
export const forceBody = z.strictObject({
  reason: z.string().max(1000).default('forced'),
  properties: z
    .record(z.string().min(1).max(100).regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'property names: letters, digits, "_", "." or "-"'), jsonValue)
    .refine((p) => Object.keys(p).length <= 100, 'at most 100 properties')
    .default({}),
});

export function buildersRouter(deps: ApiDeps): Router {
  const r = Router();
  const serialize = (b: ApiDeps['builders'][number]) => ({
    builderid: b.id,
    name: b.config.name,
    description: b.config.description ?? null,
    tags: b.config.tags,
  });
  const find = (key: string) => {
    const b = /^\d+$/.test(key) ? deps.builders.find((x) => x.id === Number(key)) : deps.builders.find((x) => x.config.name === key);
    if (!b) throw new NotFoundError(`builder "${key}" not found`);
    return b;
  };

  r.get('/builders', (req, res) => {
    const items = deps.builders.map(serialize);
    res.json({ builders: selectFields(items, fieldsOf(req.query)), meta: { total: items.length } });
  });
  r.get('/builders/:key', (req, res) => {
    res.json({ builders: [serialize(find((req.params.key as string)))], meta: { total: 1 } });
  });
  r.get('/builders/:key/builds', async (req, res) => {
    const b = find((req.params.key as string));
    const { rows, total } = await deps.repos.builds.query(req.query, { builderid: b.id });
    res.json({ builds: selectFields(rows.map(serializeBuild), fieldsOf(req.query)), meta: { total } });
  });
  r.get('/builders/:key/builds/:number', async (req, res) => {
    const b = find((req.params.key as string));
    const number = idParam((req.params.number as string), 'build number');
    const { rows } = await deps.repos.builds.query({ number: String(number) }, { builderid: b.id });
    const build = rows[0];
    if (!build) throw new NotFoundError(`build ${b.config.name}#${number} not found`);
    res.json({ builds: [serializeBuild(build)], meta: { total: 1 } });
  });
  r.post('/builders/:key/force', requireToken(deps.authTokens), async (req, res) => {
    const b = find((req.params.key as string));
    const body = parseBody(forceBody, req.body);
    const buildrequestid = await deps.actions.force(b.config.name, body);
    res.status(202).json({ buildrequestid });
  });
  return r;
}
