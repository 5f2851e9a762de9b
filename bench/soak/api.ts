/**
 * The few reads and writes of the Data API the soak makes, each answer checked with zod (only the
 * fields the soak reads). While the master restarts or the database is away a call fails: `attempt`
 * keeps calling until it gets an answer or the soak's deadline passes.
 */
import { z } from 'zod';

export const buildRequestSchema = z.object({
  buildrequestid: z.number(),
  reason: z.string(),
  complete: z.boolean(),
  results: z.number().nullable(),
  result: z.string().nullable(),
  properties: z.record(z.string(), z.unknown()),
});
export type BuildRequestView = z.infer<typeof buildRequestSchema>;

export const buildSchema = z.object({
  buildid: z.number(),
  buildrequestid: z.number(),
  agent: z.string(),
  complete: z.boolean(),
  results: z.number().nullable(),
  result: z.string().nullable(),
  state_string: z.string(),
});
export type BuildView = z.infer<typeof buildSchema>;

const stepSchema = z.object({ stepid: z.number(), name: z.string(), result: z.string().nullable() });
export type StepView = z.infer<typeof stepSchema>;
const logSchema = z.object({ logid: z.number(), slug: z.string() });
const agentSchema = z.object({ name: z.string(), connected: z.boolean(), running_builds: z.number() });
export type AgentView = z.infer<typeof agentSchema>;

const requestsPage = z.object({ buildrequests: z.array(buildRequestSchema) });
const buildsPage = z.object({ builds: z.array(buildSchema) });
const stepsPage = z.object({ steps: z.array(stepSchema) });
const logsPage = z.object({ logs: z.array(logSchema) });
const agentsPage = z.object({ agents: z.array(agentSchema) });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An answer that is not the one expected (a 5xx while the database is away, a 503 while the master stops). */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    what: string,
    body: string,
  ) {
    super(`${what}: HTTP ${status} ${body.slice(0, 300)}`);
    this.name = 'ApiCallError';
  }
}

export class SoakApi {
  /** The master's base URL; set again when it restarts (it keeps its port, so normally the same). */
  constructor(public base: string) {}

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.base}/api/v2${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  private async json<T>(method: 'GET' | 'POST', path: string, schema: z.ZodType<T>, ok: number, body?: unknown): Promise<T> {
    const res = await this.call(method, path, body);
    const text = await res.text();
    if (res.status !== ok) throw new ApiCallError(res.status, `${method} ${path}`, text);
    return schema.parse(JSON.parse(text));
  }

  async force(builder: string, reason: string, properties: Record<string, number>): Promise<number> {
    const answer = await this.json('POST', `/builders/${builder}/force`, z.object({ buildrequestid: z.number() }), 202, {
      reason,
      properties,
    });
    return answer.buildrequestid;
  }

  /** Requests whose reason is exactly `reason` (each submission has its own). */
  async requestsWithReason(reason: string): Promise<BuildRequestView[]> {
    const p = await this.json('GET', `/buildrequests?reason=${encodeURIComponent(reason)}`, requestsPage, 200);
    return p.buildrequests;
  }

  /** The complete requests among `ids` (one query, `buildrequestid=a&buildrequestid=b…`). */
  async completeRequests(ids: number[]): Promise<BuildRequestView[]> {
    if (ids.length === 0) return [];
    const q = ids.map((id) => `buildrequestid=${id}`).join('&');
    const p = await this.json('GET', `/buildrequests?complete=true&${q}`, requestsPage, 200);
    return p.buildrequests;
  }

  async buildsOfRequest(buildrequestid: number): Promise<BuildView[]> {
    const p = await this.json('GET', `/builds?buildrequestid=${buildrequestid}&order=buildid`, buildsPage, 200);
    return p.builds;
  }

  async allRequests(): Promise<BuildRequestView[]> {
    return this.all((offset) =>
      this.json('GET', `/buildrequests?order=buildrequestid&${offset}`, requestsPage, 200).then((p) => p.buildrequests),
    );
  }

  async allBuilds(): Promise<BuildView[]> {
    return this.all((offset) => this.json('GET', `/builds?order=buildid&${offset}`, buildsPage, 200).then((p) => p.builds));
  }

  /** Every item of a collection, a page of 5000 at a time. */
  private async all<T>(page: (limitOffset: string) => Promise<T[]>): Promise<T[]> {
    const out: T[] = [];
    const size = 5000;
    for (let offset = 0; ; offset += size) {
      const items = await page(`limit=${size}&offset=${offset}`);
      out.push(...items);
      if (items.length < size) return out;
    }
  }

  async steps(buildid: number): Promise<StepView[]> {
    return (await this.json('GET', `/builds/${buildid}/steps`, stepsPage, 200)).steps;
  }

  async stdioLogId(stepid: number): Promise<number | null> {
    const logs = (await this.json('GET', `/steps/${stepid}/logs`, logsPage, 200)).logs;
    return logs.find((l) => l.slug === 'stdio')?.logid ?? null;
  }

  async raw(logid: number): Promise<Buffer> {
    const res = await this.call('GET', `/logs/${logid}/raw`);
    if (res.status !== 200) throw new ApiCallError(res.status, `GET /logs/${logid}/raw`, await res.text());
    return Buffer.from(await res.arrayBuffer());
  }

  async agents(): Promise<AgentView[]> {
    return (await this.json('GET', '/agents', agentsPage, 200)).agents;
  }
}

/** A refused or reset connection (fetch's TypeError: the master is restarting) or a 5xx (the database is away). */
export const isTransient = (e: unknown): boolean => e instanceof TypeError || (e instanceof ApiCallError && e.status >= 500);

/**
 * Calls `fn` until it resolves: a transient failure waits `pauseMs` and tries again; any other error
 * (a 4xx, an answer of the wrong shape) is thrown at once. Gives up at `deadline`.
 */
export async function attempt<T>(fn: () => Promise<T>, deadline: number, pauseMs = 200): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransient(e) || Date.now() > deadline) throw e;
      await sleep(pauseMs);
    }
  }
}
