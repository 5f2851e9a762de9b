/**
 * The builds API under load, with autocannon (keep-alive connections, one request in flight on each):
 * `GET /api/v2/builds?limit=50` from one client (req/s), then from `clients` clients at once (req/s and
 * the 99th percentile of latency). Any error or non-2xx answer fails the figure: a fast error is no
 * answer.
 */
import autocannon from 'autocannon';
import { z } from 'zod';
import { getJson } from './http-json.ts';

export const BUILDS_PATH = '/api/v2/builds?limit=50';

export interface ApiFigures {
  oneClientReqPerSecond: number;
  manyClientsReqPerSecond: number;
  manyClientsP99Ms: number;
}

const buildsAnswer = z.object({ builds: z.array(z.unknown()) });

async function load(url: string, connections: number, seconds: number): Promise<autocannon.Result> {
  const result = await autocannon({ url, connections, pipelining: 1, duration: seconds });
  const bad = result.errors + result.timeouts + result.non2xx;
  if (bad > 0)
    throw new Error(
      `GET ${url} with ${connections} clients: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx answers`,
    );
  if (result.requests.total === 0) throw new Error(`GET ${url} with ${connections} clients: no answer within ${seconds} s`);
  return result;
}

/** `expectedBuilds`: how many builds the first answer must hold (min(50, stored)), so both sides serve the same page. */
export async function measureBuildsApi(base: string, clients: number, seconds: number, expectedBuilds: number): Promise<ApiFigures> {
  const url = `${base}${BUILDS_PATH}`;
  const { builds } = buildsAnswer.parse(await getJson(url));
  if (builds.length !== expectedBuilds) throw new Error(`GET ${url}: ${builds.length} builds, expected ${expectedBuilds}`);
  // Warm-up (JIT, caches, connection pools) not counted.
  await autocannon({ url, connections: Math.min(clients, 4), amount: 200 });
  const one = await load(url, 1, seconds);
  const many = await load(url, clients, seconds);
  return {
    oneClientReqPerSecond: one.requests.total / one.duration,
    manyClientsReqPerSecond: many.requests.total / many.duration,
    manyClientsP99Ms: many.latency.p99,
  };
}
