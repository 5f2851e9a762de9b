/**
 * The HTTP API against hostile input on a real master (SQLite and PostgreSQL): numbers out of the
 * columns' and stores' ranges (400/404, never a 500), JSON bodies nested too deep (422 before any
 * validation), and writes from other sites (403) or in other content types (415). Every refusal is
 * `{"error": {code, message}}` and leaves what is stored as it was.
 */
import http from 'node:http';
import express from 'express';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, MeasureShellCommand, ShellCommand } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { forceAndWait, startAgent, startTestMaster, type AgentProcess } from '../helpers/harness.ts';
import { internalsOf } from '../../master/testing.ts';
import { getOne } from '../helpers/api.ts';
import { refuseCrossSiteWrites } from '../../master/api/same-origin.ts';
import { TIME_RANGE_MS } from '../../master/db/collection-query.ts';
import { storesUnderTest } from '../helpers/metric-stores.ts';

const TOKEN = 'hardening-agent-token';
const WRITE_TOKEN = 'hardening-write-token-0123';
const HOOK_SECRET = 'a-github-webhook-secret-5678';
const TABLES = ['buildrequests', 'builds', 'steps', 'logs', 'logchunks', 'changes', 'metric_points'];

interface Answer {
  status: number;
  body: { error?: { code?: unknown; message?: unknown } } & Record<string, unknown>;
}

/** A raw HTTP request: every header as given (fetch would add or drop some), the JSON answer. */
function send(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          reject(new Error(`${method} ${path}: HTTP ${res.statusCode} answered non-JSON ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `[[[…"x"…]]]`, `depth` arrays deep, as JSON text (JSON.stringify itself recurses). */
const nested = (depth: number): string => `${'['.repeat(depth)}"x"${']'.repeat(depth)}`;

const sign = (body: string) => `sha256=${createHmac('sha256', HOOK_SECRET).update(body).digest('hex')}`;

describe.each(testDatabases())('API hardening on $kind', (db) => {
  let master: RunningMaster;
  let guarded: RunningMaster;
  let agent: AgentProcess;
  let buildid: number;
  let logid: number;
  let series: string;

  const counts = async (m: RunningMaster = master) => {
    const out: Record<string, number> = {};
    for (const t of TABLES) {
      const rows: { n: string | number }[] = await internalsOf(m).db.source.query(`SELECT COUNT(*) AS n FROM ${t}`);
      out[t] = Number(rows[0]?.n);
    }
    return out;
  };
  const get = (path: string) => send(master.url, 'GET', `/api/v2${path}`);
  const post = (path: string, headers: Record<string, string>, body?: string) => send(master.url, 'POST', `/api/v2${path}`, headers, body);
  const json = { 'content-type': 'application/json' };

  beforeAll(async () => {
    master = await startTestMaster(
      {
        // No web.auth: the configuration the cross-site hole was found in.
        web: { changeHooks: { github: { secret: HOOK_SECRET } } },
        agents: [{ name: 'h1', token: TOKEN }],
        builders: [
          {
            name: 'b',
            agents: ['h1'],
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 's', command: ['echo', 'x'] }))
              .addStep(new MeasureShellCommand({ name: 'size', metric: 'hardening_size', command: ['echo', '42'] })),
          },
        ],
      },
      await db.create(),
    );
    guarded = await startTestMaster(
      {
        web: { auth: { tokens: [WRITE_TOKEN] } },
        agents: [{ name: 'g1', token: TOKEN }],
        builders: [{ name: 'g', agents: ['g1'], factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'true' })) }],
      },
      await db.create(),
      `hardening-guarded-${process.pid}`,
    );
    agent = await startAgent(master, 'h1', TOKEN);
    const { build, steps } = await forceAndWait(master, 'b').catch(async (e) => {
      console.log(
        agent.output(),
        JSON.stringify((await get('/builds')).body),
        JSON.stringify((await get('/buildrequests')).body),
        JSON.stringify((await get('/agents')).body),
      );
      throw e;
    });
    expect(build.result).toBe('success');
    buildid = build.buildid;
    logid = (await getOne(master, 'logs', `/steps/${steps[0].stepid}/logs`)).logid;
    series = 'hardening_size';
    expect((await get(`/metrics/${series}/points`)).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
    await guarded?.stop();
  });

  it('answers numbers outside what the columns and stores hold with 400 or 404, never 500', async () => {
    const before = await counts();
    const cases: [string, number, RegExp][] = [
      ['/builds/2147483648', 400, /build id must be a positive integer up to 2147483647/],
      ['/builds/2147483647', 404, /build 2147483647 not found/],
      ['/builds?buildid=2147483648', 400, /filter buildid: 2147483648 is out of range/],
      ['/builds?buildid__gt=99999999999', 400, /filter buildid__gt: 99999999999 is out of range/],
      ['/builds?number=999999999999999', 400, /filter number: .* out of range/],
      ['/builds?number=-2147483649', 400, /filter number: .* out of range/],
      ['/builds?results__ne=1&results__ne=2147483648', 400, /filter results__ne: .* out of range/],
      ['/builds?complete_at__lt=99999999999999999', 400, /filter complete_at__lt: .* out of range/],
      ['/builds?started_at__ge=-99999999999999999', 400, /filter started_at__ge: .* out of range/],
      ['/builds?started_at__ge=1e400', 400, /filter started_at__ge: "1e400" is not a time in epoch seconds/],
      ['/builds?started_at__ge=0x10', 400, /not a time in epoch seconds/],
      ['/steps?buildid=2147483648', 400, /out of range/],
      ['/buildrequests?priority=2147483648', 400, /out of range/],
      ['/buildrequests?submitted_at__gt=9223372035.001', 400, /out of range/],
      [`/metrics/${series}/points?from=-9223372035.001`, 400, /from must be within -9223372035 to 9223372035 epoch seconds/],
      ['/changes?when_timestamp__gt=99999999999999999', 400, /out of range/],
      ['/builders/b/builds?number__gt=2147483648', 400, /out of range/],
      [`/builds/${buildid}/steps?number=2147483648`, 400, /out of range/],
      [`/steps/1/logs?num_lines__gt=2147483648`, 400, /out of range/],
      ['/builds/1/changes?changeid=2147483648', 400, /out of range/],
      ['/builds?state_string=a%00b', 400, /filter state_string: .*NUL/],
      ['/builds?state_string__contains=%00', 400, /NUL/],
      [`/metrics/${series}/points?from=99999999999999999`, 400, /from must be within/],
      [`/metrics/${series}/points?to=-99999999999999999`, 400, /to must be within/],
      [`/metrics/${series}/points?from=${'9'.repeat(400)}`, 400, /from must be within/],
      [`/metrics/${series}/summary?from=%2B275760-09-13T00:00:00Z`, 400, /from must be within/],
      [`/metrics/${series}/summary?to=-99999999999`, 400, /to must be within/],
      [`/metrics/${series}/points?limit=10001`, 400, /limit/],
      [`/metrics/${series}/points?offset=99999999999`, 400, /offset/],
      [`/logs/${logid}/contents?offset=99999999999`, 400, /offset/],
      ['/builds?limit=99999999999', 400, /limit/],
      ['/builds?offset=99999999999', 400, /offset/],
      ['/builders/99999999999999999999', 404, /builder "99999999999999999999" not found/],
      ['/builders/b/builds/2147483648', 400, /build number must be a positive integer up to 2147483647/],
    ];
    const wrong: string[] = [];
    for (const [path, status, message] of cases) {
      const res = await get(path);
      const text = String(res.body.error?.message);
      if (res.status !== status || !message.test(text)) wrong.push(`${path}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      else expect(res.body.error?.code, path).toBe(status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST');
    }
    expect(wrong).toEqual([]);
    // The bounds themselves are accepted.
    const edges = [
      '/builds?buildid__lt=2147483647&number__gt=-2147483648',
      '/builds?started_at__ge=-9223372035&complete_at__le=9223372035',
      `/metrics/${series}/points?from=-9223372035&to=9223372035`,
      `/metrics/${series}/summary?from=1677-09-22T00:00:00Z&to=2262-04-10T00:00:00Z`,
    ];
    for (const path of edges) expect({ path, status: (await get(path)).status }).toEqual({ path, status: 200 });
    expect((await get(`/metrics/${series}/points?from=0`)).body.meta).toEqual({ total: 1 });
    expect(await counts()).toEqual(before);
  });

  it('refuses a JSON body nested deeper than the limit with 422, before validation', async () => {
    const before = await counts();
    const deepHook = `{"ref":"refs/heads/main","commits":[],"extra":${nested(1000)}}`;
    const cases: [string, Promise<Answer>][] = [
      ['force, deep property', post('/builders/b/force', json, `{"properties":{"deep":${nested(1000)}}}`)],
      [
        'force, deep object',
        post('/builders/b/force', json, `{"reason":"x","properties":{"a":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}}`),
      ],
      ['change, deep files', post('/changes', json, `{"repository":"r","revision":"abc","files":${nested(1000)}}`)],
      ['stop, deep reason', post(`/builds/${buildid}/stop`, json, `{"reason":${nested(100_000)}}`)],
      [
        'GitHub push, signed',
        send(master.url, 'POST', '/hooks/github', { ...json, 'x-github-event': 'push', 'x-hub-signature-256': sign(deepHook) }, deepHook),
      ],
    ];
    const wrong: string[] = [];
    for (const [name, promise] of cases) {
      const res = await promise;
      if (res.status !== 422 || !/nested deeper than 64 levels/.test(String(res.body.error?.message)))
        wrong.push(`${name}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      else expect(res.body.error?.code, name).toBe('UNPROCESSABLE');
    }
    expect(wrong).toEqual([]);
    // An unsigned deep hook is refused for its signature before its body is parsed.
    const unsigned = await send(
      master.url,
      'POST',
      '/hooks/github',
      { ...json, 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=00' },
      deepHook,
    );
    expect(unsigned.status).toBe(401);
    // Within the limit, the body reaches its schema, which names the real problem.
    const shallow = await post('/builders/b/force', json, `{"properties":{"ok":${nested(62)}},"colour":"red"}`);
    expect(shallow.status).toBe(422);
    expect(shallow.body.error?.message).toMatch(/unknown field colour/);
    expect(await counts()).toEqual(before);
  });

  it('refuses writes from another origin (403) and writes that are not JSON (415), with or without web.auth', async () => {
    const own = master.url; // http://127.0.0.1:PORT, the Host the requests carry
    const before = await counts();
    const cases: [string, Promise<Answer>, number, RegExp][] = [
      // The reported hole: a page anywhere posts an empty text/plain body (no preflight) and forces.
      [
        'force, text/plain, foreign Origin',
        post('/builders/b/force', { 'content-type': 'text/plain', origin: 'https://evil.example' }),
        403,
        /Origin "https:\/\/evil.example" is not this master's/,
      ],
      [
        'rebuild, text/plain, foreign Origin',
        post(`/builds/${buildid}/rebuild`, { 'content-type': 'text/plain', origin: 'https://evil.example' }),
        403,
        /evil.example/,
      ],
      [
        'force, JSON, foreign Origin',
        post('/builders/b/force', { ...json, origin: 'http://evil.example:8010' }, '{}'),
        403,
        /evil.example:8010/,
      ],
      [
        'change, foreign Origin',
        post('/changes', { ...json, origin: 'https://evil.example' }, JSON.stringify({ repository: 'r', revision: 'a' })),
        403,
        /evil/,
      ],
      ['stop, foreign Origin', post(`/builds/${buildid}/stop`, { ...json, origin: 'https://evil.example' }, '{}'), 403, /evil/],
      ['same host, other port', post('/builders/b/force', { ...json, origin: 'http://127.0.0.1:1' }, '{}'), 403, /127.0.0.1:1"/],
      ['Origin null (sandboxed page)', post('/builders/b/force', { 'content-type': 'text/plain', origin: 'null' }), 403, /Origin "null"/],
      ['malformed Origin', post('/builders/b/force', { ...json, origin: 'not a url' }, '{}'), 403, /Origin "not a url"/],
      [
        'no Origin, Sec-Fetch-Site cross-site',
        post('/builders/b/force', { 'content-type': 'text/plain', 'sec-fetch-site': 'cross-site' }),
        403,
        /cross-site/,
      ],
      [
        'no Origin, Sec-Fetch-Site same-site',
        post('/builders/b/force', { ...json, 'sec-fetch-site': 'same-site' }, '{}'),
        403,
        /same-site/,
      ],
      [
        'own Origin, empty text/plain',
        post('/builders/b/force', { 'content-type': 'text/plain', origin: own }),
        415,
        /Content-Type: application\/json/,
      ],
      [
        'no Origin, empty form',
        post('/builders/b/force', { 'content-type': 'application/x-www-form-urlencoded' }),
        415,
        /application\/json/,
      ],
      [
        'no Origin, empty multipart',
        post(`/builds/${buildid}/rebuild`, { 'content-type': 'multipart/form-data; boundary=x' }),
        415,
        /application\/json/,
      ],
      [
        'PUT from a foreign Origin',
        send(own, 'PUT', '/api/v2/builders/b/force', { ...json, origin: 'https://evil.example' }, '{}'),
        403,
        /evil/,
      ],
      ['DELETE from a foreign Origin', send(own, 'DELETE', `/api/v2/builds/${buildid}`, { origin: 'https://evil.example' }), 403, /evil/],
      [
        'web.auth on, valid token, foreign Origin',
        send(
          guarded.url,
          'POST',
          '/api/v2/builders/g/force',
          { ...json, authorization: `Bearer ${WRITE_TOKEN}`, origin: 'https://evil.example' },
          '{}',
        ),
        403,
        /evil/,
      ],
      [
        'web.auth on, valid token, empty text/plain',
        send(guarded.url, 'POST', '/api/v2/builders/g/force', { 'content-type': 'text/plain', authorization: `Bearer ${WRITE_TOKEN}` }),
        415,
        /application\/json/,
      ],
    ];
    const wrong: string[] = [];
    for (const [name, promise, status, message] of cases) {
      const res = await promise;
      if (res.status !== status || !message.test(String(res.body.error?.message)))
        wrong.push(`${name}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      else expect(res.body.error?.code, name).toBe(status === 403 ? 'FORBIDDEN' : 'UNSUPPORTED_MEDIA_TYPE');
    }
    expect(wrong).toEqual([]);
    expect(await counts()).toEqual(before);
    expect((await counts(guarded)).buildrequests).toBe(0);

    // What keeps working: reads from anywhere, the UI (same origin), curl with or without JSON, the hook.
    expect((await send(own, 'GET', '/api/v2/builds', { origin: 'https://evil.example' })).status).toBe(200);
    const allowed: [string, Promise<Answer>][] = [
      ['UI: own Origin, JSON', post('/builders/b/force', { ...json, origin: own, 'sec-fetch-site': 'same-origin' }, '{}')],
      [
        'own Origin by name, JSON',
        post(
          '/builders/b/force',
          { ...json, origin: own.replace('127.0.0.1', 'localhost'), host: own.replace('http://127.0.0.1', 'localhost') },
          '{}',
        ),
      ],
      ['curl -X POST (no body, no type)', post('/builders/b/force', {})],
      ['curl -d with JSON', post('/builders/b/force', json, '{"reason":"curl"}')],
      ['Sec-Fetch-Site none (typed by the user)', post('/builders/b/force', { ...json, 'sec-fetch-site': 'none' }, '{}')],
    ];
    for (const [name, promise] of allowed) expect({ name, status: (await promise).status }).toEqual({ name, status: 202 });
    const hookBody = JSON.stringify({ zen: 'hi' });
    const hook = await send(
      own,
      'POST',
      '/hooks/github',
      { ...json, origin: 'https://evil.example', 'x-github-event': 'ping', 'x-hub-signature-256': sign(hookBody) },
      hookBody,
    );
    expect(hook.status).toBe(200);
    expect((await counts()).buildrequests).toBe((before.buildrequests ?? 0) + allowed.length);
  });
});

describe('web.allowedOrigins', () => {
  it('lets the listed origins write, and only them', async () => {
    const app = express();
    app.use(refuseCrossSiteWrites(['https://ci.example.com', 'http://localhost:5173/']));
    app.post('/w', (_req, res) => res.json({ ok: true }));
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      void _next;
      res.status(403).json({ error: { message: err instanceof Error ? err.message : String(err) } });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    const url = `http://127.0.0.1:${address.port}`;
    try {
      const status = async (origin: string) => (await send(url, 'POST', '/w', { origin })).status;
      expect(await status('https://ci.example.com')).toBe(200);
      expect(await status('https://CI.example.com:443')).toBe(200);
      expect(await status('http://localhost:5173')).toBe(200);
      expect(await status('http://ci.example.com')).toBe(403);
      expect(await status('https://ci.example.com.evil.example')).toBe(403);
      expect(await status(url)).toBe(200);
      expect(() => refuseCrossSiteWrites(['ci.example.com'])).toThrow(/web.allowedOrigins\[0\]: "ci.example.com" is not an origin/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe.each(storesUnderTest())('the API time range on the $name store', (store) => {
  it('is answered at both ends, with the inclusive end of the last second', async () => {
    const clock = { nowUs: Date.UTC(2026, 0, 1) * 1000 };
    const { service, db } = await store.open(() => clock.nowUs);
    try {
      await service.captureData('hardening_edges', 7, { tags: { builder: 'edge' } });
      await service.flush();
      const all = { series: 'hardening_edges', from: TIME_RANGE_MS.min, to: TIME_RANGE_MS.max };
      expect((await service.getSummary(all)).count).toBe(1);
      expect((await service.points(all, { limit: 10, offset: 0, order: 'desc' })).total).toBe(1);
      expect((await service.getSummary({ ...all, to: TIME_RANGE_MS.min })).count).toBe(0);
    } finally {
      await service.close();
      await db.close();
    }
  });
});
