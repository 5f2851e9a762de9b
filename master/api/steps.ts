import { Router } from 'express';
import type { ApiDeps } from './deps.ts';
import type { StepRow } from '../db/entities.ts';
import type { Step } from '../../protocol/api-types.ts';
import { resultName } from '../../core/results.ts';
import { fieldsOf, found, idPath, parseParams } from './params.ts';
import { seconds, sendPage } from './respond.ts';

export function presentStep(s: StepRow): Step {
  return {
    stepid: s.id,
    buildid: s.buildid,
    number: s.number,
    name: s.name,
    started_at: seconds(s.started_at),
    complete_at: seconds(s.complete_at),
    complete: s.complete_at !== null,
    results: s.results,
    result: resultName(s.results),
    state_string: s.state_string,
    hidden: s.hidden,
  };
}

const buildPath = idPath('build id');
const stepPath = idPath('step id');

export function stepsRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/builds/:id/steps', async (req, res) => {
    const { id: buildid } = parseParams(req, buildPath);
    found(await deps.repos.builds.get(buildid), `build ${buildid}`);
    const { rows, total } = await deps.repos.steps.query(req.query, { buildid });
    sendPage(res, 'steps', rows.map(presentStep), total, fieldsOf(req.query));
  });
  r.get('/steps', async (req, res) => {
    const { rows, total } = await deps.repos.steps.query(req.query);
    sendPage(res, 'steps', rows.map(presentStep), total, fieldsOf(req.query));
  });
  r.get('/steps/:id', async (req, res) => {
    const { id } = parseParams(req, stepPath);
    const step = found(await deps.repos.steps.get(id), `step ${id}`);
    sendPage(res, 'steps', [presentStep(step)], 1);
  });
  return r;
}
