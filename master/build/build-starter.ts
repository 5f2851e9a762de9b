/**
 * Starts a claimed request's build on the agent the claimer picked, tracks it among the running
 * builds, and frees what it held (the agent's slot, the locks) however it ends. A build whose run
 * throws (an internal error, not a failing step) is recorded as EXCEPTION, so it never looks running.
 */
import type { Logger } from '../../core/logger.ts';
import type { AgentRegistry } from '../agents/agent-registry.ts';
import type { Repositories } from '../db/repositories.ts';
import type { ClaimerDeps } from '../scheduler/request-claimer.ts';
import { endAsException } from './abandoned-builds.ts';
import { Build, type BuildDeps } from './build-runner.ts';
import type { RunningBuilds } from './running-builds.ts';

const INTERNAL_ERROR = { build: 'exception: internal error', step: 'exception: internal error' };

export function buildStarter(deps: {
  build: BuildDeps;
  running: RunningBuilds;
  registry: AgentRegistry;
  repos: Repositories;
  log: Logger;
  now: () => number;
}): ClaimerDeps['startBuild'] {
  const { repos, log, now } = deps;
  return (builder, builderid, request, agent, locks) => {
    // What %(worker:…)s renders: the agent's name, and what its hello said of itself.
    const worker = {
      name: agent.config.name,
      os: agent.info.os,
      version: agent.info.version,
      labels: [...agent.config.labels, ...agent.info.labels],
    };
    const build = new Build(deps.build, builder, builderid, request, agent.handle, worker);
    deps.running.launch(build, {
      onFailure: async (e) => {
        log.error('build failed to run', { builder: builder.name, request: request.id, error: String(e) });
        const row = build.row && build.row.complete_at === null ? build.row : null;
        await endAsException(repos, row, request.id, INTERNAL_ERROR, now).catch((err: unknown) =>
          log.error('could not record the failed build', { error: String(err) }),
        );
      },
      onSettled: () => {
        locks.release();
        deps.registry.release(agent.config.name, builder.name); // wakes the claimer
      },
    });
  };
}
