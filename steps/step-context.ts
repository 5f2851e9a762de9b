/**
 * What a step sees while it runs. The build runner implements it; steps never reach the database,
 * the agent connection or the event bus directly.
 */
import type { Properties } from './properties/properties.ts';
import type { CaptureOptions } from '../metrics/capture-options.ts';
import type { Baseline } from '../metrics/regression.ts';
import type { Result } from '../core/results.ts';

export interface CommandRequest {
  /** argv (run without a shell) or a string (run with `sh -c`). */
  command: string | string[];
  /** Relative to the builder's directory on the agent. */
  workdir: string;
  env: Record<string, string>;
  /** Seconds without output before the command is killed; null for never. */
  timeout: number | null;
  /** Seconds between SIGTERM and SIGKILL when the command is killed; the agent's own grace when unset. */
  sigtermTime?: number;
  /** Seconds of wall time before the command is killed; null for never. */
  maxTime: number | null;
  /** Log that receives the output; created if missing. Default `stdio`. */
  logName?: string;
  /** Also hand stdout back as text (for steps that parse it). */
  collectStdout?: boolean;
  /** Written (masked) into the log as header lines before the output: what ran, its environment. */
  header?: string;
}

export interface CommandResult {
  exitCode: number | null;
  signal: string | null;
  /** Set when the command was killed, and why. */
  killed: 'timeout' | 'maxTime' | 'cancel' | null;
  /** The agent went away before the command finished. */
  lost: boolean;
  durationMs: number;
  stdout: string;
  /** The agent could not run the command at all (e.g. program not found). */
  error?: string;
}

/** A build request a Trigger step made, and (once known) how it ended. */
export interface TriggeredRequest {
  builder: string;
  buildrequestid: number;
  /** The request's result once it completed; null while it has not (or when not waited for). */
  results: Result | null;
}

/** Agent -> master: a file, or a directory as a tar (FileUpload, DirectoryUpload). */
export interface UploadRequest {
  /** The step's workdir, relative to the builder's directory on the agent. */
  workdir: string;
  /** Relative to `workdir`; it may not leave the builder's directory (no "..", no symlink out). */
  workersrc: string;
  /** Relative to the master's upload folder; null to keep it only as an artifact. */
  masterdest: string | null;
  directory: boolean;
  /** A directory's tar gzip-compressed (DirectoryUpload `compress: 'gz'`). */
  compress: boolean;
  /** Bytes; more fails the step and leaves nothing. Null for no limit. */
  maxsize: number | null;
  /** Permission bits of the uploaded file on the master (files only); null for the default. */
  mode: number | null;
  /** Keep what was uploaded (the file, or the directory's tar) as the build's artifact of this name. */
  artifact: string | null;
}

/** Master -> agent: a file from the master's upload folder, or bytes (StringDownload …). */
export interface DownloadRequest {
  workdir: string;
  /** Relative to `workdir`; it may not leave the builder's directory. */
  workerdest: string;
  /** Relative to the master's upload folder, or the content itself. */
  source: { mastersrc: string } | { content: Buffer };
  mode: number | null;
  maxsize: number | null;
}

/** How a transfer ended. Nothing partial is left where it failed: files appear whole or not at all. */
export interface TransferResult {
  /** Bytes moved and their sha256, checked by the receiver; 0 and null when it failed. */
  bytes: number;
  sha256: string | null;
  durationMs: number;
  /** The agent went away (the step should end RETRY). */
  lost: boolean;
  /** Stopped by the build's stop (CANCELLED). */
  cancelled: boolean;
  /** Why it was refused or failed: a path leaving its folder, too large, a checksum mismatch, … */
  error?: string;
  /** The artifact kept, when the upload asked for one. */
  artifact?: { name: string; url: string };
}

export interface LogHandle {
  append(text: string): Promise<void>;
  finish(): Promise<void>;
}

export interface StepContext {
  readonly builderName: string;
  readonly buildNumber: number;
  readonly agentName: string;
  readonly properties: Properties;
  /** Aborted when the build is stopped. */
  readonly signal: AbortSignal;
  runCommand(request: CommandRequest): Promise<CommandResult>;
  /**
   * Runs a command on the master itself (MasterShellCommand), in a process group of its own killed
   * on stop or timeout. `workdir` is relative to the builder's folder on the master:
   * `<master basedir>/master-workdir/<builder dirname>`. Output goes into the log as an agent's does.
   */
  runOnMaster(request: CommandRequest): Promise<CommandResult>;
  /**
   * File transfer over the agent's connection (protocol 3), with flow control and a sha256 check.
   * Paths on the agent stay in the builder's directory; on the master in its upload folder
   * `<master basedir>/uploads`, shared by all builders. A summary (or why it failed) goes to the `stdio` log.
   */
  uploadFromAgent(request: UploadRequest): Promise<TransferResult>;
  downloadToAgent(request: DownloadRequest): Promise<TransferResult>;
  addLog(name: string): Promise<LogHandle>;
  /** Stored with secrets masked, cut to 500 characters. */
  setStateString(text: string): Promise<void>;
  /**
   * Captures a value this step measured, tagged with the build's builder, this step and the agent
   * (plus `options.tags`); a builder's trackCustomStep can rename the series and add tags. A secret
   * in the series name or a tag name is replaced by MASKED (noted in the step's `stdio` log), in a
   * tag value by the mask.
   */
  captureData(name: string, value: number, options?: CaptureOptions): Promise<void>;
  /** How `value` compares with this series over the builder's last successful builds. */
  regression(series: string, value: number): Promise<{ baseline: Baseline; score: number } | null>;
  /** Requests builds of a triggerable scheduler's builders, linked to this build's changes. */
  trigger(schedulerName: string, properties: Record<string, unknown>): Promise<TriggeredRequest[]>;
  /** Waits until the requests complete, or the build is stopped (those still going have `results` null). */
  waitFor(requests: TriggeredRequest[]): Promise<TriggeredRequest[]>;
}
