/**
 * Who is logged in, and what they may do, from the master's /auth endpoints. A master without
 * web.auth has no /auth (404): then everyone may act, as before. With login methods configured, an
 * action is offered only when GET /auth/me lists it for the builder.
 */
export type Action = 'force' | 'stop' | 'rebuild' | 'cancel';

export interface LoginMethods {
  password: boolean;
  oidc: { name: string } | null;
  readProtected: boolean;
}

export interface Me {
  username: string;
  roles: string[];
  builders: Record<string, Action[]>;
}

let methods: LoginMethods | null = null;
let me: Me | null = null;
const listeners = new Set<() => void>();

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function asMethods(v: unknown): LoginMethods | null {
  if (!isObject(v) || typeof v.password !== 'boolean' || typeof v.readProtected !== 'boolean') return null;
  const oidc = isObject(v.oidc) && typeof v.oidc.name === 'string' ? { name: v.oidc.name } : null;
  return { password: v.password, oidc, readProtected: v.readProtected };
}

function asMe(v: unknown): Me | null {
  if (!isObject(v) || typeof v.username !== 'string' || !Array.isArray(v.roles) || !isObject(v.builders)) return null;
  const builders: Record<string, Action[]> = {};
  for (const [name, actions] of Object.entries(v.builders)) {
    builders[name] = Array.isArray(actions)
      ? actions.filter((a): a is Action => ['force', 'stop', 'rebuild', 'cancel'].includes(String(a)))
      : [];
  }
  return { username: v.username, roles: v.roles.map(String), builders };
}

async function getJson(path: string): Promise<unknown> {
  const res = await fetch(path, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  return res.ok ? res.json() : null;
}

/**
 * Takes what index.html carried (UiBoot.auth; null on a master without web.auth) instead of asking:
 * the first page renders without waiting for /auth.
 */
export function useBootSession(auth: unknown): void {
  methods = isObject(auth) ? asMethods(auth.methods) : null;
  me = methods && isObject(auth) ? asMe(auth.me) : null;
  for (const listener of listeners) listener();
}

/** Asks the master again (after login and logout; at start when the page came without boot data). */
export async function loadSession(): Promise<void> {
  methods = asMethods(await getJson('/auth/methods').catch(() => null));
  me = methods ? asMe(await getJson('/auth/me').catch(() => null)) : null;
  for (const listener of listeners) listener();
}

export function onSessionChange(listener: () => void): void {
  listeners.add(listener);
}

export const loginMethods = (): LoginMethods | null => methods;
export const currentUser = (): Me | null => me;

/** True when people log in on this master (password or OpenID Connect), rather than paste tokens. */
export const hasLogin = (): boolean => methods !== null && (methods.password || methods.oidc !== null);

/** May the current user take this action on this builder? Without logins, the master decides (token). */
export function may(builder: string | null, action: Action): boolean {
  if (!hasLogin()) return true;
  if (!me) return false;
  if (builder === null) return Object.values(me.builders).some((a) => a.includes(action));
  return me.builders[builder]?.includes(action) ?? false;
}

/** Why a button is disabled, for its title. */
export const notAllowed = (action: Action): string => (me ? `${me.username} may not ${action} here` : `log in to ${action}`);

export async function logIn(username: string, password: string): Promise<string | null> {
  const res = await fetch('/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ username, password }),
    credentials: 'same-origin',
  });
  if (res.status === 204) {
    await loadSession();
    return null;
  }
  if (res.status === 429) return 'Too many failed logins from this address; try again in a minute.';
  return 'Wrong username or password.';
}

export async function logOut(): Promise<void> {
  await fetch('/auth/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, credentials: 'same-origin' });
  await loadSession();
}
