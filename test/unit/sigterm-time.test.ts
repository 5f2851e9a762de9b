/**
 * `sigtermTime` on a run (issue 12, item 5): the agent's command runner, with real processes and
 * signals, sends SIGTERM on a kill and SIGKILL `sigtermTime` seconds later instead of its own grace.
 * The grace here is a minute, so a command that ignores TERM ends within the test only if the
 * run's `sigtermTime` is used.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CommandRunner } from '../../agent/command-runner.ts';
import { MasterToAgent, type AgentMessage, type RunMessage } from '../../protocol/messages.ts';

const basedir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-sigterm-'));
afterAll(() => fs.rmSync(basedir, { recursive: true, force: true }));

interface Finished {
  output: string;
  exit: Extract<AgentMessage, { type: 'exit' }>;
}

/** Runs `shell` as the agent would; `cancel` is called once the command printed `ready`. */
async function run(shell: string, extra: Partial<RunMessage>, killGraceMs = 60_000): Promise<Finished> {
  const msg: RunMessage = { type: 'run', run: `r${Math.random()}`, shell, workdir: 'w', env: {}, timeout: null, maxTime: null, ...extra };
  let output = '';
  let exit: Finished['exit'] | null = null;
  let runner: CommandRunner | null = null;
  runner = new CommandRunner(msg, {
    basedir,
    windowBytes: 1 << 20,
    killGraceMs,
    send: (m) => {
      if (m.type === 'output') {
        output += Buffer.from(m.data, 'base64').toString();
        if (output.includes('ready') && extra.timeout === undefined) runner?.cancel();
      }
      if (m.type === 'exit') exit = m;
    },
    onDone: () => {},
  });
  runner.start();
  await runner.finished;
  if (!exit) throw new Error('no exit reported');
  return { output, exit };
}

describe('sigtermTime', () => {
  it('is an optional field of a run: a protocol 2 run without it still parses', () => {
    const base = { type: 'run', run: 'r1', shell: 'true', workdir: 'w', timeout: null, maxTime: null };
    expect(MasterToAgent.parse(base)).not.toHaveProperty('sigtermTime');
    expect(MasterToAgent.parse({ ...base, sigtermTime: 1 })).toMatchObject({ sigtermTime: 1 });
    expect(MasterToAgent.safeParse({ ...base, sigtermTime: 0 }).success).toBe(false);
  });

  it('SIGKILLs a command that ignores SIGTERM sigtermTime seconds after a cancel', async () => {
    const { output, exit } = await run(`trap '' TERM; echo ready; sleep 60; echo woke`, { sigtermTime: 1 });
    expect(output).toBe('ready\n');
    expect(exit).toMatchObject({ killed: 'cancel', code: null, signal: 'SIGKILL' });
  }, 20_000);

  it('SIGKILLs it after a timeout too', async () => {
    const { output, exit } = await run(`trap '' TERM; echo ready; sleep 60; echo woke`, { sigtermTime: 1, timeout: 1 });
    expect(output).toBe('ready\n');
    expect(exit).toMatchObject({ killed: 'timeout', signal: 'SIGKILL' });
  }, 20_000);

  it('lets a command that handles SIGTERM end on it, before any SIGKILL', async () => {
    const script = `trap 'echo got-term; exit 3' TERM; echo ready; sleep 60 & wait`;
    const { output, exit } = await run(script, { sigtermTime: 30 }, 30_000);
    expect(output).toBe('ready\ngot-term\n');
    expect(exit).toMatchObject({ killed: 'cancel', code: 3, signal: null });
  }, 20_000);
});
