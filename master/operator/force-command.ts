/** `caliper force BUILDER [--prop k=v]... [--reason TEXT]`: queues a build, as the UI's force button. */
import type { RequestSubmitted } from '../../protocol/api-types.ts';
import { OperatorError, type ApiClient } from './api-client.ts';

/** `k=v` pairs as properties (string values); a pair without "=" or with an empty name is refused. */
export function parseProps(pairs: readonly string[]): Record<string, string> {
  const props: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new OperatorError(`--prop "${pair}" must be NAME=VALUE`);
    props[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return props;
}

export async function forceCommand(
  api: ApiClient,
  builder: string,
  opts: { props: Record<string, string>; reason?: string; json: boolean },
): Promise<string> {
  const body = { properties: opts.props, ...(opts.reason !== undefined ? { reason: opts.reason } : {}) };
  const answer = await api.post<RequestSubmitted>(`/builders/${encodeURIComponent(builder)}/force`, body);
  return opts.json ? JSON.stringify(answer) : `queued build request ${answer.buildrequestid} for ${builder}`;
}
