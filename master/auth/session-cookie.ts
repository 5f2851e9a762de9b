/**
 * Stateless sessions: the cookie holds who the user is, their roles and an expiry, signed with
 * HMAC-SHA256 under web.auth.sessionSecret, so no table is needed. The price: logout clears the
 * browser's cookie but cannot revoke a copy; changing the secret ends every session.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export const SESSION_COOKIE = 'caliper_session';

/** How the user logged in: password users get their roles from the config at each request. */
const sessionSchema = z.strictObject({
  u: z.string().min(1),
  r: z.array(z.string()),
  via: z.enum(['password', 'oidc']),
  /** Expiry, milliseconds since the epoch. */
  exp: z.number(),
});
export type Session = z.output<typeof sessionSchema>;

function mac(secret: string, purpose: string, body: string): Buffer {
  return createHmac('sha256', secret).update(`${purpose}.${body}`).digest();
}

/** `<payload base64url>.<mac base64url>`; `purpose` keeps a cookie of one kind from passing as another. */
export function sign(secret: string, purpose: string, value: unknown): string {
  const body = Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${body}.${mac(secret, purpose, body).toString('base64url')}`;
}

/** The signed value, or null when it was tampered with (or is not ours). */
export function unsign(secret: string, purpose: string, token: string): unknown {
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  const body = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = mac(secret, purpose, body);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

export function signSession(secret: string, session: Session): string {
  return sign(secret, SESSION_COOKIE, session);
}

/** The session in a cookie value, or null when tampered, malformed or expired. */
export function readSession(secret: string, token: string, now: number): Session | null {
  const parsed = sessionSchema.safeParse(unsign(secret, SESSION_COOKIE, token));
  if (!parsed.success || parsed.data.exp <= now) return null;
  return parsed.data;
}

/** The `Cookie` header as a map; the first of repeated names wins. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

export interface CookieOptions {
  maxAgeSeconds: number;
  path: string;
  /** Only over https: set when the request itself came over TLS (no proxy headers are trusted). */
  secure: boolean;
}

/** A `Set-Cookie` value: HttpOnly (no script reads it) and SameSite=Lax (not sent on cross-site posts). */
export function serializeCookie(name: string, value: string, o: CookieOptions): string {
  const parts = [`${name}=${value}`, `Path=${o.path}`, `Max-Age=${Math.max(0, Math.floor(o.maxAgeSeconds))}`, 'HttpOnly', 'SameSite=Lax'];
  if (o.secure) parts.push('Secure');
  return parts.join('; ');
}
