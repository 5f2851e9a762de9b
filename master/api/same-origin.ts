/**
 * Writes come from the master's own pages or from programs, never from another site's page. A
 * browser lets any page send a POST anywhere (an empty or `text/plain` body needs no CORS preflight),
 * so without this any page a user opens could force, stop and rebuild on a master it can reach, such
 * as one on localhost without `web.auth`. A browser names the page's origin in `Origin` (on every
 * POST, PUT, PATCH and DELETE) and, in `Sec-Fetch-Site`, how it relates to the target; programs
 * (curl, scripts, CI) send neither and are let through. So a write is refused (403) when:
 *   - its `Origin` is not the master's own (the scheme's host:port equals the request's `Host`, the
 *     name the browser reached the master at) nor listed in `web.allowedOrigins`; an `Origin` that
 *     is not an http(s) origin (`null` from a sandboxed frame or a file) counts as foreign;
 *   - it has no `Origin` but says `Sec-Fetch-Site: cross-site` or `same-site` (another origin).
 * This holds whatever `web.auth` says: a token does not make a foreign page's request the user's.
 * `/hooks/github` is not under this rule (it is mounted outside `/api/v2`): GitHub is no browser, and
 * the hook proves itself by its HMAC signature.
 */
import type { RequestHandler } from 'express';
import { ConfigError } from '../../core/errors/index.ts';
import { ForbiddenError } from '../../core/errors/index.ts';

/** Methods that only read: never refused here. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** True for a method that may change state. */
export const isWrite = (method: string): boolean => !READS.has(method);

/** `scheme://host[:port]` of an http(s) origin, lower case, default port dropped; null for anything else. */
export function normalOrigin(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password || url.search || url.hash || url.pathname !== '/') return null;
  return url.origin;
}

/** True when `origin` names the host:port the request was sent to (its `Host` header). */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  // The Host read in the origin's scheme, so both drop that scheme's default port alike.
  const scheme = origin.startsWith('https:') ? 'https:' : 'http:';
  return normalOrigin(`${scheme}//${host}`) === origin;
}

/** The allowed origins, each checked; a malformed one is a config error naming its place. */
function allowedSet(allowedOrigins: readonly string[]): Set<string> {
  const issues = allowedOrigins.flatMap((o, i) =>
    normalOrigin(o) === null
      ? [
          {
            path: `web.allowedOrigins[${i}]`,
            message: `"${o}" is not an origin: write scheme://host[:port], such as https://ci.example.com`,
          },
        ]
      : [],
  );
  if (issues.length > 0) throw new ConfigError(issues);
  return new Set(allowedOrigins.map((o) => normalOrigin(o) ?? o));
}

const shown = (text: string) => JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);

export function refuseCrossSiteWrites(allowedOrigins: readonly string[] = []): RequestHandler {
  const allowed = allowedSet(allowedOrigins);
  return (req, _res, next) => {
    if (!isWrite(req.method)) return next();
    const origin = req.get('origin');
    const host = req.get('host');
    if (origin !== undefined) {
      const normal = normalOrigin(origin);
      if (normal !== null && (isOwnOrigin(normal, host) || allowed.has(normal))) return next();
      return next(
        new ForbiddenError(
          `cross-site write refused: Origin ${shown(origin)} is not this master's (Host ${shown(host ?? '')}) ` +
            'and not in web.allowedOrigins; list it there if pages on that origin may change state',
          { origin, host: host ?? null },
        ),
      );
    }
    const site = req.get('sec-fetch-site');
    if (site === 'cross-site' || site === 'same-site')
      return next(
        new ForbiddenError(`cross-site write refused: the browser says Sec-Fetch-Site: ${site}, and no Origin was sent`, { site }),
      );
    next();
  };
}
