/**
 * /auth: password login and logout, who am I (with what I may do, for the UI), the login methods
 * on offer, and the OpenID Connect redirect and callback. Failed logins are rate-limited per address.
 */
import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { ErrorAnswer } from '../../protocol/api-types.ts';
import { UnauthorizedError, UnsupportedMediaTypeError } from '../../core/errors/index.ts';
import type { Logger } from '../../core/logger.ts';
import { ACTIONS, type Action, type WebAuthConfig } from './auth-config.ts';
import { decide } from './allow-rules.ts';
import { LoginLimiter } from './login-limiter.ts';
import { DECOY_HASH, parsePasswordHash, verifyPassword } from './password-hash.ts';
import { identify } from './principal.ts';
import { SESSION_COOKIE, parseCookies, serializeCookie, sign, signSession, unsign, type Session } from './session-cookie.ts';
import { OidcClient, type OidcFlow } from './oidc-client.ts';

const OIDC_COOKIE = 'caliper_oidc';
const OIDC_FLOW_MS = 10 * 60_000;
const WRONG = 'wrong username or password';

const loginBody = z.strictObject({ username: z.string().max(200), password: z.string().max(1000) });
const flowCookie = z.strictObject({ state: z.string(), nonce: z.string(), verifier: z.string(), redirectUri: z.string(), exp: z.number() });

/** What GET /auth/me answers for a logged-in user. */
export interface Me {
  username: string;
  roles: string[];
  /** Per configured builder, the actions this user may take there. */
  builders: Record<string, Action[]>;
}

/** What the login page offers (open, also on a read-protected master). */
export interface LoginMethods {
  password: boolean;
  oidc: { name: string } | null;
  readProtected: boolean;
}

/** The login methods on offer and who a request's session is: /auth/methods, /auth/me and index.html's boot data. */
export interface SessionInfo {
  methods(): LoginMethods;
  /** Null when the request carries no valid session. */
  me(req: Request): Me | null;
}

export function sessionInfo(auth: WebAuthConfig, builderNames: () => string[], now: () => number = Date.now): SessionInfo {
  const oidcName = auth.oidc ? new OidcClient(auth.oidc).displayName : null;
  return {
    methods: () => ({
      password: auth.users !== undefined,
      oidc: oidcName === null ? null : { name: oidcName },
      readProtected: auth.readProtected,
    }),
    me: (req) => {
      const who = identify(auth, req, now());
      if (who.kind !== 'user') return null;
      const builders: Record<string, Action[]> = {};
      for (const name of builderNames()) builders[name] = ACTIONS.filter((a) => decide(auth.allowRules, a, name, who.roles).allowed);
      return { username: who.username, roles: who.roles, builders };
    },
  };
}

export function authRouter(auth: WebAuthConfig, session: SessionInfo, log: Logger, now: () => number = Date.now): Router {
  const r = Router();
  const limiter = new LoginLimiter(now);
  const oidc = auth.oidc ? new OidcClient(auth.oidc) : null;
  const secret = auth.sessionSecret;
  const maxAgeMs = auth.sessionMaxAgeHours * 3600_000;

  const setSession = (req: Request, res: Response, session: Omit<Session, 'exp'>) => {
    if (secret === undefined) throw new Error('sessionSecret is required with users or oidc (the config check ensures it)');
    const value = signSession(secret, { ...session, exp: now() + maxAgeMs });
    res.append('Set-Cookie', serializeCookie(SESSION_COOKIE, value, { maxAgeSeconds: maxAgeMs / 1000, path: '/', secure: req.secure }));
  };

  r.get('/methods', (_req, res) => {
    res.json(session.methods());
  });

  r.post('/login', express.json({ limit: '8kb' }), async (req, res) => {
    if (!req.is('application/json')) throw new UnsupportedMediaTypeError('send the login as JSON: Content-Type: application/json');
    const peer = req.socket.remoteAddress ?? '?';
    if (!limiter.allows(peer)) {
      res.setHeader('Retry-After', '60');
      res.status(429).json({
        error: { code: 'RATE_LIMITED', message: 'too many failed logins from this address; try again in a minute' },
      } satisfies ErrorAnswer);
      return;
    }
    const body = loginBody.safeParse(req.body);
    const user = body.success ? auth.users?.find((u) => u.username === body.data.username) : undefined;
    const stored = user ? parsePasswordHash(user.passwordHash) : null;
    // Unknown users cost one hash too, so the answer's timing does not tell which names exist.
    const ok = await verifyPassword(body.success ? body.data.password : '', stored ?? DECOY_HASH);
    if (!user || !stored || !ok) {
      limiter.failed(peer);
      log.warn('login failed', { peer });
      throw new UnauthorizedError(WRONG);
    }
    setSession(req, res, { u: user.username, r: user.roles, via: 'password' });
    log.info('user logged in', { user: user.username, via: 'password' });
    res.status(204).end();
  });

  r.post('/logout', (req, res) => {
    res.append('Set-Cookie', serializeCookie(SESSION_COOKIE, '', { maxAgeSeconds: 0, path: '/', secure: req.secure }));
    res.status(204).end();
  });

  r.get('/me', (req, res) => {
    const me = session.me(req);
    if (!me) throw new UnauthorizedError('not logged in');
    res.setHeader('Cache-Control', 'no-store');
    res.json(me);
  });

  r.get('/oidc/login', async (req, res) => {
    if (!oidc || secret === undefined) throw new UnauthorizedError('OpenID Connect login is not configured (web.auth.oidc)');
    const { url, flow } = await oidc.start(oidc.redirectUri(`${req.protocol}://${req.get('host') ?? ''}`));
    const value = sign(secret, OIDC_COOKIE, { ...flow, exp: now() + OIDC_FLOW_MS });
    res.append(
      'Set-Cookie',
      serializeCookie(OIDC_COOKIE, value, { maxAgeSeconds: OIDC_FLOW_MS / 1000, path: '/auth/oidc', secure: req.secure }),
    );
    res.redirect(303, url.href);
  });

  r.get('/oidc/callback', async (req, res) => {
    if (!oidc || secret === undefined) throw new UnauthorizedError('OpenID Connect login is not configured (web.auth.oidc)');
    res.append('Set-Cookie', serializeCookie(OIDC_COOKIE, '', { maxAgeSeconds: 0, path: '/auth/oidc', secure: req.secure }));
    const raw = parseCookies(req.headers.cookie).get(OIDC_COOKIE);
    const parsed = flowCookie.safeParse(raw === undefined ? null : unsign(secret, OIDC_COOKIE, raw));
    if (!parsed.success || parsed.data.exp <= now())
      throw new UnauthorizedError('the login took too long or did not start here: log in again');
    const flow: OidcFlow = parsed.data;
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
    let user;
    try {
      user = await oidc.finish(query, flow);
    } catch (e) {
      log.warn('OpenID Connect login failed', { error: e instanceof Error ? e.message : String(e) });
      throw new UnauthorizedError('the identity provider did not confirm the login; see the master log');
    }
    setSession(req, res, { u: user.username, r: user.roles, via: 'oidc' });
    log.info('user logged in', { user: user.username, via: 'oidc' });
    res.redirect(303, '/#/');
  });

  return r;
}
