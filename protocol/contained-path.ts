/**
 * The safe-path rule where the files are: a relative path without ".." (safe-path.ts) can still lead
 * out of its folder through a symlink inside it. File transfer checks the real path (symlinks
 * resolved) on the side that reads or writes: the agent for its builder's directory, the master for
 * the builder's upload folder. Both use these two functions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isSafeRelativePath } from './safe-path.ts';

export type ContainedPathProblem = 'unsafe' | 'outside' | 'missing' | 'wrong-type';

/** A path refused, with why (the agent reports it under a code, the master in the step's log). */
export class ContainedPathError extends Error {
  constructor(
    readonly problem: ContainedPathProblem,
    message: string,
  ) {
    super(message);
    this.name = 'ContainedPathError';
  }
}

/** Whether `p` is `root` or inside it (both absolute). */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

const errnoOf = (e: unknown): string | undefined => (e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined);

function checkSyntax(rel: string, folder: string): void {
  if (!isSafeRelativePath(rel)) throw new ContainedPathError('unsafe', `"${rel}" must be a relative path without ".." inside ${folder}`);
}

async function realFolder(root: string, folder: string, create: boolean): Promise<string> {
  if (create) await fs.promises.mkdir(root, { recursive: true });
  try {
    return await fs.promises.realpath(root);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') throw new ContainedPathError('missing', `${folder} (${root}) does not exist`);
    throw e;
  }
}

/**
 * The real path of an existing file (or directory, when `directory`) at `root/rel`; refused when it
 * really lies outside `root`. `folder` names the root in messages ("the builder's directory").
 */
export async function existingInside(root: string, rel: string, folder: string, directory = false): Promise<string> {
  checkSyntax(rel, folder);
  const rootReal = await realFolder(root, folder, false);
  let real: string;
  try {
    real = await fs.promises.realpath(path.resolve(rootReal, rel));
  } catch (e) {
    if (errnoOf(e) === 'ENOENT')
      throw new ContainedPathError('missing', `${rel}: no such ${directory ? 'directory' : 'file'} in ${folder}`);
    throw e;
  }
  if (!isInside(rootReal, real)) throw new ContainedPathError('outside', `${rel} leads to ${real}, outside ${folder} (${rootReal})`);
  const stat = await fs.promises.stat(real);
  if (directory ? !stat.isDirectory() : !stat.isFile())
    throw new ContainedPathError('wrong-type', `${rel} is not a ${directory ? 'directory' : 'regular file'}`);
  return real;
}

/**
 * Where to write `root/rel`: its parent directories are created, and the deepest one that existed
 * must really be inside `root` (a symlinked directory pointing out is refused). The file itself is
 * then replaced by a rename, which never follows a symlink in its place. `root` is created if missing.
 */
export async function destinationInside(root: string, rel: string, folder: string): Promise<string> {
  checkSyntax(rel, folder);
  const rootReal = await realFolder(root, folder, true);
  const wanted = path.resolve(rootReal, rel);
  if (wanted === rootReal) throw new ContainedPathError('wrong-type', `"${rel}" names ${folder} itself`);
  const parent = path.dirname(wanted);
  let existing = parent;
  while (!fs.existsSync(existing)) existing = path.dirname(existing);
  const refuse = (through: string) => new ContainedPathError('outside', `${rel} leads through ${through}, outside ${folder} (${rootReal})`);
  const existingReal = await fs.promises.realpath(existing);
  if (!isInside(rootReal, existingReal)) throw refuse(existingReal);
  await fs.promises.mkdir(parent, { recursive: true });
  const parentReal = await fs.promises.realpath(parent);
  if (!isInside(rootReal, parentReal)) throw refuse(parentReal);
  return path.join(parentReal, path.basename(wanted));
}

/** A temporary name beside `target`, written before the rename that makes the file appear whole. */
export function partialNameFor(target: string, id: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.caliper-${id.replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}.part`);
}
