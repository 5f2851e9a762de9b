import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { AgentSession, CLOSE_PROTOCOL_ERROR, type Run } from '../../master/agents/agent-session.ts';
import { HeartbeatWheel } from '../../master/agents/heartbeat-wheel.ts';
import type { CommandExit, CommandSink, CommandSpec } from '../../master/agents/agent-connection.ts';
import { PROTOCOL_VERSION, commandErrorMessage, parseMasterMessage, type MasterMessage } from '../../protocol/messages.ts';
import { CommandErrorCode } from '../../protocol/reject-codes.ts';
import { encodeOutputFrame } from '../../protocol/output-frame.ts';
import { silentLogger } from '../../core/logger.ts';
import { deferred, eventually, type Deferred } from './helpers.ts';

const SPEC: CommandSpec = { argv: ['make', 'all'], workdir: 'hello/build', env: { CI: '1' }, timeout: 1200, maxTime: null };

/** The agent's end of the socket: what it received, and a way to send frames. */
class FakeAgent {
  readonly received: MasterMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const parsed = parseMasterMessage(String(data));
      if (!parsed.ok) throw new Error(`master sent an invalid frame: ${parsed.error}`);
      if (parsed.message.type !== 'welcome') this.received.push(parsed.message);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  send(message: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Protocol 4's binary output frame (protocol/output-frame.ts). */
  binaryOutput(run: string, seq: number, data: Buffer | string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    this.ws.send(encodeOutputFrame(run, seq, stream, Buffer.from(data)), { binary: true });
  }

  output(run: string, seq: number, data: Buffer | string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    this.send({ type: 'output', run, seq, stream, data: Buffer.from(data).toString('base64') });
  }

  exit(run: string, seq: number, code: number | null = 0): void {
    this.send({ type: 'exit', run, seq, code, signal: null, durationMs: 42 });
  }

  acks(): number[] {
    return this.received.flatMap((m) => (m.type === 'ack' ? [m.seq] : []));
  }

  cancels(): string[] {
    return this.received.flatMap((m) => (m.type === 'cancel' ? [m.run] : []));
  }

  async runMessage(): Promise<Extract<MasterMessage, { type: 'run' }>> {
    const m = await eventually('a run frame', () => this.received.find((x) => x.type === 'run'));
    if (m.type !== 'run') throw new Error('unreachable');
    return m;
  }
}

interface SinkCall {
  stream: 'stdout' | 'stderr';
  data: Buffer;
  done: Deferred<void>;
}

/** A sink whose writes complete when the test says so (or at once with `autoResolve`). */
function holdingSink(autoResolve = false): CommandSink & { calls: SinkCall[] } {
  const calls: SinkCall[] = [];
  return {
    calls,
    output(stream, data) {
      const done = deferred();
      calls.push({ stream, data, done });
      if (autoResolve) done.resolve();
      return done.promise;
    },
  };
}

const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

/** Whether a promise has settled, without waiting for it. */
async function isSettled(p: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([p.then(() => true), new Promise((r) => setImmediate(() => r(marker)))])) !== marker;
}

let wss: WebSocketServer;
let url: string;
let open: WebSocket[] = [];

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
});

afterEach(() => {
  for (const ws of open) ws.terminate();
  open = [];
});

afterAll(async () => {
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

async function connect(
  protocol = PROTOCOL_VERSION,
  heartbeats?: HeartbeatWheel,
  name = 'a1',
): Promise<{ session: AgentSession; agent: FakeAgent; writes: string[] }> {
  const serverSide = new Promise<[WebSocket, IncomingMessage]>((resolve) => wss.once('connection', (ws, req) => resolve([ws, req])));
  const client = new WebSocket(url);
  const agent = new FakeAgent(client);
  await once(client, 'open');
  const [ws, req] = await serverSide;
  open.push(client, ws);
  const session = new AgentSession(name, ws, silentLogger, heartbeats?.periodMs ?? 60_000, 3, protocol, heartbeats, req.socket);
  session.welcome({ type: 'welcome', protocol, heartbeatMs: 60_000, graceMs: 60_000, resume: [] });
  return { session, agent, writes: socketWrites(req.socket) };
}

/**
 * What the master's TCP socket writes from now on, one string per write to the kernel: a stream's
 * `_write` (one chunk) or `_writev` (what was written while corked, in one syscall).
 */
function socketWrites(socket: Socket): string[] {
  const writes: string[] = [];
  const stream = socket as Socket & {
    _write(chunk: Buffer, encoding: BufferEncoding, cb: (e?: Error | null) => void): void;
    _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void;
  };
  const write = stream._write.bind(stream);
  const writev = stream._writev.bind(stream);
  stream._write = (chunk, encoding, cb) => {
    writes.push(Buffer.from(chunk).toString('latin1'));
    write(chunk, encoding, cb);
  };
  stream._writev = (chunks, cb) => {
    writes.push(chunks.map((c) => Buffer.from(c.chunk).toString('latin1')).join(''));
    writev(chunks, cb);
  };
  return writes;
}

describe('AgentSession', () => {
  it('pings its agent every heartbeatMs through a shared wheel, and drops an agent silent for missedHeartbeats × heartbeatMs', async () => {
    const wheel = new HeartbeatWheel(100);
    const answering = await connect(PROTOCOL_VERSION, wheel, 'answers');
    const silent = await connect(PROTOCOL_VERSION, wheel, 'silent');
    answering.agent.ws.on('message', (data) => String(data).includes('"ping"') && answering.agent.send({ type: 'pong' }));
    expect(wheel.size).toBe(2);
    // Silent for 3 × 100 ms: dropped at the first beat after that (terminated: no close frame, 1006).
    const t0 = Date.now();
    expect((await silent.agent.closed).code).toBe(1006);
    const silentFor = Date.now() - t0;
    expect(silentFor).toBeGreaterThanOrEqual(300);
    expect(silentFor).toBeLessThan(2_000);
    await eventually('the silent session closed', () => silent.session.state === 'closed');
    expect(wheel.size).toBe(1);
    // The one that answers stays, pinged once per period meanwhile.
    await settle(300);
    expect(answering.session.state).toBe('open');
    expect(answering.agent.received.filter((m) => m.type === 'ping').length).toBeGreaterThanOrEqual(5);
    answering.agent.ws.close();
    await eventually('the answering session closed', () => answering.session.state === 'closed');
    expect(wheel.size).toBe(0);
  });

  it('sends a run frame when a command starts', async () => {
    const { session, agent } = await connect();
    session.start(SPEC, holdingSink(true));
    const run = await agent.runMessage();
    expect(run).toEqual({ type: 'run', run: expect.any(String) as string, ...SPEC });
    expect(run.run.length).toBeGreaterThan(0);
  });

  it('sends the next run and the ack of the exit before it in one write', async () => {
    const { session, agent, writes } = await connect();
    for (let i = 0; i < 10; i++) {
      const cmd = session.start(SPEC, holdingSink(true));
      const run = await eventually('the next run frame', () => agent.received.filter((m) => m.type === 'run')[i]);
      if (run.type !== 'run') throw new Error('unreachable');
      agent.exit(run.run, 0, 0);
      await cmd.done;
    }
    session.start(SPEC, holdingSink(true));
    await eventually('the last ack', () => agent.acks().length === 10);
    // Each exit's ack waits for the next frame (the next run) and goes out with it, in one write to
    // the kernel. A pause of the test process over EXIT_ACK_DELAY_MS would send an ack alone: 8 of 10.
    const together = writes.filter((w) => w.includes('"type":"ack"') && w.includes('"type":"run"')).length;
    expect(together, writes.join('\n')).toBeGreaterThanOrEqual(8);
  });

  it('sends a run after another (protocol 5), only while that one runs here, and its skipped exit ends it', async () => {
    const { session, agent } = await connect();
    const first = session.start(SPEC, holdingSink(true));
    const ahead = session.startAfter(first.run ?? '', { ...SPEC, argv: ['make', 'check'] }, holdingSink(true));
    expect(ahead).not.toBeNull();
    const runs = await eventually('two run frames', () => {
      const sent = agent.received.filter((m) => m.type === 'run');
      return sent.length === 2 ? sent : null;
    });
    expect(runs[1]).toEqual({ type: 'run', run: ahead?.run, ...SPEC, argv: ['make', 'check'], after: first.run });
    expect(session.sentAhead).toBe(1);
    agent.exit(first.run ?? '', 0, 2);
    agent.send({ type: 'exit', run: ahead?.run, seq: 0, code: null, signal: null, durationMs: 0, skipped: true });
    expect((await first.done).code).toBe(2);
    expect(await ahead?.done).toMatchObject({ code: null, skipped: true, lost: false });
    // The run before has ended here: nothing is sent after it.
    expect(session.startAfter(first.run ?? '', SPEC, holdingSink(true))).toBeNull();
    expect(session.sentAhead).toBe(1);
  });

  it('sends no run after another to an agent of protocol 4, which would refuse the field', async () => {
    const { session, agent } = await connect(4);
    const first = session.start(SPEC, holdingSink(true));
    expect(session.startAfter(first.run ?? '', SPEC, holdingSink(true))).toBeNull();
    await agent.runMessage();
    await settle(50);
    expect(agent.received.filter((m) => m.type === 'run')).toHaveLength(1);
  });

  it('sends a shell command without argv, and a fresh run id per command', async () => {
    const { session, agent } = await connect();
    const { argv: _argv, ...rest } = SPEC;
    session.start({ ...rest, shell: 'echo hi && ls' }, holdingSink(true));
    session.start(SPEC, holdingSink(true));
    await eventually('two run frames', () => agent.received.length === 2);
    const [first, second] = agent.received as [MasterMessage, MasterMessage];
    expect(first).toEqual({ type: 'run', run: expect.any(String) as string, shell: 'echo hi && ls', ...rest });
    expect(first.type === 'run' && second.type === 'run' && first.run !== second.run).toBe(true);
  });

  it('sends cancel for its run', async () => {
    const { session, agent } = await connect();
    const cmd = session.start(SPEC, holdingSink(true));
    const { run } = await agent.runMessage();
    cmd.cancel();
    await eventually('a cancel frame', () => agent.received.find((m) => m.type === 'cancel'));
    expect(agent.received.at(-1)).toEqual({ type: 'cancel', run });
  });

  it('delivers output in order, byte for byte, and acks each seq only after the sink stored it', async () => {
    const { session, agent } = await connect();
    const sink = holdingSink();
    session.start(SPEC, sink);
    const { run } = await agent.runMessage();
    const bytes = [Buffer.from('one\n'), Buffer.from([0xff, 0x00, 0xfe]), Buffer.from('three')];
    agent.output(run, 0, bytes[0] as Buffer);
    agent.output(run, 1, bytes[1] as Buffer, 'stderr');
    agent.output(run, 2, bytes[2] as Buffer);

    // Every output goes to the sink at once (it keeps order and batches); nothing is acked yet.
    await eventually('all outputs', () => sink.calls.length === 3);
    await settle();
    expect(agent.acks()).toEqual([]);

    // Acks follow storage, in seq order: seq 1 stored first is acked only after seq 0.
    sink.calls[1]?.done.resolve();
    await settle();
    expect(agent.acks()).toEqual([]);
    // Acks are cumulative: 0 and 1, stored in one turn, are acked once, with 1.
    sink.calls[0]?.done.resolve();
    await eventually('acks up to 1', () => agent.acks().at(-1) === 1);
    expect(agent.acks()).toEqual([1]);
    sink.calls[2]?.done.resolve();
    await eventually('ack 2', () => agent.acks().at(-1) === 2);

    expect(agent.acks()).toEqual([1, 2]);
    expect(sink.calls.map((c) => c.stream)).toEqual(['stdout', 'stderr', 'stdout']);
    sink.calls.forEach((c, i) => expect(c.data.equals(bytes[i] as Buffer), `output ${i}`).toBe(true));
  });

  it('takes binary output frames (protocol 4) beside JSON ones: one seq order, bytes exact, acked in order', async () => {
    const { session, agent } = await connect();
    const sink = holdingSink(true);
    const cmd = session.start(SPEC, sink);
    const { run } = await agent.runMessage();
    const bytes = [Buffer.from('one\n'), Buffer.from([0xff, 0x00, 0xfe, 0x0a]), Buffer.alloc(256 * 1024, 0x78)];
    agent.binaryOutput(run, 0, bytes[0] as Buffer);
    agent.output(run, 1, bytes[1] as Buffer, 'stderr');
    agent.binaryOutput(run, 2, bytes[2] as Buffer);
    agent.exit(run, 3);
    expect((await cmd.done).code).toBe(0);
    expect(sink.calls.map((c) => c.stream)).toEqual(['stdout', 'stderr', 'stdout']);
    sink.calls.forEach((c, i) => expect(c.data.equals(bytes[i] as Buffer), `output ${i}`).toBe(true));
    await eventually('the exit acked', () => agent.acks().at(-1) === 3);
    // Cumulative acks, in seq order, the output's last (2) before the exit's (3).
    expect(agent.acks().slice(-2)).toEqual([2, 3]);
    expect(agent.acks()).toEqual([...agent.acks()].sort((a, b) => a - b));
  });

  it('closes with 1008 on a binary output frame whose seq leaves a gap', async () => {
    const { session, agent } = await connect();
    session.start(SPEC, holdingSink(true));
    const { run } = await agent.runMessage();
    agent.binaryOutput(run, 1, 'skipped seq 0');
    expect(await agent.closed).toEqual({ code: CLOSE_PROTOCOL_ERROR, reason: `output seq 1 for run ${run}, expected 0` });
  });

  it('stores the JSON output of an agent of protocol 3 as before', async () => {
    const { session, agent } = await connect(3);
    const sink = holdingSink(true);
    const cmd = session.start(SPEC, sink);
    const { run } = await agent.runMessage();
    agent.output(run, 0, Buffer.from([0xff, 0x0a]));
    agent.exit(run, 1);
    expect((await cmd.done).code).toBe(0);
    expect(sink.calls.map((c) => [...c.data])).toEqual([[0xff, 0x0a]]);
    await eventually('the exit acked', () => agent.acks().at(-1) === 1);
  });

  it('closes with 1008 on a binary frame from an agent of protocol 3, which sends JSON only', async () => {
    const { session, agent } = await connect(3);
    session.start(SPEC, holdingSink(true));
    const { run } = await agent.runMessage();
    agent.binaryOutput(run, 0, 'hello');
    expect(await agent.closed).toEqual({ code: CLOSE_PROTOCOL_ERROR, reason: 'binary frames are not part of protocol 3' });
  });

  it('drops a replayed seq and acks it again', async () => {
    const { session, agent } = await connect();
    const sink = holdingSink(true);
    session.start(SPEC, sink);
    const { run } = await agent.runMessage();
    agent.output(run, 0, 'a');
    agent.output(run, 1, 'b');
    await eventually('acks up to 1', () => agent.acks().at(-1) === 1);
    const before = agent.acks().length; // 1 or 2: acks are cumulative, and 0 may ride with 1

    agent.output(run, 1, 'b');
    await eventually('a re-ack', () => agent.acks().length === before + 1);
    agent.output(run, 0, 'a');
    await eventually('another re-ack', () => agent.acks().length === before + 2);
    expect(agent.acks().slice(-3)).toEqual([1, 1, 1]);
    expect(sink.calls.map((c) => c.data.toString())).toEqual(['a', 'b']);

    // The stream goes on from where it was.
    agent.output(run, 2, 'c');
    await eventually('ack 2', () => agent.acks().at(-1) === 2);
    expect(sink.calls.map((c) => c.data.toString())).toEqual(['a', 'b', 'c']);
    expect(session.isOpen).toBe(true);
  });

  // An ack means "stored up to seq" (the agent then drops it): a replay is re-acked only once stored.
  it('does not re-ack a replayed seq before the original is stored', async () => {
    const { session, agent } = await connect();
    const sink = holdingSink();
    session.start(SPEC, sink);
    const { run } = await agent.runMessage();
    agent.output(run, 0, 'a');
    await eventually('the output', () => sink.calls.length === 1);
    agent.output(run, 0, 'a');
    await settle();
    expect(agent.acks()).toEqual([]);
    sink.calls[0]?.done.resolve();
  });

  it('does not ack an output the sink failed to store', async () => {
    const { session, agent } = await connect();
    const sink = holdingSink();
    session.start(SPEC, sink);
    const { run } = await agent.runMessage();
    agent.output(run, 0, 'a');
    await eventually('the output', () => sink.calls.length === 1);
    sink.calls[0]?.done.reject(new Error('disk full'));
    await settle();
    expect(agent.acks()).toEqual([]);
  });

  // Acks are cumulative: after a failed store no later seq may be acked, or the failed chunk is lost.
  it('never acks past an output it failed to store', async () => {
    const { session, agent } = await connect();
    const sink = holdingSink();
    session.start(SPEC, sink);
    const { run } = await agent.runMessage();
    agent.output(run, 0, 'a');
    agent.output(run, 1, 'b');
    await eventually('both outputs', () => sink.calls.length === 2);
    sink.calls[1]?.done.resolve();
    sink.calls[0]?.done.reject(new Error('disk full'));
    await settle();
    expect(agent.acks()).toEqual([]);
    expect(agent.cancels()).toEqual([run]);
  });

  it('closes the connection with 1008 on a seq gap', async () => {
    const { session, agent } = await connect();
    const sink = holdingSink(true);
    const cmd = session.start(SPEC, sink);
    const { run } = await agent.runMessage();
    agent.output(run, 0, 'a');
    agent.output(run, 2, 'c');
    const closed = await agent.closed;
    expect(closed.code).toBe(CLOSE_PROTOCOL_ERROR);
    expect(closed.reason).toBe(`output seq 2 for run ${run}, expected 1`);
    expect(sink.calls.map((c) => c.data.toString())).toEqual(['a']);
    expect((await cmd.done).lost).toBe(true);
  });

  it('resolves done with the exit only after all output is stored', async () => {
    const { session, agent } = await connect();
    const sink = holdingSink();
    const cmd = session.start(SPEC, sink);
    const { run } = await agent.runMessage();
    agent.output(run, 0, 'a');
    agent.output(run, 1, 'b');
    agent.exit(run, 2, 3);
    await eventually('both outputs', () => sink.calls.length === 2);
    await settle();
    expect(await isSettled(cmd.done)).toBe(false);

    sink.calls[0]?.done.resolve();
    await settle();
    expect(await isSettled(cmd.done)).toBe(false);

    sink.calls[1]?.done.resolve();
    const exit: CommandExit = await cmd.done;
    expect(exit).toEqual({ code: 3, signal: null, killed: null, durationMs: 42, lost: false, error: null });
    expect(sink.calls).toHaveLength(2);
  });

  it('reports a run error and how the agent killed the command', async () => {
    const { session, agent } = await connect();
    const cmd = session.start(SPEC, holdingSink(true));
    const { run } = await agent.runMessage();
    agent.send(commandErrorMessage(run, CommandErrorCode.SpawnFailed, 'make: not found'));
    agent.send({ type: 'exit', run, seq: 0, code: null, signal: 'SIGTERM', durationMs: 5, killed: 'timeout' });
    expect(await cmd.done).toEqual({
      code: null,
      signal: 'SIGTERM',
      killed: 'timeout',
      durationMs: 5,
      lost: false,
      error: 'make: not found',
    });
  });

  it('closes with 1008 on an exit whose seq does not match the output received', async () => {
    const { session, agent } = await connect();
    const cmd = session.start(SPEC, holdingSink(true));
    const { run } = await agent.runMessage();
    agent.output(run, 0, 'a');
    agent.exit(run, 5);
    expect(await agent.closed).toEqual({ code: CLOSE_PROTOCOL_ERROR, reason: `exit after seq 5 for run ${run}, received up to 1` });
    expect((await cmd.done).lost).toBe(true);
  });

  it('hands a running command to its close listeners, which decide when it is lost', async () => {
    const { session, agent } = await connect();
    const cmd = session.start(SPEC, holdingSink(true));
    const handed: Run[][] = [];
    session.onClosed((orphans) => handed.push(orphans));
    await agent.runMessage();
    agent.ws.close(1000, 'bye');
    await eventually('the close', () => handed.length === 1);
    expect(session.isOpen).toBe(false);
    expect(handed[0]).toHaveLength(1);
    expect(await isSettled(cmd.done)).toBe(false); // kept for the agent's return
    handed[0]?.[0]?.lose();
    expect(await cmd.done).toEqual({ code: null, signal: null, killed: null, durationMs: 0, lost: true, error: null });
  });

  it('resolves a running command as lost when the socket closes and nobody keeps it', async () => {
    const { session, agent } = await connect();
    const cmd = session.start(SPEC, holdingSink(true));
    await agent.runMessage();
    agent.ws.close(1000, 'bye');
    expect(await cmd.done).toEqual({ code: null, signal: null, killed: null, durationMs: 0, lost: true, error: null });
  });

  it('waits for stored output before resolving a lost command', async () => {
    const { session, agent } = await connect();
    const sink = holdingSink();
    const cmd = session.start(SPEC, sink);
    const { run } = await agent.runMessage();
    agent.output(run, 0, 'a');
    await eventually('the output', () => sink.calls.length === 1);
    agent.ws.terminate();
    await eventually('the session to close', () => !session.isOpen);
    expect(await isSettled(cmd.done)).toBe(false);
    sink.calls[0]?.done.resolve();
    expect((await cmd.done).lost).toBe(true);
  });

  it('answers a command started after the close as lost, sending nothing', async () => {
    const { session, agent } = await connect();
    agent.ws.close();
    await eventually('the session to close', () => !session.isOpen);
    const cmd = session.start(SPEC, holdingSink(true));
    expect((await cmd.done).lost).toBe(true);
    expect(agent.received).toEqual([]);
  });

  it('closes with 1008 on output for an unknown run', async () => {
    const { session, agent } = await connect();
    session.start(SPEC, holdingSink(true));
    await agent.runMessage();
    agent.output('no-such-run', 0, 'x');
    expect(await agent.closed).toEqual({ code: CLOSE_PROTOCOL_ERROR, reason: 'output for unknown run no-such-run' });
    await eventually('the session to close', () => !session.isOpen);
  });

  it('closes with 1008 on output for a run that already exited', async () => {
    const { session, agent } = await connect();
    const cmd = session.start(SPEC, holdingSink(true));
    const { run } = await agent.runMessage();
    agent.exit(run, 0);
    await cmd.done;
    agent.output(run, 0, 'late');
    expect((await agent.closed).code).toBe(CLOSE_PROTOCOL_ERROR);
  });

  it.each([
    ['an invalid frame', (a: FakeAgent) => a.ws.send('not json'), 'frame is not JSON'],
    [
      'a binary frame that is no output frame',
      (a: FakeAgent) => a.ws.send(Buffer.from('{"type":"pong"}'), { binary: true }),
      'binary frame: unknown kind 123 at byte 0 (1 = output)',
    ],
    [
      'a second hello',
      (a: FakeAgent) => a.send({ type: 'hello', protocol: 1, name: 'a1', token: 'dev-token', version: '1', os: 'linux', capacity: 1 }),
      'hello after authentication',
    ],
  ])('closes with 1008 on %s', async (_what, sendBad, reason) => {
    const { agent } = await connect();
    sendBad(agent);
    expect(await agent.closed).toEqual({ code: CLOSE_PROTOCOL_ERROR, reason });
  });

  it('ignores pong', async () => {
    const { session, agent } = await connect();
    agent.send({ type: 'pong' });
    await settle();
    expect(session.isOpen).toBe(true);
  });
});
