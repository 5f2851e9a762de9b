/**
 * The spawn helper (agent/spawn-helper.ts and spawn-helper.pl), run as the agent runs it: real perl,
 * real commands. What a command sees (argv, cwd, environment, process group, signals), what comes
 * back (bytes exact, exit code or signal, CPU), start failures with Node's errno codes, flow
 * control, several commands at once, the helper's linger, and the orphan guard it is.
 * test/faults/agent-faults.test.ts covers a SIGKILLed agent end to end.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LaunchSpec, ProcessEvents, ReapedCpu } from '../../agent/process-launcher.ts';
import { SPAWN_HELPER_SCRIPT, SpawnHelper, findPerl } from '../../agent/spawn-helper.ts';
import { Agent } from '../../agent/agent.ts';
import { ROOT, waitFor } from '../helpers/harness.ts';
import { alive } from '../helpers/processes.ts';

const perl = findPerl();
let tmp = '';
const helpers: SpawnHelper[] = [];
const logged: string[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spawn-helper-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  for (const h of helpers.splice(0)) h.stop();
  expect(logged.splice(0)).toEqual([]);
});

function helper(lingerMs = 60_000, baseEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, BASE: 'from the agent' }): SpawnHelper {
  if (!perl) throw new Error('perl is not on PATH (Debian: perl-base)');
  const h = new SpawnHelper(perl, baseEnv, (line) => logged.push(line), lingerMs);
  helpers.push(h);
  return h;
}

interface Ran {
  pid: number | null;
  stdout: Buffer;
  stderr: Buffer;
  cpu: ReapedCpu | null;
  code: number | null;
  signal: NodeJS.Signals | null;
  failed: NodeJS.ErrnoException | null;
  /** Event names in the order they came (output once). */
  order: string[];
}

/** Launches and collects everything until closed (or failed). `onStart` may pause, signal, etc. */
function run(h: SpawnHelper, spec: Partial<LaunchSpec> & { file: string }, onStart?: (pid: number) => void) {
  const ran: Ran = {
    pid: null,
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    cpu: null,
    code: null,
    signal: null,
    failed: null,
    order: [],
  };
  const outs: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  let launched: ReturnType<SpawnHelper['launch']> | null = null;
  const done = new Promise<Ran>((resolve) => {
    const events: ProcessEvents = {
      started: (pid) => {
        ran.pid = pid;
        ran.order.push('started');
        onStart?.(pid);
      },
      output: (stream, data) => {
        // Views of the helper's reads: copied, as the runner's frames copy them.
        outs[stream].push(Buffer.from(data));
        if (ran.order.at(-1) !== 'output') ran.order.push('output');
      },
      exited: (cpu) => {
        ran.cpu = cpu;
        ran.order.push('exited');
      },
      closed: (code, signal) => {
        Object.assign(ran, { code, signal, stdout: Buffer.concat(outs.stdout), stderr: Buffer.concat(outs.stderr) });
        ran.order.push('closed');
        resolve(ran);
      },
      failed: (e) => {
        ran.failed = e;
        ran.order.push('failed');
        resolve(ran);
      },
    };
    launched = h.launch({ args: [], cwd: tmp, env: {}, ...spec }, events);
  });
  return { done, control: () => launched as unknown as ReturnType<SpawnHelper['launch']> };
}

describe.skipIf(!perl)('spawn helper', () => {
  it('runs argv as given, in cwd, with the base environment under the command’s own, in a process group of its own', async () => {
    const h = helper();
    const dir = fs.mkdtempSync(path.join(tmp, 'cwd '));
    const script =
      'printf "%s|" "$@"; echo; pwd; echo "$BASE/$STEP/$EMPTY."; ps -o pgid= -p $$ | tr -d " "; echo $$; echo oops >&2; exit 3';
    const args = ['-c', script, 'sh', 'two words', '', 'quote \' and "', 'new\nline', 'ünïcödé'];
    const ran = await run(h, { file: 'sh', args, cwd: dir, env: { STEP: 'from the step', EMPTY: '' } }).done;
    expect(ran.failed).toBeNull();
    const out = ran.stdout.toString();
    const [groupId, ownPid] = out.trim().split('\n').slice(-2).map(Number);
    expect(ownPid).toBe(ran.pid);
    expect(groupId).toBe(ran.pid);
    expect(out).toBe(`two words||quote ' and "|new\nline|ünïcödé|\n${dir}\nfrom the agent/from the step/.\n${groupId}\n${ownPid}\n`);
    expect(ran.stderr.toString()).toBe('oops\n');
    expect(ran.code).toBe(3);
    expect(ran.signal).toBeNull();
    // Started first, closed last; the exit may come before the last output is read (as with Node's spawn).
    expect(ran.order[0]).toBe('started');
    expect(ran.order.at(-1)).toBe('closed');
    expect(ran.order.filter((e) => e === 'exited')).toHaveLength(1);
    expect(ran.order).toContain('output');
  });

  it('holds only the base environment itself (never the agent token the agent process has)', async () => {
    const h = helper();
    const ran = await run(h, { file: 'sh', args: ['-c', 'tr "\\0" "\\n" < /proc/$PPID/environ | sort'] }).done;
    expect(ran.stdout.toString()).toBe(`BASE=from the agent\nPATH=${process.env.PATH}\n`);
  });

  it('gives the command default signal handling (the helper ignores the terminal’s) and stdin from /dev/null', async () => {
    const h = helper();
    const ran = await run(h, { file: 'grep', args: ['-E', '^Sig(Ign|Blk)', '/proc/self/status'] }).done;
    expect(ran.stdout.toString()).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
    const stdin = await run(h, { file: 'sh', args: ['-c', 'cat; readlink /proc/self/fd/0; echo end'] }).done;
    expect(stdin.stdout.toString()).toBe('/dev/null\nend\n');
    const killed = await run(h, { file: 'sleep', args: ['30'] }, (pid) => process.kill(-pid, 'SIGTERM')).done;
    expect(killed.code).toBeNull();
    expect(killed.signal).toBe('SIGTERM');
  });

  it('brings every byte back exactly, a few MiB of binary on both streams', async () => {
    const h = helper();
    const blob = path.join(tmp, 'blob');
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 11)) & 255;
    fs.writeFileSync(blob, bytes);
    const ran = await run(h, { file: 'sh', args: ['-c', `cat "${blob}"; cat "${blob}" >&2`] }).done;
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(ran.stdout.length).toBe(bytes.length);
    expect(sha(ran.stdout)).toBe(sha(bytes));
    expect(sha(ran.stderr)).toBe(sha(bytes));
  });

  it('reports a start that fails with Node’s errno codes, and goes on running others', async () => {
    const h = helper();
    const missing = await run(h, { file: 'no-such-program-here' }).done;
    expect(missing.failed?.code).toBe('ENOENT');
    expect(missing.failed?.message).toContain('no-such-program-here');
    expect(missing.order).toEqual(['failed']);
    const notExecutable = path.join(tmp, 'plain.txt');
    fs.writeFileSync(notExecutable, 'x');
    expect((await run(h, { file: notExecutable }).done).failed?.code).toBe('EACCES');
    const noDir = await run(h, { file: 'true', cwd: path.join(tmp, 'gone') }).done;
    expect(noDir.failed?.code).toBe('ENOENT');
    expect(noDir.failed?.message).toContain('chdir');
    expect((await run(h, { file: 'true' }).done).code).toBe(0);
  });

  it('reports the CPU of the command and everything it waited for', async () => {
    const h = helper();
    const burn = 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done';
    const ran = await run(h, { file: 'sh', args: ['-c', `sh -c '${burn}'`] }).done;
    expect(ran.code).toBe(0);
    expect(ran.cpu).not.toBeNull();
    expect((ran.cpu?.userSeconds ?? 0) + (ran.cpu?.systemSeconds ?? 0)).toBeGreaterThan(0.05);
    const idle = await run(h, { file: 'sleep', args: ['0.2'] }).done;
    expect((idle.cpu?.userSeconds ?? 1) + (idle.cpu?.systemSeconds ?? 1)).toBeLessThan(0.05);
  });

  it('pauses one command’s output while others go on, and resumes it', async () => {
    const h = helper();
    const big = run(h, { file: 'sh', args: ['-c', 'head -c 4000000 /dev/zero'] }, () => big.control().pause());
    // While it is paused, another command runs to its end.
    const other = await run(h, { file: 'echo', args: ['other'] }).done;
    expect(other.stdout.toString()).toBe('other\n');
    await new Promise((r) => setTimeout(r, 300));
    let settled = false;
    void big.done.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    big.control().resume();
    const ran = await big.done;
    expect(ran.stdout.length).toBe(4_000_000);
    expect(ran.code).toBe(0);
  });

  it('runs many commands at once, each with its own output', async () => {
    const h = helper();
    const runs = Array.from({ length: 12 }, (_, i) => run(h, { file: 'sh', args: ['-c', `sleep 0.0${i % 5}; seq ${i * 1000}`] }).done);
    const all = await Promise.all(runs);
    all.forEach((ran, i) => {
      expect(ran.code).toBe(0);
      expect(ran.stdout.toString()).toBe(i === 0 ? '' : `${Array.from({ length: i * 1000 }, (_, k) => k + 1).join('\n')}\n`);
    });
  });

  it('ends once idle for its linger time, and starts again with the next command', async () => {
    const h = helper(150);
    expect(h.helperRunning).toBe(false);
    expect((await run(h, { file: 'true' }).done).code).toBe(0);
    expect(h.helperRunning).toBe(true);
    await waitFor('the helper to end', () => !h.helperRunning, 5000);
    expect((await run(h, { file: 'echo', args: ['again'] }).done).stdout.toString()).toBe('again\n');
  });

  it('is not needed: without perl on PATH the agent says so and forks its commands itself', () => {
    const lines: string[] = [];
    const path0 = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      new Agent({ master: 'ws://127.0.0.1:1/agents', name: 'no-perl', token: 'no-perl-token', basedir: tmp, log: (l) => lines.push(l) });
      new Agent({
        master: 'ws://127.0.0.1:1/agents',
        name: 'asked',
        token: 'no-perl-token',
        basedir: tmp,
        log: (l) => lines.push(l),
        spawn: 'node',
      });
    } finally {
      process.env.PATH = path0;
    }
    expect(lines).toEqual(['no perl on PATH: commands are forked by the agent itself (slower per step; see --spawn)']);
  });

  it('tells a command’s end in one write: its exit and its done wake the agent once', async () => {
    // The helper's own protocol (spawn-helper.pl): every read of its stdout noted, 20 short commands
    // one after another. Written apart, the two replies would come in two reads nearly every time.
    const child = spawn(perl as string, [SPAWN_HELPER_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
    const hex = (s: string) => `x${Buffer.from(s).toString('hex')}`;
    const reads: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const ended = new Map<number, () => void>();
    child.stdout.on('data', (d: Buffer) => {
      reads.push(d);
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 9 && pending.length >= 9 + pending.readUInt32BE(5)) {
        const [type, id] = [String.fromCharCode(pending[0] as number), pending.readUInt32BE(1)];
        pending = pending.subarray(9 + pending.readUInt32BE(5));
        if (type === 'D') ended.get(id)?.();
      }
    });
    child.stdin.write(`B 1 ${hex(`PATH=${process.env.PATH ?? ''}`)}\n`);
    try {
      for (let id = 1; id <= 20; id++) {
        const done = new Promise<void>((resolve) => ended.set(id, resolve));
        child.stdin.write(`R ${id} ${hex(tmp)} 1 ${hex('true')} 0\n`);
        await done;
      }
    } finally {
      child.stdin.end();
    }
    const header = (type: string, id: number) => Buffer.concat([Buffer.from(type), Buffer.from([0, 0, 0, id])]);
    for (let id = 1; id <= 20; id++) {
      const exit = reads.find((r) => r.includes(header('X', id)));
      expect(exit?.includes(header('D', id)), `the read with command ${id}'s exit also holds its done`).toBe(true);
    }
  });

  it('starts a command after another itself (A), and never after a failure, a kill, a withdraw or an unknown command', async () => {
    // The helper's own protocol (spawn-helper.pl): each request line written as it is, replies noted by id.
    const child = spawn(perl as string, [SPAWN_HELPER_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
    const hex = (s: string) => `x${Buffer.from(s).toString('hex')}`;
    const replies = new Map<number, string[]>();
    const waiters: { id: number; type: string; resolve: () => void }[] = [];
    let pending = Buffer.alloc(0);
    child.stdout.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 9 && pending.length >= 9 + pending.readUInt32BE(5)) {
        const [type, id, len] = [String.fromCharCode(pending[0] as number), pending.readUInt32BE(1), pending.readUInt32BE(5)];
        const data = pending.subarray(9, 9 + len).toString();
        pending = pending.subarray(9 + len);
        replies.set(id, [...(replies.get(id) ?? []), type === 'X' ? `X ${data.split(' ').slice(0, 2).join(' ')}` : type]);
        for (const w of waiters.filter((x) => x.id === id && x.type === type)) w.resolve();
      }
    });
    const ended = (id: number, type: 'D' | 'N') => new Promise<void>((resolve) => waiters.push({ id, type, resolve }));
    const sh = (id: number, script: string, after?: number) =>
      `${after === undefined ? `R ${id}` : `A ${id} ${after}`} ${hex(tmp)} 3 ${hex('/bin/sh')} ${hex('-c')} ${hex(script)} 0\n`;
    const marker = (name: string) => path.join(tmp, `after-${name}`);
    child.stdin.write(`B 1 ${hex(`PATH=${process.env.PATH ?? ''}`)}\n`);
    try {
      // Exit 0: the next starts, and the one after it.
      child.stdin.write(sh(1, 'true') + sh(2, `touch ${marker('2')}`, 1) + sh(3, `touch ${marker('3')}`, 2));
      await ended(3, 'D');
      expect([replies.get(1), replies.get(2), replies.get(3)]).toEqual([
        ['S', 'X 0 -1', 'D'],
        ['S', 'X 0 -1', 'D'],
        ['S', 'X 0 -1', 'D'],
      ]);
      expect([fs.existsSync(marker('2')), fs.existsSync(marker('3'))]).toEqual([true, true]);
      // A failure: neither the next nor the one after it starts.
      child.stdin.write(sh(4, 'exit 3') + sh(5, `touch ${marker('5')}`, 4) + sh(6, `touch ${marker('6')}`, 5));
      await ended(6, 'N');
      expect([replies.get(4), replies.get(5), replies.get(6)]).toEqual([['S', 'X 3 -1', 'D'], ['N'], ['N']]);
      // A kill (K) of a command that exits 0 on SIGTERM: what waits for it never starts.
      child.stdin.write(sh(7, `trap 'exit 0' TERM; echo ready; sleep 30 & wait`) + sh(8, `touch ${marker('8')}`, 7));
      await waitFor('command 7 ready', () => replies.get(7)?.includes('O'), 10_000);
      child.stdin.write('K 7 15\n');
      await ended(8, 'N');
      expect(replies.get(7)).toEqual(['S', 'O', 'X 0 -1', 'D']);
      // A kill written before the end is heard stops what waits, however the command ended.
      child.stdin.write(sh(9, 'true') + sh(10, `touch ${marker('10')}`, 9) + 'K 9 15\n');
      await ended(10, 'N');
      // A withdraw (W) while waiting; a command after one the helper does not know.
      child.stdin.write(sh(11, 'sleep 0.2') + sh(12, `touch ${marker('12')}`, 11) + 'W 12\n' + sh(13, `touch ${marker('13')}`, 999));
      await Promise.all([ended(11, 'D'), ended(12, 'N'), ended(13, 'N')]);
      expect(replies.get(11)).toEqual(['S', 'X 0 -1', 'D']);
      // After one that ended well before it was asked for: at once.
      child.stdin.write(sh(14, `touch ${marker('14')}`, 1));
      await ended(14, 'D');
      for (const n of [5, 6, 8, 10, 12, 13]) expect(fs.existsSync(marker(String(n))), `command ${n} ran`).toBe(false);
      expect(fs.existsSync(marker('14'))).toBe(true);
    } finally {
      child.stdin.end();
    }
  });

  it('is the orphan guard: when the agent dies, the commands it started die with it', async () => {
    // A separate node holds the helper, starts a command group with a background child, and is SIGKILLed.
    const holder = path.join(tmp, 'holder.ts');
    fs.writeFileSync(
      holder,
      `import { SpawnHelper, findPerl } from ${JSON.stringify(path.join(ROOT, 'agent', 'spawn-helper.ts'))};
const h = new SpawnHelper(findPerl()!, process.env, () => {});
h.launch({ file: 'sh', args: ['-c', 'sleep 60 & echo $$ $!; wait'], cwd: ${JSON.stringify(tmp)}, env: {} }, {
  started() {}, output: (_s, d) => process.stdout.write(d), exited() {}, closed() {}, failed: (e) => console.error(e),
});
setInterval(() => {}, 1000);
`,
    );
    const node = spawn(process.execPath, ['--import', 'tsx', holder], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => node.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    const pids = line.trim().split(' ').map(Number);
    expect(pids).toHaveLength(2);
    expect(pids.every(alive)).toBe(true);
    node.kill('SIGKILL');
    await waitFor('the command group to die with its agent', () => !pids.some(alive), 5000);
  });
});
