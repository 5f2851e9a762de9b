/** JSON over HTTP for the benchmark's drivers: every failure names the method, the URL and the status. */

export async function requestJson(method: 'GET' | 'POST', url: string, body?: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${method} ${url}: the answer is not JSON: ${text.slice(0, 300)}`);
  }
}

export const getJson = (url: string): Promise<unknown> => requestJson('GET', url);
export const postJson = (url: string, body: unknown): Promise<unknown> => requestJson('POST', url, body);
