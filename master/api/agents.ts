import { Router } from 'express';
import type { ApiDeps } from './deps.ts';
import type { Agent } from '../../protocol/api-types.ts';
import { seconds, sendPage } from './respond.ts';

export function agentsRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/agents', async (_req, res) => {
    const stored = new Map((await deps.repos.agents.list()).map((a) => [a.name, a]));
    const agents = deps.registry.list().map(({ config, connected }): Agent => ({
      agentid: stored.get(config.name)?.id ?? null,
      name: config.name,
      labels: config.labels,
      maxBuilds: config.maxBuilds,
      connected: connected !== undefined,
      running_builds: connected?.running ?? 0,
      info: connected?.info ?? null,
      last_connected_at: seconds(stored.get(config.name)?.last_connected_at ?? null),
    }));
    sendPage(res, 'agents', agents, agents.length);
  });
  return r;
}
