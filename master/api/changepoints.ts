/**
 * The regression watcher's change points (master/regressions), read-only:
 * - `GET /changepoints`: paged like every collection (`limit`, `offset`, `order`, `field__op=value`),
 *   newest first, filtered by `series`, `builder` (name) or `builderid`, `branch`, `direction`
 *   (better|worse), `state` (confirming|confirmed|dismissed), `detected_by`;
 * - `GET /changepoints/{id}`: one, with the values of its confirming reruns.
 */
import { Router } from 'express';
import { BadRequestError, NotFoundError } from '../../core/errors/index.ts';
import type { ChangePointRecord } from '../../protocol/api-types.ts';
import { CHANGE_POINT_STATES, type ChangePointRow, type ChangePointsRepo } from '../db/change-points.ts';
import type { ApiDeps } from './deps.ts';
import { fieldsOf, found, idPath, parseParams } from './params.ts';
import { seconds, sendPage } from './respond.ts';

const changePointPath = idPath('change point id');
const DIRECTIONS = ['better', 'worse'];

function present(c: ChangePointRow, builder: string | null, rerunValues: (number | null)[]): ChangePointRecord {
  return {
    changepointid: c.id,
    series: c.series,
    tags: c.tags,
    builderid: c.builderid,
    builder,
    branch: c.branch,
    before: { buildid: c.before_buildid, revision: c.before_revision },
    after: { buildid: c.after_buildid, revision: c.after_revision, time: c.after_time / 1e6 },
    mean_before: c.mean_before,
    mean_after: c.mean_after,
    magnitude_percent: c.magnitude,
    p_value: c.p_value,
    direction: c.direction,
    state: c.state,
    reruns: c.reruns,
    rerun_values: rerunValues,
    detected_by: c.detected_by,
    alerted: c.alerted,
    created_at: seconds(c.created_at),
    decided_at: seconds(c.decided_at),
  };
}

/** A filter's values must be among `allowed`: a typo answers 400 naming it, not an empty page. */
function checkValues(query: Record<string, unknown>, field: string, allowed: readonly string[]): void {
  for (const [key, raw] of Object.entries(query)) {
    if (key !== field && !key.startsWith(`${field}__`)) continue;
    for (const v of Array.isArray(raw) ? raw : [raw])
      if (!allowed.includes(String(v))) throw new BadRequestError(`${key} must be one of ${allowed.join(', ')}; got "${String(v)}"`);
  }
}

export function changePointsRouter(deps: ApiDeps): Router {
  const r = Router();
  const repo = (): ChangePointsRepo => {
    if (!deps.changePoints) throw new NotFoundError('change points are not watched by this master');
    return deps.changePoints;
  };
  const builderName = (id: number | null) => (id === null ? null : (deps.builders.find((b) => b.id === id)?.config.name ?? null));

  r.get('/changepoints', async (req, res) => {
    const { builder, ...query } = req.query as Record<string, unknown>;
    checkValues(query, 'direction', DIRECTIONS);
    checkValues(query, 'state', CHANGE_POINT_STATES);
    if (builder !== undefined) {
      const name = String(Array.isArray(builder) ? builder.at(-1) : builder);
      const known = deps.builders.find((b) => b.config.name === name);
      if (!known) throw new NotFoundError(`builder "${name}" not found`);
      query.builderid = String(known.id);
    }
    const { rows, total } = await repo().query(query);
    const items = await Promise.all(rows.map(async (c) => present(c, builderName(c.builderid), await repo().rerunValues(c.id))));
    sendPage(res, 'changepoints', items, total, fieldsOf(query));
  });

  r.get('/changepoints/:id', async (req, res) => {
    const { id } = parseParams(req, changePointPath);
    const c = found(await repo().get(id), `change point ${id}`);
    sendPage(res, 'changepoints', [present(c, builderName(c.builderid), await repo().rerunValues(c.id))], 1);
  });
  return r;
}
