import { Router } from 'express';
import type { ApiDeps } from './deps.ts';
import type { StepRow } from '../db/entities.ts';
import { fieldsOf, found, idParam, seconds, selectFields } from './params.ts';
import { resultName, type Result } from '../../core/results.ts';

export function serializeStep(s: StepRow) {
  return {
    stepid: s.id,
    buildid: s.buildid,
    number: s.number,
    name: s.name,
    started_at: seconds(s.started_at),
    complete_at: seconds(s.complete_at),
    complete: s.complete_at !== null,
    results: s.results,
    result: resultName(s.results as Result | null),
    state_string: s.state_string,
    hidden: s.hidden,
  };
}

export function stepsRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/builds/:id/steps', async (req, res) => {
    const buildid = idParam(req.params.id as string, 'build id');
    found(await deps.repos.builds.get(buildid), `build ${buildid}`);
    const { rows, total } = await deps.repos.steps.query(req.query, { buildid });
    res.json({ steps: selectFields(rows.map(serializeStep), fieldsOf(req.query)), meta: { total } });
  });
  r.get('/steps', async (req, res) => {
    const { rows, total } = await deps.repos.steps.query(req.query);
    res.json({ steps: selectFields(rows.map(serializeStep), fieldsOf(req.query)), meta: { total } });
  });
  r.get('/steps/:id', async (req, res) => {
    const step = found(await deps.repos.steps.get(idParam(req.params.id as string, 'step id')), `step ${req.params.id as string}`);
    res.json({ steps: [serializeStep(step)], meta: { total: 1 } });
  });
  return r;
}
