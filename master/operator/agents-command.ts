/** `caliper agents`: the configured agents, whether they are connected and what they run. */
import type { Agent, Page } from '../../protocol/api-types.ts';
import type { ApiClient } from './api-client.ts';
import { time } from './format.ts';
import { table } from './table.ts';

export async function agentsCommand(api: ApiClient, opts: { json: boolean }): Promise<string> {
  const { agents } = await api.get<Page<'agents'>>('/agents');
  if (opts.json) return JSON.stringify(agents);
  return table<Agent>(agents, [
    { header: 'AGENT', cell: (a) => a.name },
    { header: 'CONNECTED', cell: (a) => (a.connected ? 'yes' : 'no') },
    { header: 'BUILDS', cell: (a) => `${a.running_builds}/${a.maxBuilds}`, align: 'right' },
    { header: 'LABELS', cell: (a) => a.labels.join(',') || '-' },
    { header: 'OS', cell: (a) => a.info?.os ?? '-' },
    { header: 'VERSION', cell: (a) => a.info?.version ?? '-' },
    { header: 'LAST CONNECTED', cell: (a) => time(a.last_connected_at) },
  ]);
}
