/** Bad API requests and bad protocol frames get clear errors and change nothing stored. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, waitForRequest, type AgentProcess } from '../helpers/harness.ts';
import { internalsOf } from '../../master/testing.ts';
import { helloFrame } from '../helpers/frames.ts';

const TOKEN = 'bad-input-token';
const WRITE_TOKEN = 'write-token-0123456789';

interface Closed {
  code: number;
  reason: string;
  messages: unknown[];
}

/** Opens a raw agent socket, sends frames, and reports how the master closed it. */
function rawAgent(master: RunningMaster, frames: (string | Buffer)[], waitMs = 3000): Promise<Closed> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${master.port}/agents`);
    const messages: unknown[] = [];
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`socket not closed; got ${JSON.stringify(messages)}`));
    }, waitMs);
    ws.on('open', () => frames.forEach((f) => ws.send(f)));
    ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString(), messages });
    });
    ws.on('error', () => {});
  });
}

const hello = (over: Record<string, unknown> = {}) => helloFrame(TOKEN, { os: 'test', ...over });

describe.each(testDatabases())('bad input on $kind', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;
  let stored: () => Promise<Record<string, number>>;

  beforeAll(async () => {
    master = await startTestMaster(
      {
        web: { auth: { tokens: [WRITE_TOKEN] } },
        agents: [
          { name: 'a1', token: TOKEN },
          { name: 'a2', token: 'second-agent-token' },
        ],
        builders: [
          { name: 'b', agents: ['a1'], factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: ['echo', 'x'] })) },
        ],
      },
      await db.create(),
    );
    agent = await startAgent(master, 'a1', TOKEN);
    const c = api(master);
    const ok = await c.post('/builders/b/force', { reason: 'baseline' }, { authorization: `Bearer ${WRITE_TOKEN}` });
    expect(ok.status).toBe(202);
    const counts = async () => {
      const out: Record<string, number> = {};
      for (const t of ['buildrequests', 'builds', 'steps', 'logs', 'logchunks']) {
        const rows = (await internalsOf(master).db.source.query(`SELECT COUNT(*) AS n FROM ${t}`)) as { n: string | number }[];
        out[t] = Number(rows[0]?.n);
      }
      return out;
    };
    stored = counts;
    await new Promise((r) => setTimeout(r, 500));
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('refuses bad API requests with {"error"} and the right status, storing nothing', async () => {
    const before = await stored();
    const auth = { authorization: `Bearer ${WRITE_TOKEN}` };
    const c = api(master);
    const cases: [string, Promise<{ status: number; body: { error?: { code: string; message: string } } }>, number, RegExp][] = [
      ['no token', c.post('/builders/b/force', {}), 401, /Bearer/],
      ['wrong token', c.post('/builders/b/force', {}, { authorization: 'Bearer nope' }), 401, /Bearer/],
      ['malformed JSON', c.post('/builders/b/force', '{"reason": ', auth), 400, /not valid JSON/],
      ['wrong type', c.post('/builders/b/force', { reason: 42 }, auth), 422, /reason/],
      ['unknown field', c.post('/builders/b/force', { reason: 'x', colour: 'red' }, auth), 422, /unknown field colour/],
      ['bad property name', c.post('/builders/b/force', { properties: { 'bad name!': 1 } }, auth), 422, /properties/],
      ['huge body', c.post('/builders/b/force', { reason: 'x'.repeat(2 * 1024 * 1024) }, auth), 413, /larger than the limit/],
      ['unknown builder', c.post('/builders/nope/force', {}, auth), 404, /builder "nope" not found/],
      ['unknown build', c.get('/builds/999999'), 404, /build 999999 not found/],
      ['bad id', c.get('/builds/abc'), 400, /positive integer/],
      ['negative limit', c.get('/builds?limit=-1'), 400, /limit/],
      ['huge limit', c.get('/builds?limit=99999999'), 400, /limit/],
      ['SQL in a number filter', c.get(`/builds?number=${encodeURIComponent('1; DROP TABLE builds')}`), 400, /not an integer/],
      ['unknown filter field', c.get('/builds?colour=red'), 400, /unknown field "colour"/],
      ['unknown operator', c.get('/builds?number__like=1'), 400, /unknown operator "like"/],
      ['unknown order field', c.get('/builds?order=-colour'), 400, /unknown field "colour"/],
      ['unknown endpoint', c.get('/nothing-here'), 404, /no such endpoint/],
      ['stop unknown build', c.post('/builds/424242/stop', {}, auth), 404, /not found/],
      [
        'form body',
        c.post('/builders/b/force', 'reason=x', { ...auth, 'content-type': 'application/x-www-form-urlencoded' }),
        415,
        /Content-Type: application\/json/,
      ],
    ];
    for (const [name, promise, status, message] of cases) {
      const res = await promise;
      expect({ name, status: res.status }).toEqual({ name, status });
      expect(res.body.error?.message, name).toMatch(message);
      expect(JSON.stringify(res.body), name).not.toMatch(/at .*\.ts:\d+/);
    }
    // A string filter with SQL metacharacters is only a value.
    const sneaky = await c.get(`/builds?state_string__contains=${encodeURIComponent("'; DROP TABLE builds; --")}`);
    expect(sneaky.status).toBe(200);
    expect(sneaky.body.meta.total).toBe(0);
    expect(await stored()).toEqual(before);
    expect((await c.get('/builds')).body.meta.total).toBe(before.builds);
  });

  it('closes agent connections that break the protocol, before or after authentication', async () => {
    const before = await stored();
    const cases: [string, (string | Buffer)[], RegExp][] = [
      [
        'run before hello',
        [JSON.stringify({ type: 'output', run: 'r1', seq: 0, stream: 'stdout', data: '' })],
        /before hello: not authenticated/,
      ],
      ['wrong token', [hello({ token: 'wrong-token' })], /unknown agent or wrong token/],
      ['unknown agent', [hello({ name: 'ghost' })], /unknown agent or wrong token/],
      ['old protocol', [hello({ protocol: 0 })], /protocol 0 not supported/],
      ['not JSON', ['{{{'], /not JSON/],
      ['unknown type', [JSON.stringify({ type: 'teleport' })], /invalid message/],
      ['binary frame', [Buffer.from([1, 2, 3])], /binary/],
      ['duplicate name', [hello({ name: 'a1' })], /already connected/],
      [
        'output for a run it does not own',
        [
          hello({ name: 'a2', token: 'second-agent-token' }),
          JSON.stringify({ type: 'output', run: 'not-mine', seq: 0, stream: 'stdout', data: 'eA==' }),
        ],
        /unknown run not-mine/,
      ],
      [
        'exit for a run it does not own',
        [
          hello({ name: 'a2', token: 'second-agent-token' }),
          JSON.stringify({ type: 'exit', run: 'x', seq: 0, code: 0, signal: null, durationMs: 1, killed: null }),
        ],
        /unknown run x/,
      ],
      [
        'second hello',
        [hello({ name: 'a2', token: 'second-agent-token' }), hello({ name: 'a2', token: 'second-agent-token' })],
        /hello after authentication/,
      ],
    ];
    for (const [name, frames, reason] of cases) {
      const closed = await rawAgent(master, frames);
      expect({ name, code: closed.code }).toEqual({ name, code: 1008 });
      expect(closed.reason, name).toMatch(reason);
    }
    const huge = await rawAgent(master, [JSON.stringify({ type: 'pong', pad: 'x'.repeat(2 * 1024 * 1024) })]);
    expect(huge.code).toBe(1009); // ws: message too big
    // The real agent is untouched and still builds.
    expect(internalsOf(master).registry.isConnected('a1')).toBe(true);
    const { build } = await forceAndWaitWithToken();
    expect(build.result).toBe('success');
    const after = await stored();
    expect(after.buildrequests).toBe((before.buildrequests ?? 0) + 1);
  });

  async function forceAndWaitWithToken() {
    // forceAndWait posts without a token; this master needs one.
    const c = api(master);
    const res = await c.post('/builders/b/force', {}, { authorization: `Bearer ${WRITE_TOKEN}` });
    expect(res.status).toBe(202);
    return waitForRequest(master, res.body.buildrequestid);
  }
});
