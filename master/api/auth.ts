import type { RequestHandler } from 'express';
import { tokensEqual } from '../agents/auth.ts';
import { UnauthorizedError } from '../../core/errors/index.ts';

/** State-changing requests need `Authorization: Bearer <token>` when web.auth is configured. */
export function requireToken(tokens: string[] | undefined): RequestHandler {
  return (req, _res, next) => {
    if (!tokens) return next();
    const header = req.get('authorization') ?? '';
    const given = /^Bearer\s+(.+)$/i.exec(header)?.[1];
    // Check every token so the time taken does not tell which one was close.
    const ok = given !== undefined && tokens.map((t) => tokensEqual(given, t)).some(Boolean);
    if (!ok) return next(new UnauthorizedError('this request changes state: send Authorization: Bearer <token> (web.auth.tokens)'));
    next();
  };
}
