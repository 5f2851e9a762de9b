/**
 * What the build runner needs from an agent, whatever carries it: in production the agent's handle
 * (agent-handle.ts, which routes each command to the agent's current WebSocket session), in unit
 * tests an in-memory fake (test/helpers/fake-agent.ts). See README.md here for the glossary.
 */
export interface CommandSpec {
  argv?: string[];
  shell?: string;
  workdir: string;
  env: Record<string, string>;
  timeout: number | null;
  /** Seconds between SIGTERM and SIGKILL when the command is killed (sent only when set). */
  sigtermTime?: number;
  maxTime: number | null;
}

export interface CommandSink {
  /** Called in order; the returned promise resolves once the bytes are stored. */
  output(stream: 'stdout' | 'stderr', data: Buffer): Promise<void>;
}

export interface CommandExit {
  code: number | null;
  signal: string | null;
  killed: 'timeout' | 'maxTime' | 'cancel' | null;
  durationMs: number;
  /** The agent went away before the command ended. */
  lost: boolean;
  /** The agent could not run the command at all (e.g. program not found). */
  error: string | null;
}

export interface RunningCommand {
  readonly done: Promise<CommandExit>;
  cancel(): void;
}

export interface AgentConnection {
  readonly name: string;
  start(spec: CommandSpec, sink: CommandSink): RunningCommand;
}
