/**
 * The operator commands' only way to the master: its HTTP API (/api/v2), with the token from the
 * environment as a bearer token (web.auth.tokens). No master module is imported here or anywhere in
 * this folder (eslint.config.js keeps it so): the commands work against any master they can reach.
 */
import type { ErrorAnswer } from '../../protocol/api-types.ts';

export const DEFAULT_URL = 'http://127.0.0.1:8010';
/** The environment variable holding a token of the master's web.auth.tokens. */
export const TOKEN_ENV = 'CALIPER_TOKEN';

/** The master answered with an error, or could not be reached: said in one line, no stack. */
export class OperatorError extends Error {}

export class ApiClient {
  private readonly base: string;

  constructor(
    url: string,
    private readonly token: string | undefined,
  ) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new OperatorError(`--url "${url}" is not a URL (e.g. ${DEFAULT_URL})`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new OperatorError(`--url "${url}" must start with http:// or https://`);
    this.base = `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}/api/v2`;
  }

  get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    return this.json<T>('GET', path, query);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('POST', path, {}, body);
  }

  /** The answer's body as a stream of bytes (a raw log), for copying to stdout as it comes. */
  async stream(path: string): Promise<ReadableStream<Uint8Array>> {
    const res = await this.send('GET', path, {});
    if (!res.ok) throw await this.failure('GET', path, res);
    if (!res.body) throw new OperatorError(`GET ${path}: the master sent no body`);
    return res.body;
  }

  private async json<T>(method: string, path: string, query: Record<string, string | number | undefined>, body?: unknown): Promise<T> {
    const res = await this.send(method, path, query, body);
    if (!res.ok) throw await this.failure(method, path, res);
    return (await res.json()) as T;
  }

  private async send(method: string, path: string, query: Record<string, string | number | undefined>, body?: unknown): Promise<Response> {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (e) {
      const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e);
      throw new OperatorError(`cannot reach the master at ${url.origin} (${cause}); is it running? (--url)`);
    }
  }

  private async failure(method: string, path: string, res: Response): Promise<OperatorError> {
    let message = res.statusText;
    try {
      const body = (await res.json()) as Partial<ErrorAnswer>;
      if (body.error?.message) message = body.error.message;
    } catch {
      // Not the API's JSON error (a proxy's page): the status line says enough.
    }
    const hint = res.status === 401 || res.status === 403 ? ` (set ${TOKEN_ENV} to a token of the master's web.auth.tokens)` : '';
    return new OperatorError(`${method} ${path}: ${res.status} ${message}${hint}`);
  }
}
