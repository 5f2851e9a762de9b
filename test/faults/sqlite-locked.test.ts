/**
 * SQLite busy under a running build: another process holds the database's write lock (BEGIN
 * IMMEDIATE on a second better-sqlite3 connection) for longer than the master's busy_timeout (5 s),
 * while a build's output is being stored and while its steps follow each other. The build must go on:
 * SUCCESS, every log byte-exact, the output held unacknowledged meanwhile.
 *
 * The lock is held by a child process, not by this one: the master runs in the test process and
 * better-sqlite3 waits out a busy database synchronously, so a lock held here could not be let go
 * while the master waits for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { ROOT, api, startAgent, startTestMaster, stepLog, waitFor, waitForRequest, type AgentProcess } from '../helpers/harness.ts';
import { internalsOf } from '../../master/testing.ts';

/** Past the master's busy_timeout (5 s, master/db/data-source.ts): a write waits it out and fails SQLITE_BUSY. */
const LOCK_MS = 8000;
const LINES = 80;
const STEPS = 30;
const TALK = `for i in $(seq 1 ${LINES}); do echo "line $i of ${LINES}"; sleep 0.1; done; printf 'no newline at the end'`;
const talkOutput = () =>
  Buffer.from(Array.from({ length: LINES }, (_, i) => `line ${i + 1} of ${LINES}\n`).join('') + 'no newline at the end');

/** A process holding `file`'s write lock for `ms`; resolves once it holds it. */
async function holdWriteLock(file: string, ms: number): Promise<{ child: ChildProcess; released: Promise<void> }> {
  const script = `
    const db = require('better-sqlite3')(process.env.LOCK_FILE);
    db.pragma('busy_timeout = 20000');
    db.exec('BEGIN IMMEDIATE');
    console.log('locked');
    setTimeout(() => { db.exec('COMMIT'); db.close(); console.log('released'); }, Number(process.env.LOCK_MS));
  `;
  const child = spawn(process.execPath, ['-e', script], {
    cwd: ROOT,
    env: { ...process.env, LOCK_FILE: file, LOCK_MS: String(ms) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const released = new Promise<void>((resolve, reject) =>
    child.once('exit', (code) => (code === 0 && out.includes('released') ? resolve() : reject(new Error(`lock holder: ${code} ${out}`)))),
  );
  released.catch(() => {}); // awaited by the caller
  await waitFor(`the lock holder to lock (output: ${out})`, () => out.includes('locked') || child.exitCode !== null, 20_000);
  if (!out.includes('locked')) throw new Error(`the lock holder did not lock: ${out}`);
  return { child, released };
}

describe('SQLite locked by another connection during a build', () => {
  let master: RunningMaster;
  let agent: AgentProcess;
  let file: string;
  const holders: ChildProcess[] = [];

  beforeAll(async () => {
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-sqlite-locked-')), 'caliper.sqlite');
    master = await startTestMaster(
      {
        agents: [{ name: 'locked', token: 'sqlite-locked-token-1' }],
        builders: [
          { name: 'talk', factory: new BuildFactory().addStep(new ShellCommand({ name: 'talk', command: TALK })) },
          {
            name: 'stepwise',
            factory: Array.from({ length: STEPS }, (_, i) => i + 1).reduce(
              (f, i) => f.addStep(new ShellCommand({ name: `step-${i}`, command: `echo "step ${i} of ${STEPS}"` })),
              new BuildFactory(),
            ),
          },
        ],
      },
      `sqlite:${file}`,
    );
    agent = await startAgent(master, 'locked', 'sqlite-locked-token-1');
  });

  afterAll(async () => {
    for (const h of holders) h.kill('SIGKILL');
    await agent?.kill();
    await master?.stop();
  });

  /** Forces `builder`; once `storedLines` lines are stored, locks the database for LOCK_MS; waits for the end. */
  async function buildThroughLock(builder: string, storedLines: number) {
    const client = api(master);
    let lines = 0;
    const off = master.events.subscribe('log.appended', (e) => {
      lines += e.data.toString().split('\n').length - 1;
    });
    try {
      const forced = await client.post(`/builders/${builder}/force`, {});
      expect(forced.status).toBe(202);
      await waitFor(`${storedLines} lines stored`, () => lines >= storedLines, 20_000);
      const lock = await holdWriteLock(file, LOCK_MS);
      holders.push(lock.child);
      await lock.released;
      const done = await waitForRequest(master, forced.body.buildrequestid, 60_000);
      expect(done.build).toMatchObject({ result: 'success', complete: true });
      expect(internalsOf(master).running.size).toBe(0);
      return done;
    } finally {
      off();
    }
  }

  it(`holds the output through a ${LOCK_MS / 1000} s lock: SUCCESS, the log byte-exact`, async () => {
    const { steps } = await buildThroughLock('talk', 5);
    expect(steps.map((s: { name: string; result: string }) => [s.name, s.result])).toEqual([['talk', 'success']]);
    const log = await stepLog(master, steps[0].stepid);
    expect(log.length).toBe(talkOutput().length);
    expect(log.equals(talkOutput())).toBe(true);
  }, 90_000);

  it(`rides the writes between steps through a ${LOCK_MS / 1000} s lock: every step SUCCESS, every log exact`, async () => {
    const { steps } = await buildThroughLock('stepwise', 3);
    expect(steps.map((s: { name: string; result: string }) => [s.name, s.result])).toEqual(
      Array.from({ length: STEPS }, (_, i) => [`step-${i + 1}`, 'success']),
    );
    for (const [i, step] of steps.entries()) expect((await stepLog(master, step.stepid)).toString()).toBe(`step ${i + 1} of ${STEPS}\n`);
  }, 90_000);
});
