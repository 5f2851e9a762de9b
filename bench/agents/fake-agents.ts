/**
 * A load generator: one child process of bench:agents holding many real WebSocket agents that speak
 * Caliper's agent protocol (protocol/messages.ts): `hello`, `pong` to every `ping`, and an `exit` for
 * every `run` — at once with code 0, or after really running the command when told to spawn. Frames
 * from the master are validated with the protocol's own parser, as the real agent does.
 *
 * Each fake agent's states: idle → opening → (welcome) connected → (close) waiting → opening …
 * A close before the welcome counts as dropped, after it as lost; either is retried with a backoff,
 * unless the master refused the hello with a code that says retrying cannot help.
 *
 * Started by fleet.ts with `fork` (IPC channel); messages in fleet-messages.ts.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, parseMasterMessage, type AgentMessage } from '../../protocol/messages.ts';
import { fakeAgentName, fakeAgentToken, type FromGenerator, type GeneratorStats, type ToGenerator } from './fleet-messages.ts';

const send = (m: FromGenerator) => process.send?.(m);
const wallClockMs = () => performance.timeOrigin + performance.now();

const stats: GeneratorStats = { connected: 0, dropped: 0, retried: 0, lost: 0, rejects: {}, allConnectedAt: null, runs: 0 };
let runTimes: number[] = [];
let stopping = false;
const sockets = new Set<WebSocket>();

interface Job {
  url: string;
  secret: string;
  spawn: boolean;
  total: number;
}

/** Handshakes waiting for a slot when a concurrency limit is set. */
const waiting: (() => void)[] = [];
let inFlight = 0;
let limit = 0;

function slot(start: () => void): void {
  if (limit === 0 || inFlight < limit) {
    inFlight++;
    start();
  } else waiting.push(start);
}

function release(): void {
  inFlight--;
  const next = waiting.shift();
  if (next) {
    inFlight++;
    next();
  }
}

function answerRun(ws: WebSocket, job: Job, run: string, argv: string[] | undefined, shell: string | undefined): void {
  runTimes.push(wallClockMs());
  stats.runs++;
  const exit = (code: number | null, signal: string | null, durationMs: number) => {
    const frame: AgentMessage = { type: 'exit', run, seq: 0, code, signal, durationMs, killed: null };
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  };
  if (!job.spawn) return exit(0, null, 0);
  const t0 = performance.now();
  const [command, ...args] = argv ?? ['/bin/sh', '-c', shell ?? 'true'];
  const child = spawn(command as string, args, { stdio: 'ignore' });
  child.once('error', () => exit(127, null, performance.now() - t0));
  child.once('exit', (code, signal) => exit(code, signal, performance.now() - t0));
}

function connect(job: Job, i: number, attempt: number): void {
  slot(() => {
    if (stopping) return release();
    const ws = new WebSocket(job.url, { perMessageDeflate: false });
    sockets.add(ws);
    let welcomed = false;
    let retryable = true;
    let released = false;
    const done = () => {
      if (!released) {
        released = true;
        release();
      }
    };
    ws.on('open', () => {
      const hello: AgentMessage = {
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        name: fakeAgentName(i),
        token: fakeAgentToken(job.secret, i),
        version: 'bench-fake-agent',
        os: `${os.platform()} ${os.arch()}`,
        labels: [],
        capacity: 1,
        running: [],
      };
      ws.send(JSON.stringify(hello));
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const parsed = parseMasterMessage(data.toString());
      if (!parsed.ok) {
        ws.close(1008, parsed.error);
        return;
      }
      const m = parsed.message;
      switch (m.type) {
        case 'welcome':
          welcomed = true;
          stats.connected++;
          if (stats.connected === job.total && stats.allConnectedAt === null) stats.allConnectedAt = wallClockMs();
          done();
          return;
        case 'reject':
          stats.rejects[m.code] = (stats.rejects[m.code] ?? 0) + 1;
          retryable = m.retryable;
          return;
        case 'ping':
          ws.send('{"type":"pong"}');
          return;
        case 'run':
          return answerRun(ws, job, m.run, m.argv, m.shell);
        case 'cancel':
        case 'ack':
        case 'upload': // file transfer (protocol 3): no bench step sends one
        case 'download':
        case 'data':
        case 'end':
          return;
        default: {
          const never: never = m;
          return never;
        }
      }
    });
    ws.on('error', () => {
      // 'close' follows and counts it.
    });
    ws.on('close', () => {
      sockets.delete(ws);
      done();
      if (welcomed) {
        stats.connected--;
        stats.lost++;
      } else stats.dropped++;
      if (stopping || !retryable) return;
      stats.retried++;
      const backoff = Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random());
      setTimeout(() => connect(job, i, attempt + 1), backoff);
    });
  });
}

process.on('message', (m: ToGenerator) => {
  switch (m.type) {
    case 'connect': {
      limit = m.concurrency;
      const job: Job = { url: m.url, secret: m.secret, spawn: m.spawn, total: m.to - m.from };
      for (let i = m.from; i < m.to; i++) connect(job, i, 0);
      return;
    }
    case 'collect':
      send({ type: 'runs', at: runTimes, stats });
      runTimes = [];
      return;
    case 'stop':
      stopping = true;
      for (const ws of sockets) ws.terminate();
      // Let the IPC channel flush, then go.
      setTimeout(() => process.exit(0), 50);
      return;
    default: {
      const never: never = m;
      return never;
    }
  }
});

setInterval(() => send({ type: 'stats', stats }), 250).unref();
process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (e) => {
  send({ type: 'error', message: e.stack ?? e.message });
  process.exit(1);
});
send({ type: 'ready' });
