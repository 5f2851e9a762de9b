/**
 * A build's artifacts (files its upload steps kept): `GET /builds/:id/artifacts` lists them,
 * `GET /builds/:id/artifacts/:name` streams one with its length and a Content-Disposition naming it.
 * The files live on the master that ran the build (master/build/file-transfer-artifacts.ts).
 */
import fs from 'node:fs';
import { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps.ts';
import type { ArtifactRow } from '../db/entities.ts';
import type { Artifact } from '../../protocol/api-types.ts';
import { NotFoundError } from '../../core/errors/index.ts';
import { artifactUrl } from '../build/file-transfer-artifacts.ts';
import { fieldsOf, found, idParam, idPath, parseParams } from './params.ts';
import { seconds, sendPage } from './respond.ts';

export function presentArtifact(a: ArtifactRow, step: string | null): Artifact {
  return {
    artifactid: a.id,
    buildid: a.buildid,
    stepid: a.stepid,
    step,
    name: a.name,
    size: a.size,
    sha256: a.sha256,
    url: artifactUrl(a.buildid, a.name),
    created_at: seconds(a.created_at),
  };
}

const buildPath = idPath('build id');
const artifactPath = z.object({ id: idParam('build id'), name: z.string().min(1).max(200) });

/** `filename` for Content-Disposition: the plain form for old clients, RFC 5987's for any name. */
function disposition(name: string): string {
  const ascii = name.replace(/[^A-Za-z0-9_.+-]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export function artifactsRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/builds/:id/artifacts', async (req, res) => {
    const { id: buildid } = parseParams(req, buildPath);
    found(await deps.repos.builds.get(buildid), `build ${buildid}`);
    const rows = await deps.repos.artifacts.ofBuild(buildid);
    const steps = new Map<number, string | null>();
    for (const row of rows) if (!steps.has(row.stepid)) steps.set(row.stepid, (await deps.repos.steps.get(row.stepid))?.name ?? null);
    const items = rows.map((row) => presentArtifact(row, steps.get(row.stepid) ?? null));
    sendPage(res, 'artifacts', items, items.length, fieldsOf(req.query));
  });
  r.get('/builds/:id/artifacts/:name', async (req, res) => {
    const { id: buildid, name } = parseParams(req, artifactPath);
    const row = found(await deps.repos.artifacts.byName(buildid, name), `artifact "${name}" of build ${buildid}`);
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(row.path);
    } catch {
      throw new NotFoundError(`artifact "${name}" of build ${buildid}: its file is not on this master`);
    }
    res.status(200);
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(stat.size));
    res.setHeader('Content-Disposition', disposition(name));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Digest', `sha-256=${Buffer.from(row.sha256, 'hex').toString('base64')}`);
    const stream = fs.createReadStream(row.path);
    await new Promise<void>((resolve) => {
      stream.on('error', () => {
        res.destroy(); // the length was promised: a cut answer, not a short one that looks whole
        resolve();
      });
      res.on('close', () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(res);
    });
  });
  return r;
}
