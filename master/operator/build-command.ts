/** `caliper build ID [--log STEP]`: one build and its steps, or a step's log as the command wrote it. */
import type { Build, Log, Page, Step } from '../../protocol/api-types.ts';
import { OperatorError, type ApiClient } from './api-client.ts';
import { elapsed, result, time } from './format.ts';
import { table } from './table.ts';

export async function buildCommand(api: ApiClient, id: number, opts: { json: boolean }): Promise<string> {
  const [build] = (await api.get<Page<'builds'>>(`/builds/${id}`)).builds;
  if (!build) throw new OperatorError(`build ${id} not found`);
  const steps = (await api.get<Page<'steps'>>(`/builds/${id}/steps`)).steps;
  if (opts.json) return JSON.stringify({ build, steps });
  const head = [
    `build ${build.buildid}: ${build.builder_name ?? `builder ${build.builderid}`} #${build.number}  ${result(build.result, build.complete)}`,
    `agent ${build.agent}, started ${time(build.started_at)}, took ${elapsed(build.started_at, build.complete_at)}${build.complete ? '' : ' so far'}`,
    build.state_string,
    '',
  ];
  return [
    ...head,
    table<Step>(
      steps.filter((s) => !s.hidden),
      [
        { header: '#', cell: (s) => String(s.number), align: 'right' },
        { header: 'STEP', cell: (s) => s.name },
        { header: 'RESULT', cell: (s) => (s.started_at === null ? 'pending' : result(s.result, s.complete)) },
        { header: 'DURATION', cell: (s) => elapsed(s.started_at, s.complete_at), align: 'right' },
        { header: 'STATE', cell: (s) => s.state_string },
      ],
    ),
  ].join('\n');
}

/** The step named `step` (or numbered, counting from 0 as the API does) and its stdio log (else its first). */
export async function findStepLog(api: ApiClient, id: number, step: string): Promise<{ build: Build; step: Step; log: Log }> {
  const [build] = (await api.get<Page<'builds'>>(`/builds/${id}`)).builds;
  if (!build) throw new OperatorError(`build ${id} not found`);
  const steps = (await api.get<Page<'steps'>>(`/builds/${id}/steps`)).steps;
  const found = steps.find((s) => s.name === step) ?? (/^\d+$/.test(step) ? steps.find((s) => s.number === Number(step)) : undefined);
  if (!found)
    throw new OperatorError(`build ${id} has no step "${step}" (steps: ${steps.map((s) => `${s.number} ${s.name}`).join(', ') || 'none'})`);
  const logs = (await api.get<Page<'logs'>>(`/steps/${found.stepid}/logs`)).logs;
  const log = logs.find((l) => l.slug === 'stdio') ?? logs[0];
  if (!log) throw new OperatorError(`step "${found.name}" of build ${id} has no log`);
  if (log.expired_at !== null)
    throw new OperatorError(`the log of step "${found.name}" of build ${id} was removed by retention on ${time(log.expired_at)}`);
  return { build, step: found, log };
}
