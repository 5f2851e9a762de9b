import type { IncomingMessage } from 'node:http';

/** No Origin header (not a browser, or a same-origin GET), or an Origin naming this very host. */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
