/**
 * OpenID Connect login against a real provider (oidc-provider) on 127.0.0.1: the master redirects
 * to it, the test fills the provider's login and consent forms over plain HTTP, the provider
 * redirects back with a code, and the master's session shows the user and the roles of its claim.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Provider from 'oidc-provider';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { startTestMaster } from '../helpers/harness.ts';

const SECRET = 'a-session-secret-of-at-least-32-characters';

/** Cookies by name: the provider's and the master's names differ, so one jar serves both hosts. */
class CookieJar {
  private readonly cookies = new Map<string, string>();
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  take(res: Response): void {
    for (const set of res.headers.getSetCookie()) {
      const [pair = ''] = set.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(set)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
}

/** Follows redirects and submits the provider's login and consent forms until the master answers. */
async function authorizationCodeFlow(master: RunningMaster, jar: CookieJar, login: string): Promise<string> {
  let url = `${master.url}/auth/oidc/login`;
  let init: RequestInit = {};
  for (let hop = 0; hop < 20; hop++) {
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie: jar.header() } });
    jar.take(res);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, url).href;
      if (next.startsWith(`${master.url}/#`)) return next;
      url = next;
      init = {};
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    if (res.status !== 200 || !action || !prompt) throw new Error(`unexpected answer ${res.status} at ${url}: ${html.slice(0, 300)}`);
    url = new URL(action, url).href;
    const form = new URLSearchParams({ prompt, ...(prompt === 'login' ? { login, password: 'any' } : {}) });
    init = { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
  }
  throw new Error('too many hops');
}

describe('OpenID Connect login', () => {
  const idp = http.createServer();
  let master: RunningMaster;

  beforeAll(async () => {
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    const address = idp.address();
    if (address === null || typeof address === 'string') throw new Error('the provider listens on no TCP port');
    const issuer = `http://127.0.0.1:${address.port}`;
    const db = testDatabases()[0];
    if (!db) throw new Error('no test database');
    master = await startTestMaster(
      {
        builders: [{ name: 'a', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: ['true'] })) }],
        web: {
          auth: {
            sessionSecret: SECRET,
            oidc: {
              issuer,
              clientId: 'caliper',
              clientSecret: 'caliper-client-secret',
              scopes: ['openid', 'profile', 'groups'],
              rolesClaim: 'groups',
              name: 'Test IdP',
            },
            allowRules: [{ action: 'force', roles: ['developers'] }],
          },
        },
      },
      await db.create(),
      'oidc-master',
    );
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'caliper',
          client_secret: 'caliper-client-secret',
          redirect_uris: [`${master.url}/auth/oidc/callback`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
        },
      ],
      findAccount: (_ctx, id) => ({
        accountId: id,
        claims: () => ({ sub: id, preferred_username: id, groups: ['developers', 'staff'] }),
      }),
      claims: { openid: ['sub'], profile: ['preferred_username'], groups: ['groups'] },
      scopes: ['openid', 'profile', 'groups'],
      features: { devInteractions: { enabled: true } },
      cookies: { keys: ['oidc-test-cookie-key'] },
    });
    idp.on('request', provider.callback());
  });
  afterAll(async () => {
    await master?.stop();
    idp.closeAllConnections();
    await new Promise<void>((resolve) => idp.close(() => resolve()));
  });

  it('logs in through the provider; the session carries the roles from the groups claim', async () => {
    const methods = await (await fetch(`${master.url}/auth/methods`)).json();
    expect(methods).toEqual({ password: false, oidc: { name: 'Test IdP' }, readProtected: false });
    const jar = new CookieJar();
    const landing = await authorizationCodeFlow(master, jar, 'alice');
    expect(landing).toBe(`${master.url}/#/`);
    const session = jar.get('caliper_session');
    expect(session).toBeDefined();
    const me = await fetch(`${master.url}/auth/me`, { headers: { cookie: `caliper_session=${session}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({
      username: 'alice',
      roles: ['developers', 'staff'],
      builders: { a: ['force', 'stop', 'rebuild', 'cancel'] },
    });
    const forced = await fetch(`${master.url}/api/v2/builders/a/force`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `caliper_session=${session}` },
      body: '{}',
    });
    expect(forced.status).toBe(202);
  });

  it('refuses a callback that did not start here (no flow cookie) or with a forged state', async () => {
    const bare = await fetch(`${master.url}/auth/oidc/callback?code=abc&state=xyz`, { redirect: 'manual' });
    expect(bare.status).toBe(401);
    // A real flow started, but the provider's answer is replaced by one with another state.
    const start = await fetch(`${master.url}/auth/oidc/login`, { redirect: 'manual' });
    const flow =
      start.headers
        .getSetCookie()
        .find((c) => c.startsWith('caliper_oidc='))
        ?.split(';')[0] ?? '';
    const forged = await fetch(`${master.url}/auth/oidc/callback?code=abc&state=not-the-state`, {
      redirect: 'manual',
      headers: { cookie: flow },
    });
    expect(forged.status).toBe(401);
    expect(forged.headers.getSetCookie().some((c) => c.startsWith('caliper_session='))).toBe(false);
  });
});
