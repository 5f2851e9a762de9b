/**
 * Property-based fault tests of the agent protocol. Pure: parseAgentMessage / parseMasterMessage on
 * arbitrary text and on messages built from the protocol's shapes and then broken. Live: a real
 * master (SQLite) gets random frames over raw WebSockets; it must close every offending connection,
 * keep serving, and still run a real agent's build afterwards.
 * Seeded: a failure prints the seed and counterexample; rerun with FC_SEED=<seed> to reproduce.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import {
  AgentToMaster,
  MasterToAgent,
  MAX_FRAME_BYTES,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  parseAgentMessage,
  parseMasterMessage,
} from '../../protocol/messages.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, CLI, forceAndWait, ROOT, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';
import {
  type Message,
  type Shape,
  agentShapes,
  anyTextArb,
  brokenAgentArb,
  brokenMasterArb,
  checkAgainstOracle,
  expectedParse,
  masterShapes,
  oracle,
  validAgentArb,
  validArb,
  validMasterArb,
} from '../helpers/protocol-arbitraries.ts';
import { internalsOf } from '../../master/testing.ts';

const SEED = Number(process.env.FC_SEED ?? 1_234_567);
const TOKEN = 'protocol-fuzz-token';

// ---------------------------------------------------------------------------------------------

describe('protocol parsers on arbitrary input', () => {
  const sides = [
    {
      name: 'parseAgentMessage',
      parse: parseAgentMessage,
      schema: AgentToMaster,
      shapes: agentShapes,
      valid: validAgentArb,
      broken: brokenAgentArb,
    },
    {
      name: 'parseMasterMessage',
      parse: parseMasterMessage,
      schema: MasterToAgent,
      shapes: masterShapes,
      valid: validMasterArb,
      broken: brokenMasterArb,
    },
  ] as const;

  for (const side of sides) {
    describe(side.name, () => {
      it('never throws on any text, and accepts exactly what the schema accepts', () => {
        fc.assert(
          fc.property(anyTextArb(side.valid, side.broken), (raw) => checkAgainstOracle(side.parse, side.schema, raw)),
          { seed: SEED, numRuns: 1500 },
        );
      });

      it('round-trips every message built from the protocol shapes', () => {
        fc.assert(
          fc.property(side.valid, (m) => {
            const parsed = side.parse(JSON.stringify(m));
            if (!parsed.ok) throw new Error(`valid ${m.type} refused: ${parsed.error}`);
            expect(parsed.message).toEqual(expectedParse(side.shapes[m.type] as Shape, m));
            // What the parser returns is itself a valid frame, unchanged by another pass.
            expect(side.parse(JSON.stringify(parsed.message))).toEqual(parsed);
          }),
          { seed: SEED, numRuns: 800 },
        );
      });

      it('refuses every broken message with ok:false and a message', () => {
        fc.assert(
          fc.property(side.broken, ({ text, why }) => {
            const parsed = side.parse(text);
            expect(parsed.ok, `${why}: ${text.slice(0, 200)}`).toBe(false);
            if (!parsed.ok) expect(parsed.error).toMatch(/^(invalid message|frame is not JSON|frame larger)/);
          }),
          { seed: SEED, numRuns: 1500 },
        );
      });
    });
  }

  it('cuts frames off at MAX_FRAME_BYTES bytes (not characters), whatever they hold', () => {
    const frames = fc.oneof(
      // valid JSON padded with spaces to a size around the limit
      fc
        .tuple(fc.constantFrom('{"type":"pong"}', '{"type":"ping"}'), fc.integer({ min: -300, max: 300 }))
        .map(([json, delta]) => ({ raw: json.padEnd(MAX_FRAME_BYTES + delta, ' '), delta })),
      // a reject whose reason is multibyte: characters well under the limit, bytes over or under it
      fc.tuple(fc.constantFrom('é', '日', '🙂'), fc.integer({ min: -300, max: 300 })).map(([ch, delta]) => {
        const head = '{"type":"reject","code":"bad_credentials","retryable":false,"reason":"';
        const bytesPer = Buffer.byteLength(ch);
        const n = Math.floor((MAX_FRAME_BYTES + delta - head.length - 2) / bytesPer);
        const raw = `${head}${ch.repeat(n)}"}`;
        return { raw, delta: Buffer.byteLength(raw) - MAX_FRAME_BYTES };
      }),
    );
    fc.assert(
      fc.property(frames, ({ raw, delta }) => {
        const agent = parseAgentMessage(raw);
        const master = parseMasterMessage(raw);
        const over = delta > 0;
        if (over) {
          expect(agent).toEqual({ ok: false, error: `frame larger than ${MAX_FRAME_BYTES} bytes` });
          expect(master).toEqual({ ok: false, error: `frame larger than ${MAX_FRAME_BYTES} bytes` });
        } else {
          const type = (JSON.parse(raw) as { type: string }).type;
          expect(type === 'pong' ? agent.ok : master.ok).toBe(true);
        }
      }),
      { seed: SEED, numRuns: 60 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// A live master under random frames
// ---------------------------------------------------------------------------------------------

type Frame = { kind: 'text'; text: string } | { kind: 'binary'; bytes: number[] } | { kind: 'padded'; json: string; bytes: number };
const materialize = (f: Frame): string | Buffer =>
  f.kind === 'text' ? f.text : f.kind === 'binary' ? Buffer.from(f.bytes) : f.json.padEnd(f.bytes, ' ');

const helloFor = (over: Record<string, unknown> = {}) => ({
  type: 'hello',
  protocol: PROTOCOL_VERSION,
  name: 'a1',
  token: TOKEN,
  version: 'fuzz',
  os: 'fuzz',
  capacity: 1,
  ...over,
});
/** A hello the master accepts, with the optional parts at random. */
const goodHelloArb = validArb('hello', agentShapes.hello as Shape).map((h) => ({
  ...h,
  protocol: PROTOCOL_VERSION,
  name: 'a1',
  token: TOKEN,
}));
/** Hellos the master refuses: unknown agent, wrong token (both count against the per-address limit), old protocol. */
const badHelloArb = fc.oneof(
  fc.constantFrom(
    helloFor({ name: 'ghost' }),
    helloFor({ token: 'wrong-token-123' }),
    helloFor({ protocol: 0 }),
    helloFor({ protocol: PROTOCOL_VERSION + 1 }),
    helloFor({ token: '' }),
  ),
  goodHelloArb.map((h) => ({ ...h, token: `${TOKEN}x` })),
);

const textFrame = (arb: fc.Arbitrary<string>): fc.Arbitrary<Frame> => arb.map((text) => ({ kind: 'text' as const, text }));
const garbageFrameArb: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 4, arbitrary: textFrame(anyTextArb(validAgentArb, brokenAgentArb)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ kind: 'binary' as const, bytes: [...b] })) },
  { weight: 1, arbitrary: goodHelloArb.map((h) => ({ kind: 'binary' as const, bytes: [...Buffer.from(JSON.stringify(h))] })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('{"type":"pong"}', '{"type":"output","run":"r","seq":0,"stream":"stdout","data":""}', '{"type":', ''),
        fc.integer({ min: -200, max: 4096 }),
      )
      .map(([json, delta]) => ({ kind: 'padded' as const, json, bytes: MAX_FRAME_BYTES + delta })),
  },
);
const pongFrame: Frame = { kind: 'text', text: '{"type":"pong"}' };
const helloFrame = (h: Message, pad: number | undefined): Frame =>
  pad === undefined ? { kind: 'text', text: JSON.stringify(h) } : { kind: 'padded', json: JSON.stringify(h), bytes: MAX_FRAME_BYTES + pad };
const padArb = fc.option(fc.integer({ min: -100, max: 100 }), { nil: undefined, freq: 4 });
const scriptArb: fc.Arbitrary<Frame[]> = fc.oneof(
  // before authentication: anything
  { weight: 3, arbitrary: fc.array(garbageFrameArb, { minLength: 1, maxLength: 6 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(badHelloArb, fc.array(garbageFrameArb, { maxLength: 3 }))
      .map(([h, rest]) => [{ kind: 'text' as const, text: JSON.stringify(h) }, ...rest]),
  },
  // an agent of an older protocol, its hello valid or not by this one's rules: refused in protocol 1's shape
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        goodHelloArb,
        fc.integer({ min: -3, max: MIN_PROTOCOL_VERSION - 1 }),
        fc.option(fc.jsonValue({ maxDepth: 1 }), { nil: undefined }),
        fc.array(garbageFrameArb, { maxLength: 3 }),
      )
      .map(([h, protocol, extra, rest]) => [
        { kind: 'text' as const, text: JSON.stringify({ ...h, protocol, ...(extra === undefined ? {} : { fromTheFuture: extra }) }) },
        ...rest,
      ]),
  },
  // a valid hello (sometimes padded to near the limit), then garbage and pongs
  {
    weight: 3,
    arbitrary: fc
      .tuple(goodHelloArb, padArb, fc.array(fc.oneof(garbageFrameArb, fc.constant(pongFrame)), { maxLength: 12 }))
      .map(([h, pad, rest]) => [helloFrame(h, pad), ...rest]),
  },
  // a valid hello and only pongs, some near the limit: the connection must stay open
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        goodHelloArb,
        padArb,
        fc.array(
          fc.oneof(
            fc.constant(pongFrame),
            fc.integer({ min: -100, max: 0 }).map((d): Frame => ({ kind: 'padded', json: pongFrame.text, bytes: MAX_FRAME_BYTES + d })),
          ),
          { maxLength: 6 },
        ),
      )
      .map(([h, pad, rest]) => [helloFrame(h, pad), ...rest]),
  },
);

/** The reject of protocol 1, as an agent of that version parses it: the master's answer to its hello. */
const V1Reject = z.strictObject({ type: z.literal('reject'), reason: z.string() });

/** A hello naming a protocol older than the master's, however broken the rest: answered in protocol 1's shape. */
function olderHello(frame: string): boolean {
  let json: unknown;
  try {
    json = JSON.parse(frame);
  } catch {
    return false;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json) || !('type' in json) || !('protocol' in json)) return false;
  return (
    json.type === 'hello' &&
    typeof json.protocol === 'number' &&
    Number.isSafeInteger(json.protocol) &&
    json.protocol < MIN_PROTOCOL_VERSION
  );
}

interface Expected {
  close: boolean;
  /** 1008 protocol error, 1009 too big; null: stays open. */
  code: 1008 | 1009 | null;
  /** Another frame after the offending one is over the limit: the master may answer either way. */
  racy: boolean;
  preAuth: boolean;
  authFailure: boolean;
  authenticated: boolean;
  /** Refused as an older agent: the reject has protocol 1's shape. */
  legacy: boolean;
}

/** What the protocol document says the master does with these frames. */
function expected(frames: (string | Buffer)[]): Expected {
  let authenticated = false;
  for (const [i, f] of frames.entries()) {
    const later = frames.slice(i + 1);
    const racy = later.some((x) => Buffer.byteLength(x) > MAX_FRAME_BYTES);
    const offend = (code: 1008 | 1009, authFailure = false, legacy = false): Expected => ({
      close: true,
      code,
      racy,
      preAuth: !authenticated,
      authFailure,
      authenticated,
      legacy,
    });
    if (Buffer.byteLength(f) > MAX_FRAME_BYTES) return offend(1009);
    if (typeof f !== 'string') return offend(1008);
    const parsed = oracle(AgentToMaster, f);
    const m = parsed.ok ? (parsed.value as Message) : null;
    if (!authenticated) {
      if (olderHello(f)) return offend(1008, false, true);
      // Agents of protocol 2 are welcomed still (they cannot transfer files); newer ones are refused.
      const p = m?.protocol;
      if (!m || m.type !== 'hello' || typeof p !== 'number' || p < MIN_PROTOCOL_VERSION || p > PROTOCOL_VERSION) return offend(1008);
      if (m.name !== 'a1' || m.token !== TOKEN) return offend(1008, true);
      authenticated = true;
    } else if (!m || m.type !== 'pong') return offend(1008); // no runs exist: output/exit/error/ack are for unknown runs
  }
  return { close: false, code: null, racy: false, preAuth: false, authFailure: false, authenticated, legacy: false };
}

interface Seen {
  code: number | null;
  reason: string;
  messages: string[];
  openAfterWelcome: boolean;
}

/** Sends the frames on a fresh agent socket; waits for the master to close it, or (expectOpen) for a welcome. */
function exchange(port: number, frames: (string | Buffer)[], expectOpen: boolean, waitMs = 5000): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/agents`);
    const seen: Seen = { code: null, reason: '', messages: [], openAfterWelcome: false };
    let welcomed = false;
    let closingOurselves = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(
        new Error(
          `${expectOpen ? 'no welcome' : 'socket not closed by the master'} within ${waitMs} ms; got ${JSON.stringify(seen.messages)}`,
        ),
      );
    }, waitMs);
    ws.on('open', () => frames.forEach((f) => ws.send(f)));
    ws.on('message', (d) => {
      seen.messages.push(d.toString());
      if (expectOpen && !welcomed && d.toString().includes('"welcome"')) {
        welcomed = true;
        // Frames sent before the welcome are being handled by now; give the master a moment to object.
        setTimeout(() => {
          if (ws.readyState !== ws.OPEN) return;
          seen.openAfterWelcome = true;
          closingOurselves = true;
          ws.close(1000, 'done');
        }, 150);
      }
    });
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      if (!closingOurselves) [seen.code, seen.reason] = [code, reason.toString()];
      resolve(seen);
    });
    ws.on('error', () => {}); // the close event reports what happened
  });
}

describe('a live master under random agent frames (SQLite)', () => {
  const sqlite = testDatabases().find((d) => d.kind === 'sqlite');
  let master: RunningMaster;
  let agent: AgentProcess | undefined;
  const agentGone = () => waitFor('a1 to be disconnected', () => !internalsOf(master).registry.isConnected('a1'), 5000);

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: TOKEN }],
        builders: [
          {
            name: 'b',
            agents: ['a1'],
            factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: ['echo', 'after the fuzz'] })),
          },
        ],
      },
      await (sqlite as NonNullable<typeof sqlite>).create(),
      `protocol-fuzz-${process.pid}`,
    );
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('closes every offending connection and answers only with valid frames', async () => {
    // The master refuses an address for a minute after 20 failed authentications; the real agent
    // at the end comes from the same address, so the run stays well below that.
    const MAX_AUTH_FAILURES = 10;
    let authFailures = 0;
    let framesSent = 0;
    let closed = 0;
    let kept = 0;
    let legacy = 0;
    await fc.assert(
      fc.asyncProperty(scriptArb, async (script) => {
        const frames = script.map(materialize);
        const want = expected(frames);
        fc.pre(!want.authFailure || authFailures < MAX_AUTH_FAILURES);
        if (want.authFailure) authFailures++;
        framesSent += frames.length;
        const seen = await exchange(master.port, frames, !want.close);
        for (const m of seen.messages) {
          if (want.legacy) expect(V1Reject.safeParse(JSON.parse(m)).success, m).toBe(true);
          else expect(parseMasterMessage(m).ok, m).toBe(true);
        }
        if (want.legacy) legacy++;
        if (want.close) {
          closed++;
          if (want.racy) expect([1008, 1009]).toContain(seen.code);
          else expect(seen.code).toBe(want.code);
          if (seen.code === 1008) expect(seen.reason.length).toBeGreaterThan(0);
          if (want.preAuth && want.code === 1008) expect(seen.messages.map((m) => (JSON.parse(m) as Message).type)).toEqual(['reject']);
        } else {
          kept++;
          expect(
            { openAfterWelcome: seen.openAfterWelcome, code: seen.code, reason: seen.reason },
            'a connection that broke no rule was closed',
          ).toEqual({ openAfterWelcome: true, code: null, reason: '' });
        }
        if (want.authenticated) await agentGone();
      }),
      // Shrinking re-runs live connections: stop at the first counterexample instead.
      { seed: SEED, numRuns: 55, endOnFailure: true },
    );
    // The run must have done what it claims: ~200 frames, most connections refused, some kept.
    expect(framesSent).toBeGreaterThan(150);
    expect(closed).toBeGreaterThan(20);
    expect(kept).toBeGreaterThan(2);
    expect(legacy).toBeGreaterThan(0);
  });

  it('accepts one of several simultaneous hellos of the same agent and refuses the others', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(goodHelloArb, { minLength: 2, maxLength: 6 }), async (hellos) => {
        const sockets = hellos.map((h) => {
          const ws = new WebSocket(`ws://127.0.0.1:${master.port}/agents`);
          const got: string[] = [];
          ws.on('open', () => ws.send(JSON.stringify(h)));
          ws.on('message', (d) => got.push((JSON.parse(d.toString()) as Message).type));
          ws.on('error', () => {});
          return { ws, got };
        });
        await waitFor('every hello answered', () => sockets.every((s) => s.got.length > 0), 5000);
        expect(sockets.filter((s) => s.got.includes('welcome'))).toHaveLength(1);
        expect(sockets.filter((s) => s.got.includes('reject'))).toHaveLength(hellos.length - 1);
        for (const s of sockets) s.ws.close();
        await agentGone();
      }),
      { seed: SEED, numRuns: 5, endOnFailure: true },
    );
  });

  it('is still up afterwards: the API answers, nothing is left connected, and a real agent builds', async () => {
    const builders = await api(master).get('/builders');
    expect(builders.status).toBe(200);
    expect(internalsOf(master).registry.isConnected('a1')).toBe(false);
    const rows = (await internalsOf(master).db.source.query(`SELECT connected_to_masterid FROM agents WHERE name = 'a1'`)) as {
      connected_to_masterid: number | null;
    }[];
    expect(rows.map((r) => r.connected_to_masterid)).toEqual([null]);
    agent = await startAgent(master, 'a1', TOKEN);
    const { build } = await forceAndWait(master, 'b');
    expect(build.result).toBe('success');
  });
});

// ---------------------------------------------------------------------------------------------
// Once a bug: a long multibyte close reason killed the master
// ---------------------------------------------------------------------------------------------

describe('a master process under frames whose refusal reason is long and multibyte', () => {
  /** A real `caliper start` process, so that its death is observed rather than suffered by the test runner. */
  async function startMasterProcess(): Promise<{ child: ChildProcess; port: number; dir: string; output(): string }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-protofuzz-'));
    const index = pathToFileURL(path.join(ROOT, 'index.ts')).href;
    // .mts: outside the package, a .ts file would load as CommonJS.
    const config = path.join(dir, 'master.config.mts');
    fs.writeFileSync(
      config,
      `import { BuildFactory, ShellCommand } from ${JSON.stringify(index)};
export default { agents: [{ name: 'a1', token: ${JSON.stringify(TOKEN)} }], builders: [{ name: 'b', factory: new BuildFactory([new ShellCommand({ name: 's', command: 'true' })]) }] };
`,
    );
    const child = spawn(
      process.execPath,
      [CLI, 'start', '--config', config, '--port', '0', '--db', `sqlite:${path.join(dir, 'db.sqlite')}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const port = await waitFor('master process to start', () => {
      if (child.exitCode !== null) throw new Error(`master process exited at start: ${out}`);
      return Number(/at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]) || undefined;
    });
    return { child, port, dir, output: () => out };
  }

  const wide = (min: number, max: number) => fc.string({ unit: fc.constantFrom('é', 'ß', '日', 'ж'), minLength: min, maxLength: max });
  const deadlyArb: fc.Arbitrary<{ frames: string[]; why: string }> = fc.oneof(
    // before authentication: zod names the unknown key in its message
    wide(64, 90).map((key) => ({ frames: [JSON.stringify({ type: 'pong', [key]: 1 })], why: 'unknown multibyte key before hello' })),
    // after authentication: the reason names the unknown run
    wide(52, 64).map((run) => ({
      frames: [JSON.stringify(helloFor()), JSON.stringify({ type: 'exit', run, seq: 0, code: 0, signal: null, durationMs: 1 })],
      why: 'exit for an unknown multibyte run id',
    })),
  );

  // Multibyte text in a close reason once crashed the master (reasons were cut by characters, not bytes).
  it('keeps running after refusing them', async () => {
    await fc.assert(
      fc.asyncProperty(deadlyArb, async ({ frames }) => {
        const m = await startMasterProcess();
        try {
          await exchange(m.port, frames, false).catch(() => null);
          await new Promise((r) => setTimeout(r, 300));
          expect(m.child.exitCode, `master process exited: ${m.output().slice(-600)}`).toBeNull();
          const res = await fetch(`http://127.0.0.1:${m.port}/api/v2/builders`);
          expect(res.status).toBe(200);
        } finally {
          if (m.child.exitCode === null && m.child.signalCode === null) {
            const exited = new Promise((r) => m.child.once('exit', r));
            m.child.kill('SIGTERM');
            await exited;
          }
          fs.rmSync(m.dir, { recursive: true, force: true });
        }
      }),
      { seed: SEED, numRuns: 3, endOnFailure: true },
    );
  });
});
