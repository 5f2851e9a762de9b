/**
 * The state machines of a build and its agents move only along their documented transitions: the
 * right ones work, a wrong one is refused with InvalidStateError (or, where an event handler makes
 * the call, said in the log) and leaves the state as it was. Builds run on the in-memory bench
 * (test/helpers/build-fixture.ts); sessions on a real loopback WebSocket, without agent processes.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { WebSocket, WebSocketServer } from 'ws';
import { openBuildBench, type BuildBench } from '../helpers/build-fixture.ts';
import { FakeAgentConnection, stdout } from '../helpers/fake-agent.ts';
import { deferred, eventually } from './helpers.ts';
import { InvalidStateError } from '../../core/errors/invalid-state-error.ts';
import { Results } from '../../core/results.ts';
import type { Logger } from '../../core/logger.ts';
import { silentLogger } from '../../core/logger.ts';
import { commonStepShape, Step, type CommonStepOptions, type StepOutcome } from '../../steps/step.ts';
import type { LogHandle, StepContext } from '../../steps/step-context.ts';
import { ShellCommand } from '../../steps/shell-command.ts';
import { StepRuntime } from '../../master/build/step-runtime.ts';
import type { Build, BuildState } from '../../master/build/build-runner.ts';
import type { CommandExit, CommandSink, CommandSpec, RunningCommand } from '../../master/agents/agent-connection.ts';
import { AgentSession, type Run } from '../../master/agents/agent-session.ts';
import { AgentHandle } from '../../master/agents/agent-handle.ts';
import { PROTOCOL_VERSION, parseMasterMessage, type MasterMessage } from '../../protocol/messages.ts';

const SPEC: CommandSpec = { argv: ['make'], workdir: 'b/build', env: {}, timeout: null, maxTime: null };
const EXIT_0 = { code: 0, signal: null, killed: null, durationMs: 1, lost: false, error: null };

interface ActOptions extends CommonStepOptions {
  act: (ctx: StepContext) => Promise<void> | void;
}

/** A step that hands its context to the test: what it sees, what it may do, and when. */
class Act extends Step<ActOptions> {
  readonly schema: z.ZodType = z.strictObject({ ...commonStepShape, act: z.custom((v) => typeof v === 'function') });

  async run(ctx: StepContext): Promise<StepOutcome> {
    await this.options.act(ctx);
    return { result: Results.SUCCESS };
  }
}

const act = (name: string, fn: ActOptions['act'], more: Partial<CommonStepOptions> = {}) => new Act({ name, act: fn, ...more });

/** Expects `p` to be refused as a wrong transition, and returns the error. */
async function refused(p: Promise<unknown>): Promise<InvalidStateError> {
  const e: unknown = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (!(e instanceof InvalidStateError)) throw new Error(`expected an InvalidStateError, got ${String(e)}`);
  return e;
}

function refusedSync(fn: () => unknown): InvalidStateError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidStateError) return e;
    throw e;
  }
  throw new Error('expected an InvalidStateError, nothing was thrown');
}

let bench: BuildBench;
beforeAll(async () => {
  bench = await openBuildBench();
});
afterAll(async () => {
  await bench.close();
});

describe('Build: created -> running (-> stopping) -> finished', () => {
  it('goes created -> running -> finished, and says where it is', async () => {
    const seen: BuildState[] = [];
    let build: Build | null = null;
    const f = await bench.fixture({ steps: [act('look', () => void seen.push(build?.state ?? 'created'))] });
    build = f.build;
    expect(build.state).toBe('created');
    expect(build.row).toBeNull();
    const row = await f.run();
    expect(seen).toEqual(['running']);
    expect(build.state).toBe('finished');
    expect(build.row).toMatchObject({ id: row.id, results: Results.SUCCESS });
  });

  it('refuses a second run() while the first runs, and the first goes on unharmed', async () => {
    const gate = deferred();
    const f = await bench.fixture({ steps: [act('wait', () => gate.promise)] });
    const first = f.run();
    await eventually('the step to start', () => f.events.some((e) => e.startsWith('step.started')));
    const e = await refused(f.build.run());
    expect(e).toMatchObject({ code: 'INVALID_STATE', state: 'running', action: 'run again' });
    gate.resolve();
    expect(await first).toMatchObject({ results: Results.SUCCESS });
    expect(f.events.filter((x) => x.startsWith('build.started'))).toHaveLength(1);
  });

  it('refuses run() once finished: nothing new is stored', async () => {
    const f = await bench.fixture({ steps: [new ShellCommand({ name: 'compile', command: 'make' })] });
    await f.run();
    const e = await refused(f.build.run());
    expect(e.message).toBe('Build: cannot run again while finished');
    expect(f.events.filter((x) => x.startsWith('build.'))).toHaveLength(2); // started and finished, once
  });

  it('stop() while running: -> stopping -> finished CANCELLED; a second stop and one after the end do nothing', async () => {
    const seen: BuildState[] = [];
    let build: Build | null = null;
    const f = await bench.fixture({
      steps: [
        act('stop-here', () => {
          build?.stop('by the test');
          seen.push(build?.state ?? 'created');
          build?.stop('a second time');
        }),
        act('skipped', () => void seen.push('running')),
        act('cleanup', () => void seen.push(build?.state ?? 'created'), { alwaysRun: true }),
      ],
    });
    build = f.build;
    const row = await f.run();
    expect(seen).toEqual(['stopping', 'stopping']);
    expect(row).toMatchObject({ results: Results.CANCELLED, state_string: 'cancelled: by the test' });
    expect(build.state).toBe('finished');
    build.stop('after the end');
    expect(build.state).toBe('finished');
  });

  it('stop() before run(): run() goes straight to stopping, only alwaysRun steps run', async () => {
    const seen: string[] = [];
    let build: Build | null = null;
    const f = await bench.fixture({
      steps: [act('work', () => void seen.push('work')), act('cleanup', () => void seen.push(build?.state ?? '?'), { alwaysRun: true })],
    });
    build = f.build;
    build.stop('stopped early');
    expect(build.state).toBe('created');
    expect(await f.run()).toMatchObject({ results: Results.CANCELLED, state_string: 'cancelled: stopped early' });
    expect(seen).toEqual(['stopping']);
  });
});

/** An agent whose one command ends, and emits output, only when the test says. */
class HeldAgent extends FakeAgentConnection {
  sink: CommandSink | null = null;
  readonly commandStarted = deferred();
  private readonly exit = deferred<CommandExit>();

  override start(_spec: CommandSpec, sink: CommandSink): RunningCommand {
    this.sink = sink;
    this.commandStarted.resolve();
    return { done: this.exit.promise, cancel: () => {} };
  }

  end(): void {
    this.exit.resolve(EXIT_0);
  }
}

describe('StepRuntime: running -> finishing -> finished', () => {
  it('refuses everything that writes once the step is over; reads still work', async () => {
    const kept: { ctx?: StepContext; log?: LogHandle } = {};
    const f = await bench.fixture({
      steps: [
        act('keep', async (ctx) => {
          kept.ctx = ctx;
          kept.log = await ctx.addLog('notes');
          await kept.log.append('while running\n');
        }),
      ],
    });
    await f.run();
    const { ctx, log: handle } = kept;
    if (!(ctx instanceof StepRuntime) || !handle) throw new Error('the step did not run');
    expect(ctx.state).toBe('finished');
    const actions: [string, () => Promise<unknown>][] = [
      ['start a command', () => ctx.runCommand({ command: 'make', workdir: 'build', env: {}, timeout: null, maxTime: null })],
      ['add log "more"', () => ctx.addLog('more')],
      ['add log "notes"', () => ctx.addLog('notes')],
      ['write to log "notes"', () => handle.append('too late\n')],
      ['finish log "notes"', () => handle.finish()],
      ['set the state string', () => ctx.setStateString('too late')],
      ['capture "size"', () => ctx.captureData('size', 1)],
      ['trigger "later"', () => ctx.trigger('later', {})],
      ['finish its logs', () => ctx.finishLogs()],
    ];
    for (const [action, call] of actions) {
      const e = await refused(call());
      expect(e, action).toMatchObject({ state: 'finished', action });
      expect(e.message).toBe(`step "keep" of ${f.builder.name} #1: cannot ${action} while finished`);
    }
    expect(ctx.properties.get('buildername')).toBe(f.builder.name);
    expect((await f.log('keep', 'notes')).bytes.toString()).toBe('while running\n');
    expect((await f.steps()).map((s) => s.name)).toEqual(['keep']);
  });

  it('a command the step left running: its late output is refused, and so is the command when it ends', async () => {
    const agent = new HeldAgent();
    const left: { command?: Promise<unknown> } = {};
    const f = await bench.fixture({
      agent,
      steps: [
        act('leave', async (ctx) => {
          left.command = ctx.runCommand({ command: 'make', workdir: 'build', env: {}, timeout: null, maxTime: null });
          left.command.catch(() => {}); // awaited below
          await agent.commandStarted.promise;
          await agent.sink?.output('stdout', Buffer.from('in time\n'));
        }),
      ],
    });
    expect(await f.run()).toMatchObject({ results: Results.SUCCESS });
    const sink = agent.sink;
    if (!sink || !left.command) throw new Error('the command did not start');
    const e = await refused(sink.output('stdout', Buffer.from('late\n')));
    expect(e.action).toBe('write to log "stdio"');
    agent.end();
    await refused(left.command);
    expect((await f.log('leave', 'stdio')).bytes.toString()).toBe('in time\n');
  });

  it('runs as before while running: commands, logs, state string', async () => {
    const agent = new FakeAgentConnection().on('make', { output: [stdout('built\n')] });
    let state = '';
    const f = await bench.fixture({
      agent,
      steps: [
        act('work', async (ctx) => {
          if (ctx instanceof StepRuntime) state = ctx.state;
          await ctx.setStateString('working');
          const r = await ctx.runCommand({ command: 'make', workdir: 'build', env: {}, timeout: null, maxTime: null });
          expect(r.exitCode).toBe(0);
        }),
      ],
    });
    expect(await f.run()).toMatchObject({ results: Results.SUCCESS });
    expect(state).toBe('running');
    expect((await f.log('work', 'stdio')).bytes.toString()).toBe('built\n');
    expect((await f.log('work', 'stdio')).row.complete).toBe(true);
  });
});

// Sessions and handles on a real loopback socket: the agent's end is a bare WebSocket.
let wss: WebSocketServer;
let url: string;
let sockets: WebSocket[] = [];

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
});
afterEach(() => {
  for (const ws of sockets) ws.terminate();
  sockets = [];
});
afterAll(async () => {
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

interface Connected {
  session: AgentSession;
  /** The agent's end. */
  agent: WebSocket;
  received: MasterMessage[];
}

async function connect(log: Logger = silentLogger): Promise<Connected> {
  const serverSide = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const agent = new WebSocket(url);
  const received: MasterMessage[] = [];
  agent.on('message', (data) => {
    const parsed = parseMasterMessage(String(data));
    if (parsed.ok && parsed.message.type !== 'welcome') received.push(parsed.message);
  });
  await once(agent, 'open');
  const ws = await serverSide;
  sockets.push(agent, ws);
  const session = new AgentSession('a1', ws, log, 60_000, 3);
  session.welcome({ type: 'welcome', protocol: PROTOCOL_VERSION, heartbeatMs: 60_000, graceMs: 60_000, resume: [] });
  return { session, agent, received };
}

async function closed(c: Connected): Promise<void> {
  c.agent.close();
  await eventually('the session to close', () => !c.session.isOpen);
}

async function runId(c: Connected): Promise<string> {
  const m = await eventually('a run frame', () => c.received.find((x) => x.type === 'run'));
  if (m.type !== 'run') throw new Error('unreachable');
  return m.run;
}

const sink = (): CommandSink => ({ output: () => Promise.resolve() });

/** The runs a session hands over when it closes (held, not lost, as a handle holds them). */
async function orphansOf(c: Connected): Promise<Run[]> {
  const handed = deferred<Run[]>();
  c.session.onClosed((orphans) => handed.resolve(orphans));
  await closed(c);
  return handed.promise;
}

describe('AgentSession: open -> closed; Run: started -> exited | lost', () => {
  it('a closed session adopts no runs and takes no close listener', async () => {
    const c = await connect();
    c.session.start(SPEC, sink());
    const [run] = await orphansOf(c);
    expect(c.session.state).toBe('closed');
    expect(refusedSync(() => c.session.adopt(run ? [run] : []))).toMatchObject({ state: 'closed', action: 'adopt runs' });
    expect(refusedSync(() => c.session.onClosed(() => {}))).toMatchObject({ action: 'take a close listener' });
  });

  it('a run is lost once: losing it again, moving it or failing its storage twice is refused', async () => {
    const c = await connect();
    const cmd = c.session.start(SPEC, sink());
    const [run] = await orphansOf(c);
    if (!run) throw new Error('no run handed over');
    expect(run.state).toBe('started');
    run.failStore('disk full');
    expect(refusedSync(() => run.failStore('disk full again'))).toMatchObject({ action: 'fail storing output again' });
    run.lose();
    expect(run.state).toBe('lost');
    expect(refusedSync(() => run.lose())).toMatchObject({ state: 'lost (storing failed)', action: 'be lost' });
    const next = await connect();
    expect(refusedSync(() => run.moveTo(next.session))).toMatchObject({ action: 'move to another session' });
    expect(refusedSync(() => run.exit(EXIT_0, () => {}))).toMatchObject({ action: 'exit' });
    expect(await cmd.done).toMatchObject({ lost: true });
  });

  it('an exited run is no orphan: a close after its exit hands nothing over', async () => {
    const c = await connect();
    const cmd = c.session.start(SPEC, sink());
    const id = await runId(c);
    c.agent.send(JSON.stringify({ type: 'exit', run: id, seq: 0, code: 0, signal: null, durationMs: 3 }));
    expect(await cmd.done).toMatchObject({ code: 0, lost: false });
    // An exited run is no orphan: the close hands over nothing.
    expect(await orphansOf(c)).toEqual([]);
  });

  it('a close listener that throws is logged, and the listeners after it still hear of the close', async () => {
    const errors: string[] = [];
    const log: Logger = { ...silentLogger, error: (msg, fields) => errors.push(`${msg} ${String(fields?.error)}`) };
    const c = await connect(log);
    const heard: string[] = [];
    c.session.onClosed(() => {
      throw new InvalidStateError('listener', 'confused', 'listen');
    });
    c.session.onClosed(() => heard.push('second'));
    await closed(c);
    expect(heard).toEqual(['second']);
    expect(errors).toEqual(['a close listener of an agent session failed InvalidStateError: listener: cannot listen while confused']);
  });
});

describe('AgentHandle: gone -> connected -> detached -> connected | gone', () => {
  it('runs on the connected session; a reconnect within grace resumes the runs the agent still has', async () => {
    const handle = new AgentHandle('a1', 5_000);
    expect(handle.mode).toBe('gone');
    const first = await connect();
    expect(handle.attach(first.session, [])).toEqual([]);
    expect(handle.mode).toBe('connected');
    const kept = handle.start(SPEC, sink());
    const dropped = handle.start(SPEC, sink());
    await eventually('two run frames', () => first.received.length === 2);
    const [keptId, droppedId] = first.received.map((m) => (m.type === 'run' ? m.run : ''));
    await closed(first);
    expect(handle.mode).toBe('detached');
    expect(handle.connected).toBe(false);

    const second = await connect();
    expect(handle.attach(second.session, [keptId ?? '', 'not-known'])).toEqual([keptId]);
    expect(handle.mode).toBe('connected');
    expect(await dropped.done).toMatchObject({ lost: true });
    second.agent.send(JSON.stringify({ type: 'exit', run: keptId, seq: 0, code: 0, signal: null, durationMs: 3 }));
    expect(await kept.done).toMatchObject({ code: 0, lost: false });
    expect(droppedId).not.toBe(keptId);
  });

  it('refuses a second session while connected, and keeps the first', async () => {
    const handle = new AgentHandle('a1', 5_000);
    const first = await connect();
    handle.attach(first.session, []);
    const second = await connect();
    expect(refusedSync(() => handle.attach(second.session, []))).toMatchObject({
      state: 'connected',
      action: 'attach a second session',
      message: 'handle of agent a1: cannot attach a second session while connected',
    });
    handle.start(SPEC, sink());
    await eventually('the run on the first session', () => first.received.length === 1);
    expect(second.received).toEqual([]);
  });

  it('refuses a session that is already closed: the runs keep waiting for grace', async () => {
    const handle = new AgentHandle('a1', 5_000);
    const first = await connect();
    handle.attach(first.session, []);
    const cmd = handle.start(SPEC, sink());
    const id = await runId(first);
    await closed(first);
    const late = await connect();
    await closed(late);
    expect(refusedSync(() => handle.attach(late.session, [id]))).toMatchObject({
      state: 'detached',
      action: 'attach a session that is already closed',
    });
    expect(handle.mode).toBe('detached');
    handle.close();
    expect(await cmd.done).toMatchObject({ lost: true });
  });

  it('grace over: detached -> gone, the waiting runs and the commands started meanwhile are lost', async () => {
    const handle = new AgentHandle('a1', 30);
    const first = await connect();
    handle.attach(first.session, []);
    const running = handle.start(SPEC, sink());
    await runId(first);
    await closed(first);
    const waiting = handle.start(SPEC, sink());
    expect(await running.done).toMatchObject({ lost: true });
    expect(await waiting.done).toMatchObject({ lost: true });
    expect(handle.mode).toBe('gone');
    expect(await handle.start(SPEC, sink()).done).toMatchObject({ lost: true }); // gone: at once
    handle.close(); // nothing to do when gone
    expect(handle.mode).toBe('gone');
  });

  it('the master closing: detached -> gone at once', async () => {
    const handle = new AgentHandle('a1', 60_000);
    const first = await connect();
    handle.attach(first.session, []);
    const cmd = handle.start(SPEC, sink());
    await runId(first);
    await closed(first);
    handle.close();
    expect(handle.mode).toBe('gone');
    expect(await cmd.done).toMatchObject({ lost: true });
  });
});
