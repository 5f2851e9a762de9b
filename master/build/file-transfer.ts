/**
 * The master's half of the file transfer steps (FileUpload, DirectoryUpload, FileDownload and the
 * string downloads): paths on the master, temporary files, checks, artifacts. What crosses the wire
 * is the agent session's job (master/agents/agent-session.ts, download-sender.ts).
 *
 * Paths: on the agent, `<builder dirname>/<workdir>/<workersrc|workerdest>`, checked by the agent
 * against its real builder's directory; on the master, relative to the master's upload folder
 * `<master basedir>/uploads`, checked here the same way. The folder is shared by every builder, as
 * Buildbot's master paths are: one builder uploads a binary that another builder downloads. A refused path, too many
 * bytes, a checksum that does not match: the result carries the reason (the step FAILS with it).
 *
 * Nothing partial is left: an upload is written to a temporary name beside its destination and
 * renamed once its size and sha256 match the agent's; a directory's tar is checked, then extracted
 * into a temporary folder that replaces the destination. The agent does the same for downloads.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentConnection, CommandExit, RunningCommand } from '../agents/agent-connection.ts';
import type { ArtifactsRepo } from '../db/artifacts.ts';
import type { DownloadRequest, TransferResult, UploadRequest } from '../../steps/step-context.ts';
import { ContainedPathError, destinationInside, existingInside, partialNameFor } from '../../protocol/contained-path.ts';
import { isSafeRelativePath } from '../../protocol/safe-path.ts';
import { MAX_TRANSFER_CHUNK } from '../../protocol/messages.ts';
import { errorMessage } from '../../core/error-message.ts';
import { artifactFolder, artifactUrl, keepArtifact } from './file-transfer-artifacts.ts';

/** Under the master's basedir: the folder of uploads and of the files downloads send, shared by all builders. */
export const UPLOADS_DIR = 'uploads';
const UPLOAD_FOLDER = "the master's upload folder";

export interface TransferDeps {
  agent: AgentConnection;
  /** Aborted when the build is stopped: the transfer is cancelled. */
  signal: AbortSignal;
  builderDirname: string;
  masterBasedir: string;
  buildid: number;
  stepid: number;
  artifacts: ArtifactsRepo;
  /** A line for the step's `stdio` log. */
  note(text: string): Promise<void>;
  now(): number;
}

export function uploadsFolder(masterBasedir: string): string {
  return path.join(masterBasedir, UPLOADS_DIR);
}

/** A transfer that did not happen or did not succeed. */
class Refused extends Error {}

const failed = (started: number, now: number, fields: Partial<TransferResult>): TransferResult => ({
  bytes: 0,
  sha256: null,
  durationMs: now - started,
  lost: false,
  cancelled: false,
  ...fields,
});

/** `workdir/rel` as the agent takes it, or a refusal naming the option that is wrong. */
function agentPath(workdir: string, rel: string, option: string): string {
  if (!isSafeRelativePath(workdir)) throw new Refused(`workdir "${workdir}" must be a relative path without ".."`);
  if (!isSafeRelativePath(rel)) throw new Refused(`${option} "${rel}" must be a relative path without ".." inside the step's workdir`);
  return path.posix.normalize(`${workdir}/${rel}`);
}

function describe(bytes: number, sha256: string, ms: number): string {
  const mib = bytes / (1024 * 1024);
  const rate = ms > 0 ? ` (${(mib / (ms / 1000)).toFixed(1)} MiB/s)` : '';
  return `${bytes} bytes, sha256 ${sha256}, in ${(ms / 1000).toFixed(2)} s${rate}`;
}

/** Runs the transfer on the agent, cancelled by the build's stop. */
async function runOnAgent(deps: TransferDeps, start: () => RunningCommand): Promise<CommandExit> {
  const running = start();
  const onAbort = () => running.cancel();
  if (deps.signal.aborted) running.cancel();
  else deps.signal.addEventListener('abort', onAbort);
  try {
    return await running.done;
  } finally {
    deps.signal.removeEventListener('abort', onAbort);
  }
}

/** The result of an exit that was not a success, or null when it was. */
function unsuccessful(exit: CommandExit, started: number, now: number, what: string): TransferResult | null {
  if (exit.lost) return failed(started, now, { lost: true, error: `the agent was lost during the ${what}` });
  if (exit.killed === 'cancel') return failed(started, now, { cancelled: true, error: `${what} cancelled` });
  if (exit.error) return failed(started, now, { error: exit.error });
  if (exit.code !== 0 || exit.bytes === undefined || exit.sha256 === undefined)
    return failed(started, now, { error: `the agent ended the ${what} without reporting its size and checksum` });
  return null;
}

export async function uploadFromAgent(deps: TransferDeps, req: UploadRequest): Promise<TransferResult> {
  const started = deps.now();
  const temps: string[] = [];
  try {
    return await upload(deps, req, started, temps);
  } catch (e) {
    const error = e instanceof Refused || e instanceof ContainedPathError ? e.message : `upload failed: ${errorMessage(e)}`;
    await deps.note(`upload of ${req.workersrc} refused: ${error}\n`);
    return failed(started, deps.now(), { error });
  } finally {
    for (const t of temps) await fs.promises.rm(t, { recursive: true, force: true });
  }
}

async function upload(deps: TransferDeps, req: UploadRequest, started: number, temps: string[]): Promise<TransferResult> {
  const source = agentPath(req.workdir, req.workersrc, 'workersrc');
  const folder = uploadsFolder(deps.masterBasedir);
  const target = req.masterdest === null ? null : await destinationInside(folder, req.masterdest, UPLOAD_FOLDER);
  if (target && !req.directory && (await fs.promises.lstat(target).catch(() => null))?.isDirectory())
    throw new Refused(`masterdest "${req.masterdest}" is a directory`);
  // The bytes as they arrive: beside the destination (or in the build's artifact folder), renamed once checked.
  const landing = target ?? path.join(artifactFolder(deps.masterBasedir, deps.buildid), req.artifact ?? 'upload');
  await fs.promises.mkdir(path.dirname(landing), { recursive: true });
  const partial = partialNameFor(req.directory ? `${landing}.tar` : landing, randomUUID());
  temps.push(partial);
  const file = await fs.promises.open(partial, 'w');
  const hash = createHash('sha256');
  let bytes = 0;
  let refusal: string | null = null;
  const exit = await runOnAgent(deps, () =>
    deps.agent.transfer({
      kind: 'upload',
      root: deps.builderDirname,
      path: source,
      directory: req.directory,
      compress: req.compress,
      maxsize: req.maxsize,
      // Called for each frame as it arrives, before the previous write ended: each is placed at its own offset.
      write: async (data) => {
        const offset = bytes;
        bytes += data.length;
        // The agent stops at maxsize too; this holds whatever an agent sends.
        if (req.maxsize !== null && bytes > req.maxsize)
          throw new Error((refusal = `${req.workersrc}: more than maxsize ${req.maxsize} bytes`));
        hash.update(data);
        await file.write(data, 0, data.length, offset);
      },
    }),
  ).finally(() => file.close());
  const now = deps.now();
  const what = `upload of ${req.workersrc}`;
  const notDone = refusal !== null ? failed(started, now, { error: refusal }) : unsuccessful(exit, started, now, what);
  if (notDone) {
    await deps.note(`${what} failed: ${notDone.error}\n`);
    return notDone;
  }
  const sha256 = hash.digest('hex');
  if (exit.bytes !== bytes || exit.sha256 !== sha256) {
    const error = `checksum mismatch: the agent sent ${exit.bytes} bytes with sha256 ${exit.sha256}; the master received ${bytes} bytes with sha256 ${sha256}`;
    await deps.note(`${what} failed: ${error}\n`);
    return failed(started, now, { error });
  }
  if (req.mode !== null && !req.directory) await fs.promises.chmod(partial, req.mode);
  if (target && req.directory) await extractInto(partial, target, temps);
  else if (target) await fs.promises.rename(partial, target);
  const result: TransferResult = { bytes, sha256, durationMs: deps.now() - started, lost: false, cancelled: false };
  const shown = target ? path.relative(deps.masterBasedir, target) : 'the artifacts';
  await deps.note(
    `uploaded ${req.workersrc}${req.directory ? ' (as a tar)' : ''} to ${shown}: ${describe(bytes, sha256, result.durationMs)}\n`,
  );
  if (req.artifact !== null) {
    // A directory keeps its tar; a file kept only as an artifact is moved, one also at masterdest copied.
    const keptFile = target && !req.directory ? target : partial;
    const row = await keepArtifact(deps.artifacts, {
      masterBasedir: deps.masterBasedir,
      buildid: deps.buildid,
      stepid: deps.stepid,
      name: req.artifact,
      file: keptFile,
      move: keptFile === partial,
      size: bytes,
      sha256,
      now: deps.now(),
    });
    result.artifact = { name: row.name, url: artifactUrl(deps.buildid, row.name) };
    await deps.note(`kept as artifact "${row.name}": ${result.artifact.url}\n`);
  }
  return result;
}

/**
 * Extracts a checked tar into a temporary folder beside `target`, then puts that folder in the
 * place of `target`: the destination holds exactly the uploaded tree, or what it held before.
 * tar refuses entries with absolute paths or "..", and writing through symlinks.
 */
async function extractInto(tarFile: string, target: string, temps: string[]): Promise<void> {
  const tar = await import('tar');
  const fresh = partialNameFor(`${target}.dir`, randomUUID());
  const old = partialNameFor(`${target}.old`, randomUUID());
  temps.push(fresh, old);
  await fs.promises.mkdir(fresh, { recursive: true });
  const problems: string[] = [];
  await tar.extract({
    file: tarFile,
    cwd: fresh,
    preservePaths: false,
    chmod: true,
    processUmask: 0,
    onwarn: (code, message) => problems.push(`${code}: ${message}`),
  });
  if (problems.length > 0) throw new Refused(`the directory's tar has entries that were refused: ${problems.slice(0, 3).join('; ')}`);
  if (fs.existsSync(target)) await fs.promises.rename(target, old);
  await fs.promises.rename(fresh, target);
}

export async function downloadToAgent(deps: TransferDeps, req: DownloadRequest): Promise<TransferResult> {
  const started = deps.now();
  const what = `download to ${req.workerdest}`;
  try {
    const dest = agentPath(req.workdir, req.workerdest, 'workerdest');
    const hash = createHash('sha256');
    let source: AsyncIterable<Buffer> | Iterable<Buffer>;
    if ('content' in req.source) {
      if (req.maxsize !== null && req.source.content.length > req.maxsize)
        throw new Refused(`the content is ${req.source.content.length} bytes, more than maxsize ${req.maxsize}`);
      source = [req.source.content];
    } else {
      const folder = uploadsFolder(deps.masterBasedir);
      const file = await existingInside(folder, req.source.mastersrc, UPLOAD_FOLDER);
      const size = (await fs.promises.stat(file)).size;
      if (req.maxsize !== null && size > req.maxsize)
        throw new Refused(`mastersrc "${req.source.mastersrc}" is ${size} bytes, more than maxsize ${req.maxsize}`);
      source = fs.createReadStream(file, { highWaterMark: MAX_TRANSFER_CHUNK });
    }
    let bytes = 0;
    const counted = (async function* () {
      for await (const chunk of source) {
        hash.update(chunk);
        bytes += chunk.length;
        yield chunk;
      }
    })();
    const exit = await runOnAgent(deps, () =>
      deps.agent.transfer({
        kind: 'download',
        root: deps.builderDirname,
        path: dest,
        mode: req.mode,
        maxsize: req.maxsize,
        source: counted,
      }),
    );
    const now = deps.now();
    const notDone = unsuccessful(exit, started, now, what);
    if (notDone) {
      await deps.note(`${what} failed: ${notDone.error}\n`);
      return notDone;
    }
    const sha256 = hash.digest('hex');
    if (exit.bytes !== bytes || exit.sha256 !== sha256)
      throw new Refused(`checksum mismatch: sent ${bytes} bytes with sha256 ${sha256}; the agent wrote ${exit.bytes} with ${exit.sha256}`);
    await deps.note(`downloaded to ${dest} on ${deps.agent.name}: ${describe(bytes, sha256, now - started)}\n`);
    return { bytes, sha256, durationMs: now - started, lost: false, cancelled: false };
  } catch (e) {
    const error = e instanceof Refused || e instanceof ContainedPathError ? e.message : `download failed: ${errorMessage(e)}`;
    await deps.note(`${what} refused: ${error}\n`);
    return failed(started, deps.now(), { error });
  }
}
