import { Router, type Response } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps.ts';
import type { BuildRow } from '../db/entities.ts';
import type { Build, RequestSubmitted, StopRequested } from '../../protocol/api-types.ts';
import { resultName } from '../../core/results.ts';
import { requireToken } from './auth.ts';
import { fieldsOf, found, idPath, parseBody, parseParams } from './params.ts';
import { seconds, sendPage } from './respond.ts';
import { jsonItem, jsonItemsBody, sendBody, type JsonItem } from './collection-json.ts';
import { PageCache } from './page-cache.ts';
import { parsePropertyMap } from '../../steps/properties/properties.ts';
import { MATRIX_PROPERTY_SOURCE } from '../config/matrix.ts';

/** A build in the API's shape: the row, its builder's name and links (Grafana around its time), secrets masked. */
export function presentBuild(deps: ApiDeps, b: BuildRow): Build {
  return buildPresenter(deps)(b);
}

/** How many builds a presenter remembers (a few pages of every builder). */
const CACHE_SIZE = 5000;

export interface BuildPresenter {
  (b: BuildRow): Build;
  /** The build as JSON (`JSON.stringify(present(b))`), remembered for a build that has not changed since. */
  json(b: BuildRow): JsonItem;
  /** The JSON of build `id` if it is remembered and the build finished (so its row cannot change). */
  finishedJson(id: number): JsonItem | undefined;
  /** Whether the build's JSON is the same whenever it is asked for (its row unchanged): not if its links end "now". */
  timeless(b: BuildRow): boolean;
}

/**
 * Presents builds, remembering what it made. A page of builds reads the same few hundred rows again
 * and again, and parsing, checking and masking their properties, then serialising them, was most of
 * the cost of `GET /builds`. The presented properties are remembered per stored text (the masker is
 * fixed for the master's life, so the text decides them); a build's JSON per build, with the columns
 * that change, and only once it is finished or its links do not depend on the time of the request.
 * The oldest entries are dropped past the cache's size.
 */
export function buildPresenter(deps: Pick<ApiDeps, 'builders' | 'masker' | 'links'>): BuildPresenter {
  const names = new Map(deps.builders.map((x) => [x.id, x.config.name]));
  // A builder a reconfig added is looked up on its first build; a removed one keeps its name here.
  const nameOf = (builderid: number): string | null => {
    if (!names.has(builderid)) for (const x of deps.builders) names.set(x.id, x.config.name);
    return names.get(builderid) ?? null;
  };
  const properties = new Map<string, Build['properties']>();
  const texts = new Map<number, { row: BuildRow; json: JsonItem }>();
  const remember = <K, V>(cache: Map<K, V>, key: K, value: V) => {
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as K);
    cache.set(key, value);
  };
  const propertiesOf = (b: BuildRow): Build['properties'] => {
    let props = properties.get(b.properties);
    if (props === undefined) {
      props = deps.masker.maskValue(parsePropertyMap(b.properties, `build ${b.id}'s properties`));
      remember(properties, b.properties, props);
    }
    return props;
  };
  const present = (b: BuildRow): Build => {
    const builder = nameOf(b.builderid);
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
      properties: propertiesOf(b),
      builder_name: builder,
      links: builder ? deps.links.build(builder, b.started_at, b.complete_at) : {},
      ...matrixOf(propertiesOf(b)),
    };
  };
  // An unfinished build's Grafana link ends at "now": its text is made anew each time.
  const linksTimeless = Object.keys(deps.links.build('builder', 0, null)).length === 0;
  const timeless = (b: BuildRow) => b.complete_at !== null || linksTimeless;
  const json = (b: BuildRow): JsonItem => {
    const known = texts.get(b.id);
    if (known && sameRow(known.row, b)) return known.json;
    const item = jsonItem(JSON.stringify(present(b)));
    if (timeless(b)) remember(texts, b.id, { row: b, json: item });
    return item;
  };
  const finishedJson = (id: number): JsonItem | undefined => {
    const known = texts.get(id);
    return known && known.row.complete_at !== null ? known.json : undefined;
  };
  return Object.assign(present, { json, finishedJson, timeless });
}

/** A matrix cell's axis values: the build's properties of source 'Matrix' (master/config/matrix.ts). */
function matrixOf(properties: Build['properties']): Pick<Build, 'matrix'> {
  const cell = Object.entries(properties).filter(([, [, source]]) => source === MATRIX_PROPERTY_SOURCE);
  return cell.length === 0 ? {} : { matrix: Object.fromEntries(cell.map(([name, [value]]) => [name, String(value)])) };
}

/** Whether two reads of one build row are alike in every column. */
function sameRow(a: BuildRow, b: BuildRow): boolean {
  return (
    a.complete_at === b.complete_at &&
    a.results === b.results &&
    a.state_string === b.state_string &&
    a.properties === b.properties &&
    a.builderid === b.builderid &&
    a.number === b.number &&
    a.buildrequestid === b.buildrequestid &&
    a.masterid === b.masterid &&
    a.agent === b.agent &&
    a.started_at === b.started_at
  );
}

const buildPath = idPath('build id');
const actionBody = z.strictObject({ reason: z.string().max(1000).optional() });

/** Where a page of builds is kept between writes (page-cache.ts), and under what key. */
export interface BuildsPageCache {
  pages: PageCache;
  /** What decides the answer: the request's path and query (scope included). */
  key: string;
}

/**
 * A page of builds (`GET /builds`, `/builders/:key/builds`). The page's finished builds this
 * presenter has made are not read again, only their ids: their JSON is taken when the ids arrive, so
 * a cache eviction during the rest of the read loses nothing. The page itself is kept until the next
 * write when none of its builds' JSON depends on the time (`cache`). A `field` selection reads whole rows.
 */
export async function sendBuildsPage(
  res: Response,
  builds: ApiDeps['repos']['builds'],
  present: BuildPresenter,
  query: Record<string, unknown>,
  scope: { builderid?: number } = {},
  cache?: BuildsPageCache,
): Promise<void> {
  const fields = fieldsOf(query);
  if (fields) {
    const { rows, total } = await builds.query(query, scope);
    sendPage(res, 'builds', rows.map(present), total, fields);
    return;
  }
  const found = cache?.pages.lookup(cache.key);
  if (found && 'page' in found) return sendBody(res, found.page);
  const held = new Map<number, JsonItem>();
  const page = await builds.queryUnheld(
    query,
    (id) => {
      const item = present.finishedJson(id);
      if (item !== undefined) held.set(id, item);
      return item !== undefined;
    },
    scope,
  );
  let timeless = true;
  const items = page.ids.flatMap((id) => {
    const row = page.rows.get(id);
    if (row && !present.timeless(row)) timeless = false;
    const item = row ? present.json(row) : held.get(id);
    return item === undefined ? [] : [item];
  });
  const body = jsonItemsBody('builds', items, page.total);
  if (cache && found && 'read' in found && timeless) cache.pages.keep(cache.key, found.read, body);
  sendBody(res, body);
}

export function buildsRouter(deps: ApiDeps): Router {
  const r = Router();
  const present = buildPresenter(deps);
  const pages = new PageCache(deps.repos.version);
  r.get('/builds', async (req, res) => {
    const query = req.query; // express parses it anew on each read
    await sendBuildsPage(res, deps.repos.builds, present, query, {}, { pages, key: req.originalUrl });
  });
  r.get('/builds/:id', async (req, res) => {
    const { id } = parseParams(req, buildPath);
    const build = found(await deps.repos.builds.get(id), `build ${id}`);
    sendPage(res, 'builds', [present(build)], 1, fieldsOf(req.query));
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
