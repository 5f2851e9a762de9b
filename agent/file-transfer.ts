/**
 * File transfer on the agent (protocol 3): where a transfer's path may lead, and what every run the
 * agent carries (a command, an upload, a download) offers the agent's connection code.
 *
 * A path is `root/path`: `root` is the builder's directory, `path` the step's workdir joined with
 * its workersrc or workerdest. The master sends only relative paths without ".." (the protocol
 * refuses others), but a symlink inside the builder's directory can still point out of it: so the
 * real path (symlinks resolved) is checked here, where the files are, before anything is read or
 * written (protocol/contained-path.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  ContainedPathError,
  destinationInside,
  existingInside,
  partialNameFor,
  type ContainedPathProblem,
} from '../protocol/contained-path.ts';
import { CommandErrorCode } from '../protocol/reject-codes.ts';

/** What the agent needs of each run it carries, whatever it does (agent.ts). */
export interface AgentRun {
  /** The seq of the next output frame it would send (the hello lists it after a reconnect). */
  readonly nextSeq: number;
  /** Resolves once the run has ended here and its exit was sent (or it was abandoned). */
  readonly finished: Promise<void>;
  /** Sends again what the master has not acknowledged: after a reconnect. */
  resend(): void;
  /** The master stored everything up to `seq`; an ack of the exit's seq ends the run. */
  ack(seq: number): void;
  cancel(): void;
  /** The master no longer follows the run: stop it, leave nothing half-written, send nothing more. */
  abandon(): void;
}

/** A transfer refused or failed, with the code the agent reports it under. */
export class TransferError extends Error {
  constructor(
    readonly code: CommandErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TransferError';
  }
}

const BUILDER_DIR = "the builder's directory";

/** The codes the agent reports a refused path under. */
const CODE_OF: Record<ContainedPathProblem, CommandErrorCode> = {
  unsafe: CommandErrorCode.PathRefused,
  outside: CommandErrorCode.PathRefused,
  missing: CommandErrorCode.NotFound,
  'wrong-type': CommandErrorCode.NotFound,
};

/** An upload's source: an existing file (or directory) really inside the builder's directory `root`. */
export function resolveSource(basedir: string, root: string, rel: string, directory: boolean): Promise<string> {
  return existingInside(path.resolve(basedir, root), rel, BUILDER_DIR, directory);
}

/** A download's destination, its parents created, really inside the builder's directory (made if missing). */
export async function resolveDestination(basedir: string, root: string, rel: string): Promise<string> {
  const target = await destinationInside(path.resolve(basedir, root), rel, BUILDER_DIR);
  const stat = await fs.promises.lstat(target).catch(() => null);
  if (stat?.isDirectory()) throw new TransferError(CommandErrorCode.PathRefused, `${rel} is a directory`);
  return target;
}

export { partialNameFor as tempNameFor };

/** How a failure is reported: a TransferError's code, a refused path's, else an I/O error. */
export function transferFailure(e: unknown): TransferError {
  if (e instanceof TransferError) return e;
  if (e instanceof ContainedPathError) return new TransferError(CODE_OF[e.problem], e.message);
  return new TransferError(CommandErrorCode.IoError, e instanceof Error ? e.message : String(e));
}
