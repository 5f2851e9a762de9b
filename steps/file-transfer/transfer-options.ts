/**
 * What the file transfer steps share: their options' schemas, how a rendered path or name is checked,
 * and how a transfer's result becomes the step's (a refusal or failure is FAILURE, never EXCEPTION;
 * a lost agent RETRY; a stop CANCELLED). Like Buildbot's transfer steps, they halt the build when
 * they fail.
 */
import path from 'node:path';
import { z } from 'zod';
import { Results } from '../../core/results.ts';
import { isSafeRelativePath } from '../../protocol/safe-path.ts';
import { isInterpolate, render, type PropertyReader, type Renderable } from '../properties/interpolate.ts';
import type { StepContext, TransferResult } from '../step-context.ts';
import { FLUNKING_FLAGS, type StepOutcome } from '../step.ts';
import type { ResultFlags } from '../../core/results.ts';

/** An artifact's name: one path segment, as a URL and a file system both take it. */
export const ARTIFACT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,199}$/;
const ARTIFACT_NAME_RULE = 'letters, digits, "_", ".", "+" or "-", not starting with "." or "-", at most 200';

/** Buildbot's transfer steps fail the build and halt it. */
export const TRANSFER_FLAGS: ResultFlags = { ...FLUNKING_FLAGS, haltOnFailure: true };

const RELATIVE_RULE = 'must be a relative path without ".." (it may not leave its folder)';

/** A path option: a relative string without "..", or a renderable checked once rendered. */
export const transferPath = z.union([
  z.string().min(1).refine(isSafeRelativePath, RELATIVE_RULE),
  z.custom((v) => isInterpolate(v) || typeof v === 'function', 'must be a string, interpolate(...) or a function'),
]);

export const transferShape = {
  /** The step's workdir on the agent, relative to the builder's directory. Default `build`. */
  workdir: z.string().refine(isSafeRelativePath, 'must be a relative path without ".."').optional(),
  mode: z.number().int().min(0).max(0o7777).nullable().optional(),
  maxsize: z.number().int().positive().nullable().optional(),
};

export const artifactOption = z.union([z.boolean(), z.string().regex(ARTIFACT_NAME, ARTIFACT_NAME_RULE)]).optional();

export interface TransferCommonOptions {
  /** Relative to the builder's directory on the agent. Default `build`. */
  workdir?: string;
  /** Permission bits of the written file, e.g. 0o755. */
  mode?: number | null;
  /** Most bytes allowed: more fails the step and leaves no file. */
  maxsize?: number | null;
}

/** A rendered path: a problem the step reports as FAILURE (with the option's name), or the path. */
export async function renderPath(value: Renderable<string>, props: PropertyReader, option: string): Promise<string | { error: string }> {
  const rendered = String(await render(value, props));
  if (!isSafeRelativePath(rendered)) return { error: `${option} "${rendered}" ${RELATIVE_RULE}` };
  return rendered;
}

/** The artifact's name: given, or the uploaded file's name (a directory's with the tar's extension). */
export function artifactName(option: boolean | string | undefined, uploaded: string, suffix = ''): string | null | { error: string } {
  if (option === undefined || option === false) return null;
  const name = option === true ? `${path.posix.basename(path.posix.normalize(`/${uploaded}`)) || 'upload'}${suffix}` : option;
  if (!ARTIFACT_NAME.test(name)) return { error: `artifact name "${name}" must be ${ARTIFACT_NAME_RULE} characters` };
  return name;
}

export function transferOutcome(r: TransferResult, done: string): StepOutcome {
  if (r.lost) return { result: Results.RETRY, stateString: 'agent lost' };
  if (r.cancelled) return { result: Results.CANCELLED, stateString: 'cancelled' };
  if (r.error !== undefined) return { result: Results.FAILURE, stateString: r.error };
  return { result: Results.SUCCESS, stateString: done };
}

/** A refusal found before anything moved (a rendered path or name): FAILURE, and the log says why. */
export async function refuse(ctx: StepContext, what: 'upload' | 'download', error: string): Promise<StepOutcome> {
  const log = await ctx.addLog('stdio');
  await log.append(`${what} refused: ${error}\n`);
  return { result: Results.FAILURE, stateString: error };
}
