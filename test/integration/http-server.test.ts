/**
 * The web server's per-request path (docs/performance.md, "The read path"): requests and responses are
 * made with express's prototypes from the start (web-server.ts), the security headers are helmet's,
 * recorded once (security-headers.ts), and reads skip the write-only middlewares (app.ts) while
 * writes are still refused as before, even for a client that half-closes its socket after sending.
 */
import net from 'node:net';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory } from '../../steps/build-factory.ts';
import { ShellCommand } from '../../steps/shell-command.ts';
import type { RunningMaster } from '../../master/master.ts';
import { HELMET_OPTIONS } from '../../master/api/app.ts';
import { recordHeaders } from '../../master/api/security-headers.ts';
import { startWebServer } from '../../master/api/web-server.ts';
import { startTestMaster } from '../helpers/harness.ts';
import { testDatabases } from '../helpers/databases.ts';

/** helmet's headers as fetch lists them (lower case, sorted by name). */
const helmetHeaders = () =>
  recordHeaders(helmet(HELMET_OPTIONS))
    .map(([k, v]) => [k.toLowerCase(), v])
    .sort(([a = ''], [b = '']) => a.localeCompare(b));

/** The headers of `res` as [name, value] pairs, sorted by name as fetch keeps them. */
function headerPairs(res: Response): string[][] {
  const pairs: string[][] = [];
  res.headers.forEach((value, name) => pairs.push([name, value]));
  return pairs;
}

/** The headers of `res` named in `like`. */
const headersLike = (res: Response, like: string[][]) => headerPairs(res).filter(([k]) => like.some(([name]) => name === k));

/** Sends `text` on a fresh connection, half-closes it at once, and returns all that comes back. */
function sendAndHalfClose(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (answer += d));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('the web server', () => {
  it("makes each request and response with the app's prototypes, so express need not swap them", async () => {
    const app = express();
    const seen: boolean[] = [];
    // What the server hands the app, looked at before express touches it.
    const probe = Object.assign(
      (req: express.Request, res: express.Response) => {
        seen.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response);
        app(req, res);
      },
      { request: app.request, response: app.response },
    );
    app.get('/x', (req, res) => res.json({ q: req.query.a }));
    const server = await startWebServer(probe as unknown as Express, [], 0, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/x?a=1`);
      expect(await res.json()).toEqual({ q: '1' });
      expect(seen).toEqual([true]);
    } finally {
      await server.close();
    }
  });
});

describe('security headers', () => {
  it('are the ones helmet itself sets', async () => {
    const app = express();
    app.use(helmet(HELMET_OPTIONS));
    app.get('/', (_req, res) => res.end());
    const server = await startWebServer(app, [], 0, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/`);
      const fromHelmet = headerPairs(res).filter(([k = '']) => !['connection', 'keep-alive', 'content-length', 'date'].includes(k));
      expect(helmetHeaders()).toEqual(fromHelmet);
      expect(fromHelmet.length).toBeGreaterThanOrEqual(10);
    } finally {
      await server.close();
    }
  });

  it('refuse, at start, a value that depends on the request', () => {
    const nonce = helmet({ contentSecurityPolicy: { directives: { scriptSrc: ["'self'", (req) => `'nonce-${String(req.url)}'`] } } });
    expect(() => recordHeaders(nonce)).toThrow(/reads the request \(url\); it cannot be made once/);
  });
});

describe.each(testDatabases())('the API on $kind', (db) => {
  let master: RunningMaster;
  let port: number;

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [{ name: 'h1', token: 'http-server-token-0123456789' }],
        builders: [{ name: 'b', agents: ['h1'], factory: new BuildFactory([new ShellCommand({ name: 't', command: ['true'] })]) }],
      },
      await db.create(),
    );
    port = Number(new URL(master.url).port);
  });
  afterAll(async () => {
    await master?.stop();
  });

  it("sends helmet's headers on API answers, UI pages and errors alike", async () => {
    const expected = helmetHeaders();
    for (const path of ['/api/v2/builds?limit=5', '/api/v2/builders', '/api/v2/nope', '/', '/nope']) {
      const res = await fetch(`${master.url}${path}`);
      expect(headersLike(res, expected), path).toEqual(expected);
    }
  });

  it('reads pass the write checks; writes are still refused, also to a client that half-closes', async () => {
    expect((await fetch(`${master.url}/api/v2/builds`, { headers: { origin: 'https://evil.example' } })).status).toBe(200);
    const refusals: [string, number, RegExp][] = [
      ['Origin: https://evil.example\r\nContent-Type: application/json', 403, /cross-site write refused/],
      ['Content-Type: text/plain', 415, /request body must be JSON/],
    ];
    for (const [headers, status, message] of refusals) {
      const answer = await sendAndHalfClose(
        port,
        `POST /api/v2/builds/1/stop HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      );
      expect(answer.split('\r\n')[0], headers).toBe(`HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : 'Unsupported Media Type'}`);
      expect(answer).toMatch(message);
    }
    const deep = await fetch(`${master.url}/api/v2/builds/1/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '['.repeat(100) + ']'.repeat(100),
    });
    expect(deep.status).toBe(422);
  });
});
