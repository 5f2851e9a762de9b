/**
 * Flow control on the master's side, whatever the agent does (issue 17, defect 5). A raw agent
 * that ignores acks floods a run's output while a second PostgreSQL connection holds `LOCK TABLE
 * logchunks`, so nothing can be stored: the master must stop reading that connection once its
 * unstored output passes the bound, rather than keep everything the agent sends in memory; once the
 * lock goes, every byte is stored, in order. A real agent's 50 MB of output never meets the bound.
 * Counts, not timings: the session's own count of output received and not stored (and its peak).
 */
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { WebSocket } from 'ws';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { internalsOf } from '../../master/testing.ts';
import { MAX_UNSTORED_BYTES_PER_RUN, UNSTORED_FRAME_COST, type AgentSession } from '../../master/agents/agent-session.ts';
import { MAX_OUTPUT_CHUNK, PROTOCOL_VERSION, parseMasterMessage, type MasterMessage } from '../../protocol/messages.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, stepLog, waitFor, waitForRequest, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'agent-flood-token';
/** 64 MiB in frames of 256 KiB: four times the bound of one run. */
const FRAMES = 256;
/** What a session may read past the bound before reading stops: the rest of what ws had already read (one frame, or part of two). */
const SLACK = 2 * (MAX_OUTPUT_CHUNK + UNSTORED_FRAME_COST);
const SUCCESS = 0;

const frameData = (i: number) => Buffer.alloc(MAX_OUTPUT_CHUNK, i % 251);

function sessionOf(master: RunningMaster, name: string): AgentSession | null {
  return internalsOf(master).registry.get(name)?.handle.session ?? null;
}

describe('an agent that ignores acks, while the log table is locked (PostgreSQL)', () => {
  const postgres = testDatabases().find((d) => d.kind === 'postgres');
  let master: RunningMaster | null = null;
  let raw: WebSocket | null = null;
  let locker: pg.Client | null = null;

  afterEach(async () => {
    await locker?.end();
    locker = null;
    raw?.terminate();
    raw = null;
    await master?.stop();
    master = null;
  });

  it.skipIf(!postgres)('the master stops reading past the bound, then stores every byte once it can', async () => {
    if (!postgres) return;
    const url = await postgres.create();
    master = await startTestMaster(
      {
        agents: [{ name: 'flood', token: TOKEN }],
        builders: [
          { name: 'flood', agents: ['flood'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'out', command: 'true' })) },
        ],
      },
      url,
    );
    const frames: MasterMessage[] = [];
    const ws = new WebSocket(`ws://127.0.0.1:${master.port}/agents`);
    raw = ws;
    ws.on('message', (d) => {
      const parsed = parseMasterMessage(String(d));
      if (parsed.ok) frames.push(parsed.message);
    });
    ws.on('error', () => {});
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, name: 'flood', token: TOKEN, version: 't', os: 't', capacity: 1 }));
    await waitFor('the welcome', () => frames.some((f) => f.type === 'welcome'));
    const session = sessionOf(master, 'flood');
    if (!session) throw new Error('no session for the raw agent');

    const forced = await api(master).post('/builders/flood/force', {});
    const runFrame = await waitFor('a run frame', () => frames.find((f) => f.type === 'run'));
    if (runFrame.type !== 'run') throw new Error('unreachable');

    // Nothing can be stored from now on, until the lock goes.
    locker = new pg.Client({ connectionString: url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE logchunks IN EXCLUSIVE MODE');

    // The flood: every frame at once, acks ignored, then the exit.
    for (let i = 0; i < FRAMES; i++) {
      ws.send(JSON.stringify({ type: 'output', run: runFrame.run, seq: i, stream: 'stdout', data: frameData(i).toString('base64') }));
    }
    ws.send(JSON.stringify({ type: 'exit', run: runFrame.run, seq: FRAMES, code: 0, signal: null, durationMs: 1, killed: null }));

    await waitFor('the master to stop reading (or to pass the bound)', () => {
      const flow = session.flow;
      return flow.paused || flow.unstoredBytes > MAX_UNSTORED_BYTES_PER_RUN + SLACK;
    });
    const held = session.flow;
    expect(held.paused, `reading not paused with ${held.unstoredBytes} bytes unstored`).toBe(true);
    expect(held.unstoredBytes).toBeLessThanOrEqual(MAX_UNSTORED_BYTES_PER_RUN + SLACK);
    // The rest waits on the agent's side: the master does not take it.
    expect(ws.bufferedAmount).toBeGreaterThan(8 * 1024 * 1024);
    expect(frames.filter((f) => f.type === 'ack')).toEqual([]);

    await locker.query('COMMIT');
    const { build, steps } = await waitForRequest(master, forced.body.buildrequestid, 60_000);
    expect(build.results).toBe(SUCCESS);
    const log = await stepLog(master, steps[0].stepid);
    expect(log.length).toBe(FRAMES * MAX_OUTPUT_CHUNK);
    expect(log.equals(Buffer.concat(Array.from({ length: FRAMES }, (_, i) => frameData(i))))).toBe(true);
    const after = session.flow;
    const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
    console.log(
      `flood of ${mib(FRAMES * MAX_OUTPUT_CHUNK)} MiB ignoring acks: ${mib(held.unstoredBytes)} MiB unstored when reading paused, ` +
        `peak ${mib(after.peakUnstoredBytes)} MiB (bound ${mib(MAX_UNSTORED_BYTES_PER_RUN)} MiB per run), paused ${after.pauses}×`,
    );
    expect(after.peakUnstoredBytes).toBeLessThanOrEqual(MAX_UNSTORED_BYTES_PER_RUN + SLACK);
    expect(after.pauses).toBeGreaterThanOrEqual(1);
    expect({ unstored: after.unstoredBytes, paused: after.paused }).toEqual({ unstored: 0, paused: false });
  });
});

describe.each(testDatabases())('a well-behaved agent on $kind', (db) => {
  let master: RunningMaster | null = null;
  let agent: AgentProcess | null = null;

  afterEach(async () => {
    await agent?.kill();
    agent = null;
    await master?.stop();
    master = null;
  });

  it('50 MB of output: never slowed by the bound, stored byte for byte', async () => {
    const LINES = 6_500_000;
    master = await startTestMaster(
      {
        agents: [{ name: 'big', token: TOKEN }],
        builders: [
          {
            name: 'big',
            agents: ['big'],
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'seq', command: ['seq', '1', String(LINES)] })),
          },
        ],
      },
      await db.create(),
    );
    agent = await startAgent(master, 'big', TOKEN);
    const session = sessionOf(master, 'big');
    if (!session) throw new Error('no session for the agent');
    const forced = await api(master).post('/builders/big/force', {});
    const { build, steps } = await waitForRequest(master, forced.body.buildrequestid, 120_000);
    expect(build.results).toBe(SUCCESS);
    const expected = execFileSync('seq', ['1', String(LINES)], { maxBuffer: 128 * 1024 * 1024 });
    expect(expected.length).toBeGreaterThan(50_000_000);
    const log = await stepLog(master, steps[0].stepid);
    expect(log.length).toBe(expected.length);
    expect(log.equals(expected)).toBe(true);
    expect(session.flow.pauses).toBe(0);
    expect(session.flow.peakUnstoredBytes).toBeLessThanOrEqual(MAX_UNSTORED_BYTES_PER_RUN);
  }, 180_000);
});
