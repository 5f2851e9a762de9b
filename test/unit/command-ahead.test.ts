/**
 * The master's side of commands sent ahead (master/build/command-ahead.ts), against a recording
 * connection: the output a command sends before its step adopts it reaches the step in order; a
 * command rendered otherwise is cancelled, not adopted; one the agent skipped starts again; and the
 * pipeline never sends a step's command after a command other than the one before it.
 */
import { describe, expect, it } from 'vitest';
import type { AgentConnection, CommandExit, CommandSink, CommandSpec, RunningCommand } from '../../master/agents/agent-connection.ts';
import { CommandAhead, CommandPipeline } from '../../master/build/command-ahead.ts';

const spec = (name: string): CommandSpec => ({ argv: ['echo', name], workdir: 'b/build', env: {}, timeout: null, maxTime: null });

const EXIT_0: CommandExit = { code: 0, signal: null, killed: null, durationMs: 1, lost: false, error: null };

interface Sent {
  spec: CommandSpec;
  after: string | null;
  sink: CommandSink;
  cancelled: boolean;
  end(exit: CommandExit): void;
  running: RunningCommand;
}

/** Records every command started, and after which; each ends when the test says so. */
function recordingAgent(): { agent: AgentConnection; sent: Sent[] } {
  const sent: Sent[] = [];
  let ids = 0;
  const make = (s: CommandSpec, sink: CommandSink, after: string | null): RunningCommand => {
    let end!: (exit: CommandExit) => void;
    const done = new Promise<CommandExit>((resolve) => (end = resolve));
    const entry = { spec: s, after, sink, cancelled: false, end } as Sent;
    entry.running = { done, run: `r${++ids}`, cancel: () => void (entry.cancelled = true) };
    sent.push(entry);
    return entry.running;
  };
  const agent: AgentConnection = {
    name: 'a1',
    start: (s, sink) => make(s, sink, null),
    startAfter: (before, s, sink) => make(s, sink, before.run ?? null),
    transfer: () => {
      throw new Error('no transfers here');
    },
  };
  return { agent, sent };
}

const collecting = () => {
  const got: string[] = [];
  const sink: CommandSink = {
    output: async (stream, data) => {
      got.push(`${stream}:${data.toString()}`);
    },
  };
  return { got, sink };
};

describe('commands sent ahead', () => {
  it('holds the output that comes before the step adopts its command, and hands it over in order', async () => {
    const { agent, sent } = recordingAgent();
    const first = agent.start(spec('one'), collecting().sink);
    const ahead = new CommandAhead(1, spec('two'));
    expect(ahead.send(agent, first)).toBe(true);
    expect(sent[1]?.after).toBe(first.run);
    const early = [sent[1]?.sink.output('stdout', Buffer.from('a')), sent[1]?.sink.output('stderr', Buffer.from('b'))];
    const { got, sink } = collecting();
    const adopted = ahead.adopt(spec('two'), sink, () => null);
    expect(adopted?.run).toBe(sent[1]?.running.run);
    await Promise.all(early);
    await sent[1]?.sink.output('stdout', Buffer.from('c'));
    expect(got).toEqual(['stdout:a', 'stderr:b', 'stdout:c']);
    sent[1]?.end(EXIT_0);
    expect(await adopted?.done).toEqual(EXIT_0);
    expect(ahead.adopted).toBe(true);
  });

  it('cancels a command rendered otherwise than the step asks, and drops its output', async () => {
    const { agent, sent } = recordingAgent();
    const ahead = new CommandAhead(1, spec('two'));
    ahead.send(agent, agent.start(spec('one'), collecting().sink));
    const held = sent[1]?.sink.output('stdout', Buffer.from('stale'));
    expect(ahead.adopt(spec('two, rendered later'), collecting().sink, () => null)).toBeNull();
    expect(sent[1]?.cancelled).toBe(true);
    await held; // acked as stored, so the run can end
    expect(ahead.adopted).toBe(false);
  });

  it('starts the command again when the agent skipped it, or lost it before any output', async () => {
    for (const exit of [
      { ...EXIT_0, code: null, skipped: true },
      { ...EXIT_0, code: null, lost: true },
    ]) {
      const { agent, sent } = recordingAgent();
      const ahead = new CommandAhead(1, spec('two'));
      ahead.send(agent, agent.start(spec('one'), collecting().sink));
      const adopted = ahead.adopt(spec('two'), collecting().sink, () => agent.start(spec('two'), collecting().sink));
      sent[1]?.end(exit);
      await new Promise((r) => setImmediate(r));
      expect(sent).toHaveLength(3);
      expect(sent[2]?.after).toBeNull();
      sent[2]?.end(EXIT_0);
      expect(await adopted?.done).toEqual(EXIT_0);
    }
  });

  it('lets a command lost after its output began end lost, as any command', async () => {
    const { agent, sent } = recordingAgent();
    const ahead = new CommandAhead(1, spec('two'));
    ahead.send(agent, agent.start(spec('one'), collecting().sink));
    const adopted = ahead.adopt(spec('two'), collecting().sink, () => agent.start(spec('two'), collecting().sink));
    await sent[1]?.sink.output('stdout', Buffer.from('half'));
    sent[1]?.end({ ...EXIT_0, code: null, lost: true });
    expect(await adopted?.done).toMatchObject({ lost: true });
    expect(sent).toHaveLength(2);
  });

  it('sends each plan after the one before, and none after a drop that left a gap', () => {
    const { agent, sent } = recordingAgent();
    const pipeline = new CommandPipeline();
    const running = agent.start(spec('zero'), collecting().sink);
    pipeline.send([new CommandAhead(1, spec('one')), new CommandAhead(2, spec('two'))], running, 0, agent);
    expect(sent.map((s) => s.after)).toEqual([null, running.run, sent[1]?.running.run]);
    expect(pipeline.lastIndex(0)).toBe(2);
    // Step 1 takes its command; step 2's plan made now would be for index 3, after step 2's command.
    expect(pipeline.take(1)?.index).toBe(1);
    // Everything sent ahead is dropped (say step 1 asked for another command): a plan for 3 would skip 2.
    pipeline.dropAll();
    expect(sent[2]?.cancelled).toBe(true);
    pipeline.send([new CommandAhead(3, spec('three'))], running, 1, agent);
    expect(sent).toHaveLength(3);
    // A step that is not the first queued drops them all.
    pipeline.send([new CommandAhead(2, spec('two again'))], running, 1, agent);
    expect(sent).toHaveLength(4);
    expect(pipeline.take(3)).toBeNull();
    expect(sent[3]?.cancelled).toBe(true);
  });
});
