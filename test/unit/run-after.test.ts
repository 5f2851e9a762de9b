/**
 * A run sent `after` another (protocol 5): the agent's command runner, with real processes, starts
 * it only once the run before exits 0 and was not killed; otherwise, or when the run before is
 * unknown, or when it is cancelled while it waits, it never starts and its exit says `skipped`.
 * The same with each launcher: Node's spawn (the runner waits itself) and the spawn helper (which
 * starts the command itself the moment the one before is done: launchAfter).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandRunner, agentEnv } from '../../agent/command-runner.ts';
import type { ProcessLauncher } from '../../agent/process-launcher.ts';
import { SpawnHelper, findPerl } from '../../agent/spawn-helper.ts';
import { MasterToAgent, type AgentMessage, type RunMessage } from '../../protocol/messages.ts';

const basedir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-run-after-'));
afterAll(() => fs.rmSync(basedir, { recursive: true, force: true }));

type Exit = Extract<AgentMessage, { type: 'exit' }>;

interface Started {
  runner: CommandRunner;
  output: () => string;
  exit: Promise<Exit>;
}

let counter = 0;
/** The launcher of the suite being run: undefined, the runner's default (Node's spawn). */
let launcher: ProcessLauncher | undefined;
function runner(shell: string): Started {
  const msg: RunMessage = { type: 'run', run: `r${++counter}`, shell, workdir: 'w', env: {}, timeout: null, maxTime: null };
  let output = '';
  let told!: (exit: Exit) => void;
  const exit = new Promise<Exit>((resolve) => (told = resolve));
  const started = new CommandRunner(msg, {
    basedir,
    windowBytes: 1 << 20,
    killGraceMs: 10_000,
    send: (m) => {
      if (m.type === 'output') output += Buffer.from(m.data, 'base64').toString();
      if (m.type === 'exit') told(m);
    },
    onDone: () => {},
    ...(launcher ? { launcher } : {}),
  });
  return { runner: started, output: () => output, exit };
}

let suite = '';
const marker = (name: string) => path.join(basedir, `${suite}-${name}`);

const perl = findPerl();
const launchers: { name: string; make: () => ProcessLauncher | undefined }[] = [
  { name: 'node', make: () => undefined },
  ...(perl ? [{ name: 'helper', make: () => new SpawnHelper(perl, agentEnv(), (line) => console.error(line)) }] : []),
];

describe.each(launchers)('a run after another, launched by $name', ({ name, make }) => {
  beforeAll(() => {
    suite = name;
    launcher = make();
  });
  afterAll(() => launcher?.stop());

  it('is part of protocol 5: `after` names a run, and an exit may say `skipped`', () => {
    const base = { type: 'run', run: 'r2', shell: 'true', workdir: 'w', timeout: null, maxTime: null };
    expect(MasterToAgent.parse({ ...base, after: 'r1' })).toMatchObject({ after: 'r1' });
    expect(MasterToAgent.safeParse({ ...base, after: '' }).success).toBe(false);
  });

  it('starts when the run before exits 0, and runs as any other', async () => {
    const before = runner('echo one');
    const next = runner('echo two');
    before.runner.start();
    next.runner.startAfter(before.runner);
    const [first, second] = await Promise.all([before.exit, next.exit]);
    expect(first).toMatchObject({ code: 0, killed: null });
    expect(first.skipped).toBeUndefined();
    expect(second).toMatchObject({ code: 0, killed: null, seq: 1 });
    expect(second.skipped).toBeUndefined();
    expect(before.output()).toBe('one\n');
    expect(next.output()).toBe('two\n');
  });

  it('starts at once after a run that has exited 0 already', async () => {
    const before = runner('true');
    before.runner.start();
    await before.exit;
    const next = runner('echo late');
    next.runner.startAfter(before.runner);
    expect(await next.exit).toMatchObject({ code: 0 });
    expect(next.output()).toBe('late\n');
  });

  it('is skipped, never started, when the run before exits otherwise; so are the runs after it', async () => {
    const before = runner('exit 3');
    const next = runner(`touch ${marker('after-failure')}`);
    const third = runner(`touch ${marker('after-skipped')}`);
    before.runner.start();
    next.runner.startAfter(before.runner);
    third.runner.startAfter(next.runner);
    expect(await before.exit).toMatchObject({ code: 3 });
    expect(await next.exit).toMatchObject({ code: null, signal: null, killed: null, skipped: true, seq: 0, durationMs: 0 });
    expect(await third.exit).toMatchObject({ skipped: true });
    expect(fs.existsSync(marker('after-failure'))).toBe(false);
    expect(fs.existsSync(marker('after-skipped'))).toBe(false);
  });

  it('is skipped after a run that was killed, even one that exits 0 on SIGTERM', async () => {
    const before = runner(`trap 'exit 0' TERM; echo ready; sleep 60 & wait`);
    const next = runner(`touch ${marker('after-cancel')}`);
    before.runner.start();
    next.runner.startAfter(before.runner);
    while (!before.output().includes('ready')) await new Promise((r) => setTimeout(r, 10));
    before.runner.cancel();
    expect(await before.exit).toMatchObject({ code: 0, killed: 'cancel' });
    expect(await next.exit).toMatchObject({ skipped: true });
    expect(fs.existsSync(marker('after-cancel'))).toBe(false);
  }, 20_000);

  it('is skipped when cancelled while it waits, and stays so when the run before then exits 0', async () => {
    const before = runner('sleep 0.3');
    const next = runner(`touch ${marker('cancelled-waiting')}`);
    before.runner.start();
    next.runner.startAfter(before.runner);
    next.runner.cancel();
    expect(await next.exit).toMatchObject({ killed: 'cancel', skipped: true });
    expect(await before.exit).toMatchObject({ code: 0 });
    await new Promise((r) => setTimeout(r, 100));
    expect(fs.existsSync(marker('cancelled-waiting'))).toBe(false);
  });

  it('is started by the spawn helper itself, with no turn of the agent in between (Node’s spawn needs one)', async () => {
    const before = runner('true');
    const next = runner(`touch ${marker('without-a-turn')}`);
    before.runner.start();
    next.runner.startAfter(before.runner);
    // The agent's event loop held for a second: only a launcher that starts `next` itself can meanwhile.
    const until = Date.now() + 1000;
    while (Date.now() < until);
    expect(fs.existsSync(marker('without-a-turn'))).toBe(name === 'helper');
    expect(await before.exit).toMatchObject({ code: 0 });
    expect(await next.exit).toMatchObject({ code: 0 });
    expect(fs.existsSync(marker('without-a-turn'))).toBe(true);
  });

  it('is skipped when the run before is not known', async () => {
    const next = runner(`touch ${marker('unknown-before')}`);
    next.runner.startAfter(null);
    expect(await next.exit).toMatchObject({ skipped: true });
    expect(fs.existsSync(marker('unknown-before'))).toBe(false);
  });
});
