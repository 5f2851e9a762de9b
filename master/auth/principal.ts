/**
 * Who is asking: a machine (a configured token), a logged-in user (a valid session cookie), or
 * nobody. Works on any IncomingMessage, so the API and the /ws upgrade decide the same way.
 */
import type { IncomingMessage } from 'node:http';
import { tokensEqual } from '../agents/auth.ts';
import type { WebAuthConfig } from './auth-config.ts';
import { SESSION_COOKIE, parseCookies, readSession } from './session-cookie.ts';

export type Principal =
  { kind: 'machine' } | { kind: 'user'; username: string; roles: string[]; via: 'password' | 'oidc' } | { kind: 'anonymous' };

export function identify(auth: WebAuthConfig, req: IncomingMessage, now: number): Principal {
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1];
  // Every token is compared so the time taken does not tell which one was close.
  if (bearer !== undefined && (auth.tokens ?? []).map((t) => tokensEqual(bearer, t)).some(Boolean)) return { kind: 'machine' };
  if (auth.sessionSecret === undefined) return { kind: 'anonymous' };
  const cookie = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
  const session = cookie === undefined ? null : readSession(auth.sessionSecret, cookie, now);
  if (!session) return { kind: 'anonymous' };
  if (session.via === 'password') {
    // The config is the truth for password users: a removed user is logged out, changed roles apply now.
    const user = auth.users?.find((u) => u.username === session.u);
    if (!user) return { kind: 'anonymous' };
    return { kind: 'user', username: user.username, roles: user.roles, via: 'password' };
  }
  if (!auth.oidc) return { kind: 'anonymous' };
  return { kind: 'user', username: session.u, roles: session.r, via: 'oidc' };
}
