/**
 * The guard in front of /api/v2. Reads: open, or (readProtected) a session or token. Writes: a
 * machine token may do every write; a logged-in user may when the allowRules say so for the action
 * and builder; nobody else. Cookie-authenticated writes must be JSON: a cross-site form cannot send
 * `Content-Type: application/json` without a CORS preflight, which this master never grants. The
 * Origin check for every write lives in master/api/app.ts and is not repeated here.
 */
import type { RequestHandler, Response } from 'express';
import type { ErrorAnswer } from '../../protocol/api-types.ts';
import { UnauthorizedError, UnsupportedMediaTypeError } from '../../core/errors/index.ts';
import type { WebAuthConfig } from './auth-config.ts';
import { decide, type WriteAction } from './allow-rules.ts';
import { identify } from './principal.ts';

/** Where the builder of a write is found: its name in the path, or the build or request it acts on. */
export interface BuilderLookup {
  builderByKey(key: string): string | null;
  builderOfBuild(buildid: number): Promise<string | null>;
  builderOfRequest(buildrequestid: number): Promise<string | null>;
}

type Target = { action: WriteAction; builder: () => Promise<string | null> };

/** The action a write performs, from its path (relative to /api/v2). */
export function classifyWrite(path: string, lookup: BuilderLookup): Target {
  const force = /^\/builders\/([^/]+)\/force\/?$/.exec(path);
  if (force?.[1] !== undefined) {
    const key = decodeURIComponentSafe(force[1]);
    return { action: 'force', builder: () => Promise.resolve(lookup.builderByKey(key)) };
  }
  const build = /^\/builds\/(\d{1,15})\/(stop|rebuild)\/?$/.exec(path);
  if (build?.[1] !== undefined) {
    const id = Number(build[1]);
    return {
      action: build[2] === 'stop' ? 'stop' : 'rebuild',
      builder: () => (storable(id) ? lookup.builderOfBuild(id) : Promise.resolve(null)),
    };
  }
  const cancel = /^\/buildrequests\/(\d{1,15})\/cancel\/?$/.exec(path);
  if (cancel?.[1] !== undefined) {
    const id = Number(cancel[1]);
    return { action: 'cancel', builder: () => (storable(id) ? lookup.builderOfRequest(id) : Promise.resolve(null)) };
  }
  return { action: 'other', builder: () => Promise.resolve(null) };
}

/** Ids beyond a 32-bit column cannot exist; the route itself answers for them. */
const storable = (id: number) => id <= 2 ** 31 - 1;

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function apiGuard(auth: WebAuthConfig, lookup: BuilderLookup, now: () => number = Date.now): RequestHandler {
  return async (req, res, next) => {
    const who = identify(auth, req, now());
    if (READS.has(req.method)) {
      if (auth.readProtected && who.kind === 'anonymous')
        return next(
          new UnauthorizedError('this master is read-protected: log in (POST /auth/login) or send Authorization: Bearer <token>'),
        );
      return next();
    }
    switch (who.kind) {
      case 'machine':
        return next();
      case 'anonymous':
        return next(new UnauthorizedError('this request changes state: log in, or send Authorization: Bearer <token> (web.auth.tokens)'));
      case 'user': {
        if (!req.is('application/json'))
          return next(new UnsupportedMediaTypeError('writes with a session cookie must send Content-Type: application/json'));
        const target = classifyWrite(req.path, lookup);
        const builder = await target.builder();
        const decision = decide(auth.allowRules, target.action, builder, who.roles);
        if (decision.allowed) return next();
        const what = builder === null ? target.action : `${target.action} on builder "${builder}"`;
        return forbidden(res, `${who.username} may not ${what}: needs one of the roles ${decision.needs.join(', ')}`);
      }
      default: {
        const never: never = who;
        return never;
      }
    }
  };
}

/** 403 in the API's error shape (core/errors has no 403 error yet). */
export function forbidden(res: Response, message: string): void {
  res.status(403).json({ error: { code: 'FORBIDDEN', message } } satisfies ErrorAnswer);
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
