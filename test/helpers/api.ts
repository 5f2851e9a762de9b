/**
 * Typed reads of the Data API for tests. Answers carry the API's own response types
 * (protocol/api-types.ts), the ones the server's serializers produce and the UI reads, so a test that
 * reads a field the server no longer sends fails to compile instead of reading `undefined`.
 */
import type { CollectionName, Collections, Page } from '../../protocol/api-types.ts';

/** A master as the helpers need it: where it listens. */
export interface ApiTarget {
  url: string;
}

/** An answer with a status the caller did not expect; carries the body (`{"error": …}`). */
export class ApiStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${JSON.stringify(body)}`);
    this.name = 'ApiStatusError';
  }
}

/** GETs `url` and returns its JSON body as `T`; any status but 200 throws an ApiStatusError. */
export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body: T = await res.json();
  if (res.status !== 200) throw new ApiStatusError(res.status, body, `GET ${url}`);
  return body;
}

/** POSTs `body` as JSON; `T` is the answer of a 2xx, anything else throws an ApiStatusError. */
export async function postJson<T>(url: string, body: unknown = {}, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const answer: T = await res.json();
  if (res.status < 200 || res.status > 299) throw new ApiStatusError(res.status, answer, `POST ${url}`);
  return answer;
}

/** `/api/v2` URL of `path` on `master`. */
export const apiUrl = (master: ApiTarget, path: string): string => `${master.url}/api/v2${path}`;

/** One page of a collection: `getPage(master, 'builds', '/builds?limit=2')`. */
export function getPage<K extends CollectionName>(master: ApiTarget, _key: K, path: string): Promise<Page<K>> {
  return getJson<Page<K>>(apiUrl(master, path));
}

/** A collection's items: `getList(master, 'steps', '/builds/3/steps')` is a `Step[]`. */
export async function getList<K extends CollectionName>(master: ApiTarget, key: K, path: string): Promise<Collections[K][]> {
  const page = await getPage(master, key, path);
  return page[key];
}

/** The one item of a resource's path (`/builds/3`); throws when there is none. */
export async function getOne<K extends CollectionName>(master: ApiTarget, key: K, path: string): Promise<Collections[K]> {
  const [item] = await getList(master, key, path);
  if (item === undefined) throw new Error(`GET ${path}: no ${key} in the answer`);
  return item;
}

/** `value`, or a failure naming `what` when it is missing (instead of `?.` that would pass silently). */
export function present<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`expected ${what}`);
  return value;
}
