/**
 * InfluxDB's HTTP API as the store uses it: line protocol to 1.x `/write` (database, retention policy,
 * user/password) or to `/api/v2/write` (org, bucket, token) for 2.x/3.x, and InfluxQL on `/query`,
 * which 1.x speaks natively and 2.x/3.x through their v1 compatibility API.
 */
import { z } from 'zod';
import { StoreUnavailableError } from '../../core/errors/index.ts';
import type { InfluxDbSettings } from './influxdb-store.ts';

export class InfluxHttpError extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`InfluxDB answered ${status}: ${body.slice(0, 300)}`);
  }
  /**
   * Only a 400 (bad line protocol, a field type conflict) fails again the same way. Auth (401/403),
   * a missing database (404) or overload (429, 5xx) are fixed by an operator or by time: spool those.
   * Wider than core/transient-error.ts on purpose: the spool is durable, so what an operator can fix
   * (a token, a database) is kept for them rather than dropped; isTransientError reads this error's
   * `status` (429 and 5xx) for callers that retry in memory.
   */
  get permanent(): boolean {
    return this.status === 400 || this.status === 413 || this.status === 422;
  }
}

const seriesSchema = z.object({
  name: z.string().optional(),
  columns: z.array(z.string()),
  values: z.array(z.array(z.unknown())),
  tags: z.record(z.string(), z.string()).optional(),
});
export type InfluxSeries = z.infer<typeof seriesSchema>;

/** /query's answer: InfluxDB's, so read as untrusted input. */
const queryAnswerSchema = z.object({
  results: z.array(z.object({ error: z.string().optional(), series: z.array(seriesSchema).optional() })).optional(),
  error: z.string().optional(),
});

export class InfluxHttp {
  private readonly base: string;

  constructor(private readonly settings: InfluxDbSettings) {
    this.base = settings.url.replace(/\/+$/, '');
  }

  /** Writes lines of line protocol; throws InfluxHttpError for an answer other than 204/200. */
  async write(lines: string[]): Promise<void> {
    const s = this.settings;
    let url: string;
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
    if (s.bucket) {
      url = `${this.base}/api/v2/write?${new URLSearchParams({ org: s.org ?? '', bucket: s.bucket, precision: s.precision === 'u' ? 'us' : s.precision })}`;
      if (s.token) headers.authorization = `Token ${s.token}`;
    } else {
      const params = new URLSearchParams({ db: s.database ?? '', precision: s.precision });
      if (s.retentionPolicy) params.set('rp', s.retentionPolicy);
      url = `${this.base}/write?${params}`;
      this.addV1Auth(headers);
    }
    const res = await fetch(url, { method: 'POST', headers, body: lines.join('\n'), signal: AbortSignal.timeout(15_000) });
    if (res.status !== 204 && res.status !== 200) throw new InfluxHttpError(res.status, await res.text());
    await res.arrayBuffer().catch(() => undefined);
  }

  /** Runs an InfluxQL statement on /query; returns the first result's series. */
  async query(q: string): Promise<InfluxSeries[]> {
    return (await this.queryAll([q]))[0] ?? [];
  }

  /** Runs InfluxQL statements in one /query request (joined with `;`); returns each statement's series, in order. */
  async queryAll(statements: readonly string[]): Promise<InfluxSeries[][]> {
    if (statements.length === 0) return [];
    const q = statements.join('; ');
    const s = this.settings;
    const params = new URLSearchParams({ db: s.database ?? s.bucket ?? '', q, epoch: 'u' });
    if (s.retentionPolicy) params.set('rp', s.retentionPolicy);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    this.addV1Auth(headers);
    let res: Response;
    try {
      res = await fetch(`${this.base}/query`, { method: 'POST', headers, body: params, signal: AbortSignal.timeout(60_000) });
    } catch (e) {
      // fetch says only "fetch failed"; the cause names the socket's error (ECONNREFUSED, ...).
      const cause: unknown = e instanceof Error ? e.cause : undefined;
      throw new StoreUnavailableError(`InfluxDB at ${s.url} cannot be reached: ${String(cause ?? e)}`);
    }
    const text = await res.text();
    if (res.status !== 200) throw new InfluxHttpError(res.status, text);
    const parsed = queryAnswerSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`InfluxDB answered /query with an unexpected body: ${text.slice(0, 300)} (query: ${q})`);
    const body = parsed.data;
    const failed = body.results?.find((r) => r.error !== undefined);
    if (body.error || failed) throw new Error(`InfluxQL error: ${body.error ?? failed?.error} (query: ${q})`);
    // A statement's result is at its position (InfluxDB numbers them, statement_id, and answers each).
    return statements.map((_, i) => body.results?.[i]?.series ?? []);
  }

  private addV1Auth(headers: Record<string, string>): void {
    const s = this.settings;
    if (s.token) headers.authorization = `Token ${s.token}`;
    else if (s.username) headers.authorization = `Basic ${Buffer.from(`${s.username}:${s.password ?? ''}`).toString('base64')}`;
  }
}
