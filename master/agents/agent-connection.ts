/**
 * What the build runner needs from an agent, whatever carries it: the WebSocket session in
 * production, an in-memory fake in unit tests.
 */
export interface CommandSpec {
  argv?: string[];
  shell?: string;
  workdir: string;
  env: Record<string, string>;
  timeout: number | null;
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
