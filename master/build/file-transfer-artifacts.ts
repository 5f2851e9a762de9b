/**
 * Build artifacts on disk and in the database: a file an upload step kept is moved under
 * `<master basedir>/artifacts/<buildid>/<name>` and recorded (master/db/artifacts.ts); the API lists
 * and serves them (master/api/artifacts.ts). removeBuildArtifacts() is what the build retention
 * janitor calls to forget a build: its files, then its rows.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ArtifactsRepo } from '../db/artifacts.ts';
import type { ArtifactRow } from '../db/entities.ts';
import { ARTIFACT_NAME } from '../../steps/file-transfer/transfer-options.ts';

/** Under the master's basedir: one folder per build that kept artifacts. */
export const ARTIFACTS_DIR = 'artifacts';

export function artifactFolder(masterBasedir: string, buildid: number): string {
  return path.join(masterBasedir, ARTIFACTS_DIR, String(buildid));
}

/** Where the API serves an artifact. */
export function artifactUrl(buildid: number, name: string): string {
  return `/api/v2/builds/${buildid}/artifacts/${encodeURIComponent(name)}`;
}

export interface KeepArtifact {
  masterBasedir: string;
  buildid: number;
  stepid: number;
  name: string;
  /** The checked file to keep: moved (renamed) when `move`, else copied. */
  file: string;
  move: boolean;
  size: number;
  sha256: string;
  now: number;
}

/**
 * Keeps `file` as the build's artifact `name`. The row is written first (its unique name refuses a
 * second artifact of that name in the build), then the file put in place; if that fails the row goes.
 */
export async function keepArtifact(repo: ArtifactsRepo, a: KeepArtifact): Promise<ArtifactRow> {
  if (!ARTIFACT_NAME.test(a.name))
    throw new Error(`artifact name "${a.name}" must be letters, digits, "_", ".", "+" or "-" (not starting with "." or "-")`);
  const folder = artifactFolder(a.masterBasedir, a.buildid);
  const target = path.join(folder, a.name);
  if (await repo.byName(a.buildid, a.name)) throw new Error(`this build already has an artifact named "${a.name}"`);
  const row = await repo.create({
    buildid: a.buildid,
    stepid: a.stepid,
    name: a.name,
    path: target,
    size: a.size,
    sha256: a.sha256,
    created_at: a.now,
  });
  try {
    await fs.promises.mkdir(folder, { recursive: true });
    if (a.move) await fs.promises.rename(a.file, target);
    else await fs.promises.copyFile(a.file, target);
  } catch (e) {
    await repo.deleteOne(row.id).catch(() => {});
    throw e;
  }
  return row;
}

/**
 * Removes a build's artifacts: their files (and the build's artifact folder), then their rows. For
 * the retention janitor (issue 15); safe to call again, and for a build without artifacts.
 */
export async function removeBuildArtifacts(repo: ArtifactsRepo, buildid: number, masterBasedir?: string): Promise<number> {
  const rows = await repo.ofBuild(buildid);
  for (const row of rows) await fs.promises.rm(row.path, { force: true });
  const folders = new Set(rows.map((r) => path.dirname(r.path)));
  if (masterBasedir !== undefined) folders.add(artifactFolder(masterBasedir, buildid));
  for (const folder of folders) await fs.promises.rm(folder, { recursive: true, force: true });
  await repo.deleteOfBuild(buildid);
  return rows.length;
}
