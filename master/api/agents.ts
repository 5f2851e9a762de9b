import { Router } from 'express';
import type { ApiDeps } from './deps.ts';
import type { Agent } from '../../protocol/api-types.ts';
import { memoryCollectionQuery, parseCollectionQuery, type FieldMap } from '../db/collection-query.ts';
import { fieldsOf } from './params.ts';
import { seconds, sendPage } from './respond.ts';

/** What `/agents` filters and orders on (the rest of an agent is shown, not queried). */
export const agentFields: FieldMap = {
  agentid: { column: 'agentid', type: 'int' },
  name: { column: 'name', type: 'string' },
  connected: { column: 'connected', type: 'bool' },
  running_builds: { column: 'running_builds', type: 'int' },
  maxBuilds: { column: 'maxBuilds', type: 'int' },
  last_connected_at: { column: 'last_connected_at', type: 'time' },
};

/**
 * The configured agents, paged like every other collection (`limit`, `offset`, `order`, filters on
 * agentFields, `field`), in the configuration's order unless told otherwise. Only the page is
 * presented: with 10 000 agents, a page of 50 costs what 50 cost.
 */
export function agentsRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/agents', async (req, res) => {
    const query = req.query; // express parses it anew on each read
    const q = parseCollectionQuery(query, agentFields);
    const stored = await deps.repos.agents.stored();
    const all = deps.registry.list().map(({ config, connected }) => ({
      agentid: stored.get(config.name)?.id ?? null,
      name: config.name,
      connected: connected !== undefined,
      running_builds: connected?.running ?? 0,
      maxBuilds: config.maxBuilds,
      last_connected_at: stored.get(config.name)?.last_connected_at ?? null,
      config,
      entry: connected,
    }));
    const { rows, total } = memoryCollectionQuery(all, agentFields, q);
    const agents = rows.map((a): Agent => ({
      agentid: a.agentid,
      name: a.name,
      labels: a.config.labels,
      maxBuilds: a.maxBuilds,
      connected: a.connected,
      running_builds: a.running_builds,
      info: a.entry?.info ?? null,
      last_connected_at: seconds(a.last_connected_at),
    }));
    sendPage(res, 'agents', agents, total, fieldsOf(query));
  });
  return r;
}
