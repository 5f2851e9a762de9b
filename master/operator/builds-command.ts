/** `caliper builds [--builder B] [--limit N]`: the latest builds, newest first. */
import type { Build, Page } from '../../protocol/api-types.ts';
import type { ApiClient } from './api-client.ts';
import { elapsed, result, time } from './format.ts';
import { table } from './table.ts';

export async function buildsCommand(api: ApiClient, opts: { builder?: string; limit: number; json: boolean }): Promise<string> {
  const page = opts.builder
    ? await api.get<Page<'builds'>>(`/builders/${encodeURIComponent(opts.builder)}/builds`, { order: '-number', limit: opts.limit })
    : await api.get<Page<'builds'>>('/builds', { order: '-buildid', limit: opts.limit });
  if (opts.json) return JSON.stringify(page.builds);
  return table<Build>(page.builds, [
    { header: 'ID', cell: (b) => String(b.buildid), align: 'right' },
    { header: 'BUILDER', cell: (b) => b.builder_name ?? `builder ${b.builderid}` },
    { header: '#', cell: (b) => String(b.number), align: 'right' },
    { header: 'RESULT', cell: (b) => result(b.result, b.complete) },
    { header: 'STARTED', cell: (b) => time(b.started_at) },
    { header: 'DURATION', cell: (b) => elapsed(b.started_at, b.complete_at), align: 'right' },
    { header: 'AGENT', cell: (b) => b.agent },
    { header: 'STATE', cell: (b) => b.state_string },
  ]);
}
