/**
 * The orphan guard's helper, run as the agent runs it (/bin/sh on orphan-guard.sh, detached): real
 * process groups are registered on its stdin and die when stdin closes, whatever signals reached the
 * helper before. test/faults/agent-faults.test.ts covers the whole path with a SIGKILLed agent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { OrphanGuard, spawnOrphanGuard } from '../../agent/orphan-guard.ts';
import { alive } from '../helpers/processes.ts';

/** A field of /proc/PID/status. */
function status(pid: number, field: string): string {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return line?.split(/\s+/)[1] ?? '';
}

/** Whether the process ignores all of `signals` (SigIgn in /proc/PID/status). */
function ignores(pid: number, signals: number[]): boolean {
  const mask = BigInt(`0x${status(pid, 'SigIgn') || '0'}`);
  return signals.every((s) => (mask >> BigInt(s - 1)) & 1n);
}

async function until(what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const started: ChildProcess[] = [];

/** A command as the agent runs one: a shell leading a group of its own, with a child in the background. */
async function commandGroup(): Promise<{ pgid: number; pids: number[] }> {
  const shell = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  started.push(shell);
  const background = await new Promise<number>((resolve) => shell.stdout.once('data', (d: Buffer) => resolve(Number(d.toString()))));
  const pgid = shell.pid ?? 0;
  expect(pgid).toBeGreaterThan(1);
  return { pgid, pids: [pgid, background] };
}

function startHelper(): ChildProcess {
  const helper = spawnOrphanGuard();
  started.push(helper);
  return helper;
}

afterEach(() => {
  for (const child of started.splice(0)) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

describe('orphan guard helper', () => {
  it('is deaf to SIGINT, SIGTERM and SIGHUP and SIGKILLs the groups still listed when its stdin closes', async () => {
    const helper = startHelper();
    const pid = helper.pid ?? 0;
    await until('the helper to ignore the terminal signals', () => ignores(pid, [1, 2, 15]));
    const watched = await commandGroup();
    const forgotten = await commandGroup();
    helper.stdin?.write(`+${watched.pgid}\n+${forgotten.pgid}\n`);
    helper.stdin?.write(`-${forgotten.pgid}\nnot a line\n+1\n+0\n`);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.kill(pid, signal);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(true);
    expect([...watched.pids, ...forgotten.pids].every(alive)).toBe(true);

    const exited = new Promise<number | null>((resolve) => helper.once('exit', (code) => resolve(code)));
    helper.stdin?.end();
    expect(await exited).toBe(0);
    await until('the watched group to die', () => !watched.pids.some(alive));
    expect(forgotten.pids.every(alive)).toBe(true);
  });

  it('is small: no second node beside the agent', async () => {
    const helper = startHelper();
    const pid = helper.pid ?? 0;
    await until('the helper to be ready', () => ignores(pid, [1, 2, 15]));
    // A shell holds about 1 MB (mostly libc pages it shares); a node helper held 40 MB.
    expect(Number(status(pid, 'VmRSS'))).toBeLessThan(8 * 1024);
    expect(fs.readlinkSync(`/proc/${pid}/exe`)).not.toBe(fs.realpathSync(process.execPath));
  });

  it('dies with its groups when the agent stops it (OrphanGuard.stop)', async () => {
    const logged: string[] = [];
    const guard = new OrphanGuard((line) => logged.push(line));
    guard.start();
    const group = await commandGroup();
    guard.watch(group.pgid);
    await new Promise((r) => setTimeout(r, 100));
    expect(group.pids.every(alive)).toBe(true);
    guard.stop();
    await until('the watched group to die', () => !group.pids.some(alive));
    expect(logged).toEqual([]);
  });
});
