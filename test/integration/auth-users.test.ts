/**
 * Users and roles against a real master: password login and logout, cookie flags, tampered and
 * expired cookies, allowRules per action and builder, machine tokens, read protection (API and
 * /ws), the failed-login limit, and config errors with their paths.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import type { RunningMaster } from '../../master/master.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { ConfigError } from '../../core/errors/index.ts';
import { hashPassword } from '../../master/auth/password-hash.ts';
import { signSession } from '../../master/auth/session-cookie.ts';
import { MAX_FAILED_LOGINS } from '../../master/auth/login-limiter.ts';
import { testDatabases } from '../helpers/databases.ts';
import { getList, getOne } from '../helpers/api.ts';
import { processesMatching, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';

const SECRET = 'a-session-secret-of-at-least-32-characters';
const TOKEN = 'machine-token-0123456789';
const AGENT_TOKEN = 'auth-agent-token-1';

async function config(extra: { readProtected?: boolean } = {}): Promise<ConfigInput> {
  const [dev, admin, viewer] = await Promise.all(['dev-pass', 'admin-pass', 'viewer-pass'].map((p) => hashPassword(p)));
  return {
    agents: [{ name: 'auth-agent', token: AGENT_TOKEN, maxBuilds: 4 }],
    builders: [
      { name: 'a', factory: new BuildFactory().addStep(new ShellCommand({ name: 'nap', command: 'sleep 303.7' })) },
      { name: 'deploy', factory: new BuildFactory().addStep(new ShellCommand({ name: 'ship', command: ['true'] })) },
    ],
    web: {
      auth: {
        tokens: [TOKEN],
        sessionSecret: SECRET,
        users: [
          { username: 'dev', passwordHash: dev ?? '', roles: ['developers'] },
          { username: 'admin', passwordHash: admin ?? '', roles: ['admins'] },
          { username: 'viewer', passwordHash: viewer ?? '' },
        ],
        allowRules: [
          { action: 'force', builder: 'deploy', roles: ['admins'] },
          { action: 'force', roles: ['developers', 'admins'] },
          { action: 'stop', roles: ['admins'] },
          { action: 'cancel', roles: ['admins'] },
          { action: 'any', roles: ['admins'] },
        ],
        ...extra,
      },
    },
  };
}

interface Answer {
  status: number;
  body: unknown;
  cookies: string[];
}

async function call(
  master: RunningMaster,
  method: string,
  path: string,
  o: { body?: unknown; cookie?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.body !== undefined) headers['content-type'] ??= 'application/json';
  if (o.cookie) headers.cookie = o.cookie;
  const res = await fetch(master.url + path, {
    method,
    headers,
    redirect: 'manual',
    ...(o.body !== undefined ? { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body, cookies: res.headers.getSetCookie() };
}

/** Logs in and returns the `Cookie` header value to send. */
async function login(master: RunningMaster, username: string, password: string): Promise<string> {
  const res = await call(master, 'POST', '/auth/login', { body: { username, password } });
  expect(res.status).toBe(204);
  const set = res.cookies.find((c) => c.startsWith('caliper_session='));
  if (!set) throw new Error('no session cookie');
  return set.split(';')[0] ?? '';
}

describe.each(testDatabases())('users and roles ($kind)', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess | undefined;

  beforeAll(async () => {
    master = await startTestMaster(await config(), await db.create(), `auth-${db.kind}`);
    agent = await startAgent(master, 'auth-agent', AGENT_TOKEN);
  });
  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('stops a running build for an admin, forbids it to a developer', async () => {
    const dev = await login(master, 'dev', 'dev-pass');
    const admin = await login(master, 'admin', 'admin-pass');
    const forced = await call(master, 'POST', '/api/v2/builders/a/force', { body: { reason: 'auth test' }, cookie: dev });
    expect(forced.status).toBe(202);
    const { buildrequestid } = z.object({ buildrequestid: z.number() }).parse(forced.body);
    const build = await waitFor(
      'build to start',
      async () => (await getList(master, 'builds', `/builds?buildrequestid=${buildrequestid}`))[0],
    );
    await waitFor('sleep to run', () => processesMatching('sleep 303.7').length > 0);
    const denied = await call(master, 'POST', `/api/v2/builds/${build.buildid}/stop`, { body: {}, cookie: dev });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({
      error: { code: 'FORBIDDEN', message: expect.stringMatching(/dev may not stop on builder "a": needs one of the roles admins/) },
    });
    const stopped = await call(master, 'POST', `/api/v2/builds/${build.buildid}/stop`, { body: { reason: 'admin says' }, cookie: admin });
    expect(stopped.status).toBe(202);
    const done = await waitFor('build to end', async () => {
      const b = await getOne(master, 'builds', `/builds/${build.buildid}`);
      return b.complete ? b : null;
    });
    expect(done.result).toBe('cancelled');
  });

  it('applies allowRules per builder and action; tokens still do every write', async () => {
    const dev = await login(master, 'dev', 'dev-pass');
    const admin = await login(master, 'admin', 'admin-pass');
    const viewer = await login(master, 'viewer', 'viewer-pass');
    const force = (builder: string, o: { cookie?: string; headers?: Record<string, string> }) =>
      call(master, 'POST', `/api/v2/builders/${builder}/force`, { body: {}, ...o });
    expect((await force('deploy', { cookie: dev })).status).toBe(403);
    expect((await force('deploy', { cookie: admin })).status).toBe(202);
    expect((await force('a', { cookie: viewer })).status).toBe(403);
    expect((await force('a', {})).status).toBe(401);
    expect((await force('deploy', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(202);
    expect((await force('deploy', { headers: { authorization: 'Bearer wrong-token-000000' } })).status).toBe(401);
    // POST /changes has no builder: only `any` rules apply (admins here); tokens may.
    const change = { repository: 'https://example.org/x.git', branch: 'main', revision: 'abc', files: [] };
    expect((await call(master, 'POST', '/api/v2/changes', { body: change, cookie: dev })).status).toBe(403);
    expect([200, 201, 202]).toContain(
      (await call(master, 'POST', '/api/v2/changes', { body: change, headers: { authorization: `Bearer ${TOKEN}` } })).status,
    );
    // A cookie-authenticated write must be JSON (what a cross-site form cannot send).
    const plain = await call(master, 'POST', '/api/v2/builders/a/force', {
      body: '',
      cookie: dev,
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.status).toBe(415);
    // The UI learns what the user may do.
    const me = await call(master, 'GET', '/auth/me', { cookie: dev });
    expect(me.body).toEqual({ username: 'dev', roles: ['developers'], builders: { a: ['force'], deploy: [] } });
  });
});

describe('sessions', () => {
  let master: RunningMaster;
  beforeAll(async () => {
    master = await startTestMaster(await config(), (await testDatabases()[0]?.create()) ?? '', 'auth-sessions');
  });
  afterAll(async () => master?.stop());

  it('logs in and out; the cookie is HttpOnly, SameSite and path-wide', async () => {
    expect((await call(master, 'GET', '/auth/me')).status).toBe(401);
    const res = await call(master, 'POST', '/auth/login', { body: { username: 'dev', password: 'dev-pass' } });
    expect(res.status).toBe(204);
    const set = res.cookies.find((c) => c.startsWith('caliper_session=')) ?? '';
    expect(set).toMatch(/; HttpOnly/);
    expect(set).toMatch(/; SameSite=Lax/);
    expect(set).toMatch(/; Path=\//);
    expect(set).toMatch(/; Max-Age=86400/);
    expect(set).not.toMatch(/Secure/); // plain http here
    const cookie = set.split(';')[0] ?? '';
    expect((await call(master, 'GET', '/auth/me', { cookie })).body).toMatchObject({ username: 'dev', roles: ['developers'] });
    const out = await call(master, 'POST', '/auth/logout', { cookie });
    expect(out.status).toBe(204);
    expect(out.cookies.find((c) => c.startsWith('caliper_session='))).toMatch(/^caliper_session=; .*Max-Age=0/);
  });

  it('answers a wrong password and an unknown user alike with 401', async () => {
    const wrong = await call(master, 'POST', '/auth/login', { body: { username: 'dev', password: 'nope' } });
    const unknown = await call(master, 'POST', '/auth/login', { body: { username: 'nobody', password: 'nope' } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.cookies).toEqual([]);
    const form = await call(master, 'POST', '/auth/login', {
      body: 'username=dev&password=dev-pass',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
  });

  it('refuses tampered, expired and foreign-signed cookies', async () => {
    const cookie = await login(master, 'admin', 'admin-pass');
    const value = cookie.slice('caliper_session='.length);
    const [body = '', mac = ''] = value.split('.');
    // Claim another user with the old signature.
    const forged = Buffer.from(JSON.stringify({ u: 'dev', r: ['admins'], via: 'password', exp: Date.now() + 60_000 })).toString(
      'base64url',
    );
    const expired = signSession(SECRET, { u: 'admin', r: ['admins'], via: 'password', exp: Date.now() - 1000 });
    const foreign = signSession('another-secret-that-is-32-characters-long', {
      u: 'admin',
      r: [],
      via: 'password',
      exp: Date.now() + 60_000,
    });
    const ghost = signSession(SECRET, { u: 'ghost', r: ['admins'], via: 'password', exp: Date.now() + 60_000 });
    for (const bad of [`${forged}.${mac}`, `${body}.${mac.slice(0, -2)}xx`, expired, foreign, ghost, 'garbage']) {
      const c = `caliper_session=${bad}`;
      expect((await call(master, 'GET', '/auth/me', { cookie: c })).status).toBe(401);
      expect((await call(master, 'POST', '/api/v2/builders/a/force', { body: {}, cookie: c })).status).toBe(401);
    }
    expect((await call(master, 'GET', '/auth/me', { cookie })).status).toBe(200);
  });

  it(`refuses an address after ${MAX_FAILED_LOGINS} failed logins, even with the right password`, async () => {
    const statuses: number[] = [];
    for (let i = 0; i < MAX_FAILED_LOGINS + 2; i++)
      statuses.push((await call(master, 'POST', '/auth/login', { body: { username: 'viewer', password: `guess-${i}` } })).status);
    // Earlier tests failed logins from this address too: at most MAX_FAILED_LOGINS 401s, then 429s.
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(MAX_FAILED_LOGINS);
    expect(statuses.at(-1)).toBe(429);
    const right = await call(master, 'POST', '/auth/login', { body: { username: 'viewer', password: 'viewer-pass' } });
    expect(right.status).toBe(429);
  });
});

describe('readProtected', () => {
  let master: RunningMaster;
  beforeAll(async () => {
    master = await startTestMaster(await config({ readProtected: true }), (await testDatabases()[0]?.create()) ?? '', 'auth-read');
  });
  afterAll(async () => master?.stop());

  const openWs = (headers: Record<string, string>) =>
    new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${master.port}/ws`, { headers });
      ws.on('open', () => {
        ws.close();
        resolve('open');
      });
      ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
      ws.on('error', (e) => resolve(e.message));
    });

  it('needs a session or a token for every read of the API and /ws; login stays open', async () => {
    expect((await call(master, 'GET', '/api/v2/builders')).status).toBe(401);
    expect((await call(master, 'GET', '/api/v2/ui')).status).toBe(401);
    expect((await call(master, 'GET', '/auth/methods')).body).toEqual({ password: true, oidc: null, readProtected: true });
    const cookie = await login(master, 'viewer', 'viewer-pass');
    expect((await call(master, 'GET', '/api/v2/builders', { cookie })).status).toBe(200);
    expect((await call(master, 'GET', '/api/v2/builders', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect(await openWs({})).toBe('401');
    expect(await openWs({ cookie })).toBe('open');
    expect(await openWs({ authorization: `Bearer ${TOKEN}` })).toBe('open');
    // A foreign page must not open the live stream with the user's cookie.
    expect(await openWs({ cookie, origin: 'https://evil.example' })).toBe('401');
  });

  it("index.html carries the login methods to anyone, the master's UI info and the user only with a session", async () => {
    const boot = async (cookie?: string): Promise<Record<string, unknown>> => {
      const page = await call(master, 'GET', '/', cookie ? { cookie } : {});
      expect(page.status).toBe(200);
      const html = String(page.body);
      const json = /<script id="caliper-boot" type="application\/json">(.*?)<\/script>/s.exec(html)?.[1];
      if (json === undefined) throw new Error(`no boot data in index.html: ${html.slice(0, 300)}`);
      return JSON.parse(json) as Record<string, unknown>;
    };
    const stranger = await boot();
    expect(stranger).toEqual({ auth: { methods: { password: true, oidc: null, readProtected: true }, me: null } });
    const viewer = await boot(await login(master, 'viewer', 'viewer-pass'));
    expect(viewer.ui).toMatchObject({ auth: true });
    expect(viewer.auth).toMatchObject({ me: { username: 'viewer' } });
  });
});

describe('web.auth config', () => {
  const base = { builders: [{ name: 'a', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: ['true'] })) }] };
  const problems = (auth: unknown): string => {
    try {
      compileConfig({ ...base, web: { auth } });
      return '';
    } catch (e) {
      if (e instanceof ConfigError) return e.message;
      throw e;
    }
  };

  it('reports each mistake with its path', async () => {
    const hash = await hashPassword('x');
    expect(problems({ users: [{ username: 'u', passwordHash: hash }] })).toMatch(/web\.auth\.sessionSecret/);
    expect(problems({ users: [{ username: 'u', passwordHash: 'plain-password' }], sessionSecret: SECRET })).toMatch(
      /web\.auth\.users\[0\]\.passwordHash/,
    );
    expect(problems({ tokens: [TOKEN], colour: 'red' })).toMatch(/web\.auth/);
    expect(problems({ tokens: [TOKEN], allowRules: [{ action: 'deploy', roles: ['x'] }] })).toMatch(/web\.auth\.allowRules\[0\]\.action/);
    expect(problems({ oidc: { issuer: 'http://idp.example.com', clientId: 'c', clientSecret: 's' }, sessionSecret: SECRET })).toMatch(
      /web\.auth\.oidc\.issuer/,
    );
    expect(problems({ tokens: [TOKEN] })).toBe('');
  });
});
