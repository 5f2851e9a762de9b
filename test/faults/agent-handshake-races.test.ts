/**
 * What arrives while the master records an agent's hello, done for real over raw WebSockets (issue
 * 17, defects 2 and 3). On PostgreSQL a second connection holds `LOCK TABLE agents` during the
 * hellos, so a master that waited for the agent's row before attaching its connection would be
 * caught in that gap every time; on SQLite the same hellos come as fast as the socket allows.
 * - One connection per agent name: simultaneous hellos get one welcome and `already_connected`.
 * - An agent that comes back announcing its run and hangs up right after its hello leaves the run
 *   waiting as any disconnect does, and a stop still ends the build CANCELLED at once; when the
 *   agent is back, the master does not resume the cancelled run (so the agent kills it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { WebSocket } from 'ws';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { internalsOf } from '../../master/testing.ts';
import { PROTOCOL_VERSION, parseMasterMessage, type MasterMessage } from '../../protocol/messages.ts';
import { testDatabases, type TestDatabase } from '../helpers/databases.ts';
import { api, startTestMaster, waitFor } from '../helpers/harness.ts';

const TOKEN = 'handshake-races-token';
const CANCELLED = 6;

const hello = (over: Record<string, unknown> = {}): string =>
  JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, name: 'a1', token: TOKEN, version: 't', os: 't', capacity: 4, ...over });

/** A raw agent socket: sends `frame` once open (and closes right after, when told to); keeps what the master sends. */
function rawAgent(port: number, frame: string, options: { hangUpAfterHello?: boolean } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/agents`);
  const frames: MasterMessage[] = [];
  let closed = false;
  ws.on('open', () => {
    ws.send(frame);
    if (options.hangUpAfterHello) ws.close(1000, 'gone again');
  });
  ws.on('message', (d) => {
    const parsed = parseMasterMessage(String(d));
    if (!parsed.ok) throw new Error(`the master sent an invalid frame: ${parsed.error}`);
    frames.push(parsed.message);
  });
  ws.on('close', () => (closed = true));
  ws.on('error', () => {});
  return {
    ws,
    frames,
    send: (m: Record<string, unknown>) => ws.send(JSON.stringify(m)),
    closed: () => waitFor('the socket to close', () => closed, 10_000),
    first: () => waitFor('an answer to the hello', () => frames[0], 10_000),
  };
}
type RawAgent = ReturnType<typeof rawAgent>;

/**
 * A command whose log is created when it runs, not stored with its step's start: it waits for its
 * step's rows (a plain ShellCommand's command is sent while they are being written).
 */
class CommandAfterItsRows extends ShellCommand {
  override firstLog(): undefined {
    return undefined;
  }
}

/** Holds a table locked on PostgreSQL (from a connection of its own) until released; nothing on SQLite. */
async function holdTable(db: TestDatabase, url: string, table: 'steps') {
  if (db.kind !== 'postgres') return { release: () => Promise.resolve() };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${table} IN EXCLUSIVE MODE`);
  return {
    release: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

/**
 * Holds `LOCK TABLE agents` on PostgreSQL (from a connection of its own) until released: the
 * master's write of the agent row waits meanwhile. On SQLite nothing is held.
 */
async function holdAgentsTable(db: TestDatabase, url: string) {
  if (db.kind !== 'postgres') return { waiters: () => Promise.resolve(0), release: () => Promise.resolve() };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE agents IN ACCESS EXCLUSIVE MODE');
  return {
    /** Queries of the master waiting for the lock. */
    waiters: async () =>
      Number((await client.query(`SELECT count(*) AS n FROM pg_locks WHERE relation = 'agents'::regclass AND NOT granted`)).rows[0].n),
    release: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

/** The build once it is complete (within 15 s). */
function buildEnded(c: ReturnType<typeof api>, buildid: number) {
  return waitFor(
    'the build to end',
    async () => {
      const b = (await c.get(`/builds/${buildid}`)).body.builds[0];
      return b.complete ? b : null;
    },
    15_000,
  );
}

describe.each(testDatabases())('agent handshake races on $kind', (db) => {
  let master: RunningMaster | null = null;
  const sockets: RawAgent[] = [];
  let release: (() => Promise<void>) | null = null;

  afterEach(async () => {
    await release?.();
    release = null;
    for (const s of sockets.splice(0)) s.ws.terminate();
    await master?.stop();
    master = null;
  });

  async function start(graceMs = 600_000) {
    const url = await db.create();
    master = await startTestMaster(
      {
        // A grace period far beyond the test: a run left waiting for the agent would wait "forever".
        protocol: { heartbeatMs: 10_000, graceMs },
        agents: [{ name: 'a1', token: TOKEN }],
        builders: [
          {
            name: 'long',
            agents: ['a1'],
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'first', command: 'sleep 600' }))
              .addStep(new CommandAfterItsRows({ name: 'second', command: 'sleep 600' })),
          },
        ],
      },
      url,
    );
    return { master, url };
  }

  const agent = (port: number, frame: string, options?: { hangUpAfterHello?: boolean }) => {
    const s = rawAgent(port, frame, options);
    sockets.push(s);
    return s;
  };

  /** A master, a raw agent it welcomed, and a forced build whose first command the agent received. */
  async function buildOnRawAgent() {
    const started = await start();
    const c = api(started.master);
    const raw = agent(started.master.port, hello());
    expect((await raw.first()).type).toBe('welcome');
    const forced = await c.post('/builders/long/force', {});
    const runFrame = await waitFor('a run frame', () => raw.frames.find((f) => f.type === 'run'));
    if (runFrame.type !== 'run') throw new Error('unreachable');
    return { m: started.master, url: started.url, c, raw, forced, runFrame };
  }

  it('five simultaneous hellos of one name: exactly one welcome, four already_connected', async () => {
    const { master: m, url } = await start();
    const lock = await holdAgentsTable(db, url);
    release = lock.release;
    const five = Array.from({ length: 5 }, () => agent(m.port, hello()));
    // Every hello has either been answered, or is held in the write of the agent row (PostgreSQL).
    await waitFor(
      'five answers, or five hellos held by the lock',
      async () => five.every((s) => s.frames.length > 0) || (await lock.waiters()) >= 5,
    );
    await lock.release();
    release = null;
    const answers = await Promise.all(five.map((s) => s.first()));
    const welcomes = answers.filter((a) => a.type === 'welcome');
    const rejects = answers.flatMap((a) => (a.type === 'reject' ? [a.code] : []));
    expect({ welcomes: welcomes.length, rejects }).toEqual({ welcomes: 1, rejects: Array(4).fill('already_connected') });
    expect(internalsOf(m).registry.isConnected('a1')).toBe(true);
    // The one welcomed connection is the one the master keeps: closing it frees the name.
    const winner = five[answers.findIndex((a) => a.type === 'welcome')];
    winner?.ws.close();
    await waitFor('the agent to be disconnected', () => !internalsOf(m).registry.isConnected('a1'));
    await waitFor('the agent row to say disconnected', async () =>
      (await internalsOf(m).repos.agents.list()).every((a) => a.connected_to_masterid === null),
    );
  });

  it('an agent that comes back announcing its run and hangs up after its hello: stop ends the build CANCELLED', async () => {
    const { master: m, url } = await start();
    const c = api(m);
    const handle = () => internalsOf(m).registry.get('a1')?.handle;
    // A raw agent takes the build's first command, then drops.
    const first = agent(m.port, hello());
    expect((await first.first()).type).toBe('welcome');
    const forced = await c.post('/builders/long/force', {});
    expect(forced.status).toBe(202);
    const runFrame = await waitFor('a run frame', () => first.frames.find((f) => f.type === 'run'));
    if (runFrame.type !== 'run') throw new Error('unreachable');
    first.ws.terminate();
    await waitFor('the handle to hold the run for the agent', () => handle()?.mode === 'detached');
    const build = (await c.get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0];

    // It comes back three times announcing the run, each time hanging up right after its hello.
    const lock = await holdAgentsTable(db, url);
    release = lock.release;
    for (let i = 0; i < 3; i++)
      await agent(m.port, hello({ running: [{ run: runFrame.run, nextSeq: 0 }] }), { hangUpAfterHello: true }).closed();
    await lock.release();
    release = null;
    await waitFor('the handle to hold the run again', () => handle()?.mode === 'detached');

    const stop = await c.post(`/builds/${build.buildid}/stop`, { reason: 'enough' });
    expect(stop.status).toBe(202);
    const ended = await buildEnded(c, build.buildid);
    expect({ results: ended.results, state: ended.state_string }).toEqual({ results: CANCELLED, state: 'cancelled: enough' });

    // Back once more with the run: the master does not resume it, so the agent kills it.
    const back = agent(m.port, hello({ running: [{ run: runFrame.run, nextSeq: 0 }] }));
    expect(await back.first()).toMatchObject({ type: 'welcome', resume: [] });
    // Its report of the killed run is no protocol error: the connection stays.
    back.send({ type: 'exit', run: runFrame.run, seq: 0, code: null, signal: 'SIGTERM', durationMs: 5, killed: 'cancel' });
    // Frames from the agent are handled in order: a protocol error would have closed it before the next build's command.
    expect((await c.post('/builders/long/force', {})).status).toBe(202);
    await waitFor('the next build on the same connection', () => back.frames.some((f) => f.type === 'run'));
    expect(internalsOf(m).registry.isConnected('a1')).toBe(true);
    back.ws.close();
    await back.closed();
    await waitFor('the agent row to say disconnected', async () =>
      (await internalsOf(m).repos.agents.list()).every((a) => a.connected_to_masterid === null),
    );
  });

  it('a stop whose cancel the agent never acts on, before its connection drops, ends the build CANCELLED at once', async () => {
    const { m, c, raw, forced, runFrame } = await buildOnRawAgent();
    const build = (await c.get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0];
    expect((await c.post(`/builds/${build.buildid}/stop`, { reason: 'enough' })).status).toBe(202);
    await waitFor('the cancel', () => raw.frames.some((f) => f.type === 'cancel' && f.run === runFrame.run));
    raw.ws.terminate(); // as if the cancel had been lost with the connection
    const ended = await buildEnded(c, build.buildid);
    expect(ended.results).toBe(CANCELLED);
    const back = agent(m.port, hello({ running: [{ run: runFrame.run, nextSeq: 0 }] }));
    expect(await back.first()).toMatchObject({ type: 'welcome', resume: [] });
  });

  it('a stop while the next step waits for an agent that went away ends the build CANCELLED at once', async () => {
    const { c, raw, forced, runFrame } = await buildOnRawAgent();
    // The first command ends, and the agent is gone before (or just after) the second is sent.
    raw.send({ type: 'exit', run: runFrame.run, seq: 0, code: 0, signal: null, durationMs: 5, killed: null });
    await waitFor('the exit acked', () => raw.frames.some((f) => f.type === 'ack' && f.run === runFrame.run));
    raw.ws.terminate();
    const build = await waitFor('the second step to start', async () => {
      const b = (await c.get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0];
      const steps = (await c.get(`/builds/${b.buildid}/steps`)).body.steps as { name: string }[];
      return steps.some((s) => s.name === 'second') ? b : null;
    });
    expect((await c.post(`/builds/${build.buildid}/stop`, { reason: 'enough' })).status).toBe(202);
    const ended = await buildEnded(c, build.buildid);
    expect(ended.results).toBe(CANCELLED);
  });
  // Found by the soak (bench/soak.ts): an agent killed as a step starts and back within the grace
  // period. The command waiting for it was sent the moment its session attached, before the
  // welcome; the agent, still handshaking, dropped it, and the build ran "forever".
  // PostgreSQL only: there a held table makes the order of events certain; on SQLite it is a race.
  it.skipIf(db.kind !== 'postgres')('a command that waited for the agent is sent after its welcome, and the build goes on', async () => {
    const { m, url, c, raw, forced, runFrame: first } = await buildOnRawAgent();
    // The first command ends and the agent dies at once. On PostgreSQL the steps table is held
    // meanwhile, so the master surely sees the agent gone before it starts the second command (which
    // waits for its step's rows, see CommandAfterItsRows), which then waits for the agent to come back.
    const held = await holdTable(db, url, 'steps');
    raw.send({ type: 'exit', run: first.run, seq: 0, code: 0, signal: null, durationMs: 5, killed: null });
    raw.ws.terminate();
    await waitFor('the master to see the agent gone', () => !internalsOf(m).registry.isConnected('a1'));
    await held.release();
    await waitFor('the second step to wait for the agent', async () => {
      const b = (await c.get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0];
      const steps = (await c.get(`/builds/${b.buildid}/steps`)).body.steps as { name: string }[];
      return steps.some((st) => st.name === 'second');
    });
    const back = agent(m.port, hello());
    const second = await waitFor('the second run frame', () => back.frames.find((f) => f.type === 'run'));
    expect(back.frames[0]?.type).toBe('welcome');
    if (second.type !== 'run') throw new Error('unreachable');
    back.send({ type: 'exit', run: second.run, seq: 0, code: 0, signal: null, durationMs: 5, killed: null });
    const ended = await waitFor(
      'the build to end',
      async () => {
        const b = (await c.get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0];
        return b.complete ? b : null;
      },
      15_000,
    );
    expect(ended.results).toBe(0);
  });
});
