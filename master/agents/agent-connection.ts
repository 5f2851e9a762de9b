/**
 * What the build runner needs from an agent, whatever carries it: in production the agent's handle
 * (agent-handle.ts, which routes each command to the agent's current WebSocket session), in unit
 * tests an in-memory fake (test/helpers/fake-agent.ts). See README.md here for the glossary.
 */
import type { CommandResources } from '../../protocol/messages.ts';

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

/** An upload (protocol 3): the agent sends the file (or the directory, as a tar) at `root/path`. */
export interface UploadSpec {
  kind: 'upload';
  /** The builder's directory, relative to the agent's base directory: the path can never leave it. */
  root: string;
  /** Relative to `root` (the step's workdir joined with its workersrc). */
  path: string;
  directory: boolean;
  /** A directory's tar gzip-compressed. */
  compress: boolean;
  maxsize: number | null;
  /** Takes the bytes in order; the agent is acked once the promise resolves. A rejection cancels the upload. */
  write(data: Buffer): Promise<void>;
}

/** A download (protocol 3): the agent writes what `source` yields to `root/path`, whole or not at all. */
export interface DownloadSpec {
  kind: 'download';
  root: string;
  path: string;
  /** Permission bits for the file; null for the agent's default. */
  mode: number | null;
  maxsize: number | null;
  /** The bytes, pulled only as fast as the agent acknowledges them (a window of TRANSFER_WINDOW_BYTES). */
  source: AsyncIterable<Buffer>;
}

export type TransferSpec = UploadSpec | DownloadSpec;

export interface CommandExit {
  code: number | null;
  signal: string | null;
  killed: 'timeout' | 'maxTime' | 'cancel' | null;
  durationMs: number;
  /** The agent went away before the command ended. */
  lost: boolean;
  /** The agent could not run the command at all (e.g. program not found), or a transfer failed: why. */
  error: string | null;
  /** A transfer that succeeded: the bytes moved and their sha256, as the sender counted them. */
  bytes?: number;
  sha256?: string;
  /** A command's process tree: CPU seconds and peak memory, where the agent measures them (Linux). */
  resources?: CommandResources;
  /** A command sent `after` another (startAfter) that never started: that one did not exit 0, or this was cancelled first. */
  skipped?: boolean;
}

export interface RunningCommand {
  readonly done: Promise<CommandExit>;
  cancel(): void;
  /** The run's id on its agent's connection, where one is known: what startAfter() names. */
  readonly run?: string;
}

export interface AgentConnection {
  readonly name: string;
  start(spec: CommandSpec, sink: CommandSink): RunningCommand;
  /**
   * Sends a command to start on the agent the moment `before` (a command of this connection) exits
   * with code 0, without a round trip through the master (protocol 5); if `before` ends otherwise the
   * agent never starts it and it ends `skipped`. Null, sending nothing, when that cannot be done here
   * (an older agent, the agent away, `before` ended already): the caller starts the command itself
   * later. Optional: a connection without it never sends ahead.
   */
  startAfter?(before: RunningCommand, spec: CommandSpec, sink: CommandSink): RunningCommand | null;
  /** A file transfer; on an agent of protocol 2 it ends at once with an error saying to upgrade it. */
  transfer(spec: TransferSpec): RunningCommand;
}
