/**
 * Each reject code of the handshake, for its cause, over a real WebSocket to an AgentServer with a
 * fake directory of agents: the causes a whole master cannot be brought to at will (a registration
 * that fails, a short handshake timeout, a rate limit from an address of its own) are here too.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { silentLogger } from '../../core/logger.ts';
import { AgentServer, MAX_FAILED_HANDSHAKES, type AgentDirectory } from '../../master/agents/agent-server.ts';
import { PROTOCOL_VERSION, parseMasterMessage, type MasterMessage } from '../../protocol/messages.ts';
import { REJECT_RETRYABLE, type RejectCode } from '../../protocol/reject-codes.ts';

const TOKEN = 'server-rejects-token';
/** Agents this directory reports connected. */
const connected = new Set<string>(['busy']);
const directory: AgentDirectory = {
  config: (name) => (['a1', 'busy', 'broken'].includes(name) ? { token: TOKEN } : undefined),
  get: (name) => ({ handle: { connected: connected.has(name) } }),
};

/** The reject of protocol 1, exactly as an agent of that version parses it: no key beyond these. */
const V1Reject = z.strictObject({ type: z.literal('reject'), reason: z.string() });

const hello = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, name: 'a1', token: TOKEN, version: 't', os: 't', capacity: 1, ...over });

interface Answer {
  frames: string[];
  code: number;
  reason: string;
}

let server: http.Server;
let agents: AgentServer;
let port: number;

/** Sends the frames from `localAddress`, and collects what the server answers until it closes. */
function exchange(frames: (string | Buffer)[], localAddress = '127.0.0.1'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/agents`, { localAddress });
    const answer: Answer = { frames: [], code: 0, reason: '' };
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`not closed; got ${JSON.stringify(answer.frames)}`));
    }, 3000);
    ws.on('open', () => frames.forEach((f) => ws.send(f)));
    ws.on('message', (d) => answer.frames.push(d.toString()));
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ ...answer, code, reason: reason.toString() });
    });
    ws.on('error', () => {});
  });
}

/** The one frame of a refused handshake, checked against this protocol's schema. */
function rejectOf(answer: Answer): Extract<MasterMessage, { type: 'reject' }> {
  expect(answer.frames).toHaveLength(1);
  const parsed = parseMasterMessage(answer.frames[0] ?? '');
  if (!parsed.ok || parsed.message.type !== 'reject') throw new Error(`not a reject: ${answer.frames[0]}`);
  expect(answer.code).toBe(1008);
  expect(answer.reason).toBe(parsed.message.reason);
  return parsed.message;
}

function expectReject(answer: Answer, code: RejectCode, reason: RegExp): void {
  const m = rejectOf(answer);
  expect({ code: m.code, retryable: m.retryable }).toEqual({ code, retryable: REJECT_RETRYABLE[code] });
  expect(m.reason).toMatch(reason);
}

beforeAll(async () => {
  agents = new AgentServer(directory, silentLogger, {
    heartbeatMs: 10_000,
    missedHeartbeats: 3,
    graceMs: 1000,
    handshakeMs: 300,
    onSession: (session) => (session.name === 'broken' ? Promise.reject(new Error('database down')) : Promise.resolve([])),
  });
  server = http.createServer();
  server.on('upgrade', (req, socket, head) => {
    if (!agents.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  port = address.port;
});

afterAll(async () => {
  agents.close();
  await new Promise((resolve) => server.close(resolve));
});

describe('AgentServer: a reject code for each cause', () => {
  it('welcomes a good hello (the baseline)', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/agents`);
    const first = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send(hello()));
      ws.on('message', (d) => resolve(d.toString()));
      ws.on('error', reject);
    });
    ws.close();
    expect(JSON.parse(first)).toMatchObject({ type: 'welcome', protocol: PROTOCOL_VERSION });
  });

  it('version_mismatch for a newer agent', async () => {
    expectReject(
      await exchange([hello({ protocol: PROTOCOL_VERSION + 1 })]),
      'version_mismatch',
      new RegExp(`^protocol ${PROTOCOL_VERSION + 1} not supported: this master speaks protocol ${PROTOCOL_VERSION}`),
    );
  });

  it('bad_credentials, the same for an unknown name and a wrong token', async () => {
    const unknown = rejectOf(await exchange([hello({ name: 'ghost' })]));
    const wrong = rejectOf(await exchange([hello({ token: 'wrong-token' })]));
    expect(unknown).toEqual({ type: 'reject', code: 'bad_credentials', retryable: false, reason: 'unknown agent or wrong token' });
    expect(wrong).toEqual(unknown);
  });

  it('already_connected while the directory holds a connection', async () => {
    expectReject(await exchange([hello({ name: 'busy' })]), 'already_connected', /^agent "busy" is already connected$/);
  });

  it.each([
    ['a frame that is not JSON', ['{{{'], /^frame is not JSON$/],
    ['an invalid hello', [hello({ capacity: 0 })], /^invalid message at capacity/],
    ['a binary frame', [Buffer.from(hello())], /^binary frames are not part of the protocol$/],
    ['another message first', [JSON.stringify({ type: 'pong' })], /^"pong" before hello: not authenticated$/],
  ])('protocol_error for %s', async (_what, frames, reason) => {
    expectReject(await exchange(frames), 'protocol_error', reason);
  });

  it('handshake_timeout when no hello comes', async () => {
    expectReject(await exchange([]), 'handshake_timeout', /^no hello in time$/);
  });

  it('master_error when the registration fails', async () => {
    const answer = await exchange([hello({ name: 'broken' })]);
    expectReject(answer, 'master_error', /^master error$/);
  });

  it(`rate_limited after ${MAX_FAILED_HANDSHAKES} failed authentications from one address, whatever is sent`, async () => {
    // An address of its own (Linux routes all of 127/8 to loopback), so the other cases are not limited.
    const peer = '127.0.0.7';
    for (let i = 0; i < MAX_FAILED_HANDSHAKES; i++) {
      expectReject(await exchange([hello({ token: `guess-${i}` })], peer), 'bad_credentials', /wrong token/);
    }
    expectReject(
      await exchange([hello()], peer),
      'rate_limited',
      new RegExp(`^too many failed handshakes from ${peer.replaceAll('.', '\\.')}`),
    );
    expectReject(await exchange([], peer), 'rate_limited', /try again in a minute/);
    // Other refusals do not count: 127.0.0.1 went through all the cases above and is still served.
    expectReject(await exchange([hello({ name: 'busy' })]), 'already_connected', /already connected/);
  });
});

describe('AgentServer: an agent of protocol 1', () => {
  it.each([
    ['a protocol 1 hello', hello({ protocol: 1 })],
    // What a protocol-1 agent sends today, field for field.
    [
      'a full protocol 1 hello',
      '{"type":"hello","protocol":1,"name":"a1","token":"server-rejects-token","version":"0.1.0","os":"linux 6.1.0 x64","labels":[],"capacity":1000,"running":[]}',
    ],
    ['a protocol 1 hello that this version would find invalid', hello({ protocol: 1, capacity: 0, extra: true })],
    ['a protocol 0 hello', hello({ protocol: 0 })],
  ])('gets a reject it can parse, naming both versions, for %s', async (_what, frame) => {
    const answer = await exchange([frame]);
    expect(answer.frames).toHaveLength(1);
    const v1 = V1Reject.safeParse(JSON.parse(answer.frames[0] ?? ''));
    if (!v1.success) throw new Error(`a protocol 1 agent cannot parse ${answer.frames[0]}: ${v1.error.message}`);
    const protocol = Number(JSON.parse(frame).protocol);
    expect(v1.data.reason).toBe(`protocol ${protocol} not supported: this master speaks protocol ${PROTOCOL_VERSION}; upgrade the agent`);
    expect(answer.code).toBe(1008);
    expect(answer.reason).toBe(v1.data.reason);
  });

  it('an old agent with a wrong token hears about its version, not its token, and is not counted', async () => {
    const answer = await exchange([hello({ protocol: 1, token: 'wrong' })], '127.0.0.8');
    expect(V1Reject.parse(JSON.parse(answer.frames[0] ?? '')).reason).toMatch(/^protocol 1 not supported/);
  });
});
