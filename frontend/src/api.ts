/**
 * The Data API client: GETs and POSTs under /api/v2 with JSON bodies, the saved token on writes, and
 * the API's `{"error": {"code", "message"}}` turned into an ApiError.
 */
import { loadToken } from './token.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const isAbort = (e: unknown): boolean => e instanceof DOMException && e.name === 'AbortError';

/** A readable one-line description of a failed request. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Query parameters; a list repeats the parameter (`buildrequestid=3&buildrequestid=4`: either value). */
export type Query = Record<string, string | number | string[] | undefined>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v)) for (const item of v) params.append(k, item);
    else if (v !== undefined) params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function parse<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    if (!res.ok) throw new ApiError(res.status, `HTTP_${res.status}`, text.slice(0, 200) || res.statusText);
    throw new ApiError(res.status, 'BAD_RESPONSE', 'the server answered something that is not JSON');
  }
  if (!res.ok) {
    const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof err?.code === 'string' ? err.code : `HTTP_${res.status}`;
    const message = typeof err?.message === 'string' ? err.message : res.statusText;
    throw new ApiError(res.status, code, message);
  }
  return body as T;
}

export const api = {
  async get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    const res = await fetch(withQuery(`/api/v2${path}`, query), { headers: { accept: 'application/json' }, signal: signal ?? null });
    return parse<T>(res);
  },

  async post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    const token = loadToken();
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`/api/v2${path}`, { method: 'POST', headers, body: JSON.stringify(body), signal: signal ?? null });
    return parse<T>(res);
  },
};

export type Api = typeof api;
