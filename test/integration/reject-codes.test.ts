/**
 * Typed refusals with a whole master (SQLite): raw hellos get the reject code of their cause, an agent
 * of protocol 1 gets a refusal it can parse, and a real Agent decides on the code: it stops on one
 * that retrying cannot help and keeps reconnecting on one that can.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { Agent, AgentRefusedError } from '../../agent/agent.ts';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { PROTOCOL_VERSION, parseMasterMessage } from '../../protocol/messages.ts';
import { testDatabases } from '../helpers/databases.ts';
import { startTestMaster, waitFor } from '../helpers/harness.ts';
import { helloFrame } from '../helpers/frames.ts';

const TOKEN = 'reject-codes-token';

/** The reject of protocol 1, exactly as an agent of that version parses it: no key beyond these. */
const V1Reject = z.strictObject({ type: z.literal('reject'), reason: z.string() });

const hello = (over: Record<string, unknown> = {}) => helloFrame(TOKEN, { os: 'test', ...over });

/** A raw agent socket: sends `frame`, keeps what the master answers and how it closed. */
function rawAgent(port: number, frame: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/agents`);
  const frames: string[] = [];
  let closed: { code: number; reason: string } | null = null;
  ws.on('open', () => ws.send(frame));
  ws.on('message', (d) => frames.push(d.toString()));
  ws.on('close', (code, reason) => (closed = { code, reason: reason.toString() }));
  ws.on('error', () => {});
  return {
    ws,
    frames,
    closed: () => waitFor('the master to close the socket', () => closed, 5000),
    first: () => waitFor('an answer', () => frames[0], 5000),
  };
}

async function refusal(port: number, frame: string) {
  const agent = rawAgent(port, frame);
  const closed = await agent.closed();
  expect(agent.frames).toHaveLength(1);
  return { text: agent.frames[0] ?? '', closed };
}

describe('reject codes from a real master', () => {
  const sqlite = testDatabases().find((d) => d.kind === 'sqlite');
  let master: RunningMaster;
  let basedir: string;
  const agents: Agent[] = [];

  /** A real agent whose log lines are kept. */
  function agent(token: string) {
    const lines: string[] = [];
    const a = new Agent({
      master: `ws://127.0.0.1:${master.port}/agents`,
      name: 'a1',
      token,
      basedir,
      maxBackoffMs: 200,
      log: (line) => lines.push(line),
    });
    agents.push(a);
    return { agent: a, lines };
  }

  beforeAll(async () => {
    if (!sqlite) throw new Error('no SQLite test database');
    basedir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-reject-codes-'));
    master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: TOKEN }],
        builders: [{ name: 'b', agents: ['a1'], factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'true' })) }],
      },
      await sqlite.create(),
      `reject-codes-${process.pid}`,
    );
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await master?.stop();
    if (basedir) fs.rmSync(basedir, { recursive: true, force: true });
  });

  it.each([
    [
      'version_mismatch',
      'a newer agent',
      hello({ protocol: PROTOCOL_VERSION + 1 }),
      new RegExp(`not supported: this master speaks protocol ${PROTOCOL_VERSION}`),
    ],
    ['bad_credentials', 'an unknown agent', hello({ name: 'ghost' }), /^unknown agent or wrong token$/],
    ['bad_credentials', 'a wrong token', hello({ token: 'wrong-token' }), /^unknown agent or wrong token$/],
    ['protocol_error', 'a frame that is not JSON', '{{{', /^frame is not JSON$/],
    ['protocol_error', 'output before hello', JSON.stringify({ type: 'pong' }), /before hello/],
  ])('%s for %s', async (code, _what, frame, reason) => {
    const { text, closed } = await refusal(master.port, frame);
    const parsed = parseMasterMessage(text);
    if (!parsed.ok || parsed.message.type !== 'reject') throw new Error(`not a reject: ${text}`);
    expect(parsed.message.code).toBe(code);
    expect(parsed.message.retryable).toBe(false);
    expect(parsed.message.reason).toMatch(reason);
    expect(closed).toEqual({ code: 1008, reason: parsed.message.reason });
  });

  it('already_connected (retryable) while the agent holds a connection', async () => {
    const holder = rawAgent(master.port, hello());
    expect(JSON.parse(await holder.first())).toMatchObject({ type: 'welcome' });
    const { text } = await refusal(master.port, hello());
    expect(JSON.parse(text)).toEqual({
      type: 'reject',
      code: 'already_connected',
      retryable: true,
      reason: 'agent "a1" is already connected',
    });
    holder.ws.close();
    await holder.closed();
  });

  it('answers a protocol 1 hello with the reject a protocol 1 agent parses, naming both versions', async () => {
    // Field for field what an agent of protocol 1 sends.
    const v1Hello = `{"type":"hello","protocol":1,"name":"a1","token":"${TOKEN}","version":"0.1.0","os":"linux 6.1.0 x64","labels":[],"capacity":1000,"running":[]}`;
    const { text, closed } = await refusal(master.port, v1Hello);
    const v1 = V1Reject.safeParse(JSON.parse(text));
    if (!v1.success) throw new Error(`a protocol 1 agent cannot parse ${text}: ${v1.error.message}`);
    expect(v1.data.reason).toBe(`protocol 1 not supported: this master speaks protocol ${PROTOCOL_VERSION}; upgrade the agent`);
    expect(closed).toEqual({ code: 1008, reason: v1.data.reason });
    // Protocol 1's agent stopped on any reason but "already connected" and "too many failed".
    expect(v1.data.reason).not.toMatch(/already connected|too many failed/);
  });

  it('a real agent stops on bad_credentials: start() rejects with the code, and it does not reconnect', async () => {
    const { agent: a, lines } = agent('wrong-token');
    const error = await a.start().then(
      () => null,
      (e: unknown) => e,
    );
    if (!(error instanceof AgentRefusedError)) throw new Error(`expected an AgentRefusedError, got ${String(error)}`);
    expect({ code: error.code, reason: error.reason }).toEqual({ code: 'bad_credentials', reason: 'unknown agent or wrong token' });
    expect(error.message).toBe('master refused agent "a1" (bad_credentials): unknown agent or wrong token');
    await new Promise((r) => setTimeout(r, 600)); // three backoffs of 200 ms
    expect(lines.filter((l) => l.includes('refused'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('retrying in'))).toEqual([]);
  });

  it('a real agent keeps reconnecting on already_connected and gets in once the old connection is gone', async () => {
    const holder = rawAgent(master.port, hello());
    expect(JSON.parse(await holder.first())).toMatchObject({ type: 'welcome' });
    const { agent: a, lines } = agent(TOKEN);
    let started = false;
    const start = a.start().then(() => (started = true));
    await waitFor('three refusals', () => lines.filter((l) => l.includes('(already_connected)')).length >= 3, 10_000);
    expect(started).toBe(false);
    expect(lines.filter((l) => l.includes('retrying in'))).not.toHaveLength(0);
    holder.ws.close();
    await start;
    expect(lines.at(-1)).toMatch(/^connected to /);
    await a.stop();
  });
});
