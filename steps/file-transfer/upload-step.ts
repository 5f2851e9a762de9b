/** What FileUpload and DirectoryUpload do once their options are checked: render, upload, judge. */
import type { Renderable } from '../properties/interpolate.ts';
import type { StepContext } from '../step-context.ts';
import type { StepOutcome } from '../step.ts';
import { artifactName, refuse, renderPath, transferOutcome } from './transfer-options.ts';

interface UploadOptions {
  workersrc: Renderable<string>;
  masterdest?: Renderable<string>;
  workdir?: string;
  mode?: number | null;
  maxsize?: number | null;
  compress?: 'gz' | null;
  artifact?: boolean | string;
}

export async function uploadStep(ctx: StepContext, o: UploadOptions, directory: boolean): Promise<StepOutcome> {
  const workersrc = await renderPath(o.workersrc, ctx.properties, 'workersrc');
  if (typeof workersrc !== 'string') return refuse(ctx, 'upload', workersrc.error);
  const masterdest = o.masterdest === undefined ? null : await renderPath(o.masterdest, ctx.properties, 'masterdest');
  if (masterdest !== null && typeof masterdest !== 'string') return refuse(ctx, 'upload', masterdest.error);
  const compress = directory && o.compress === 'gz';
  const artifact = artifactName(o.artifact, masterdest ?? workersrc, directory ? (compress ? '.tar.gz' : '.tar') : '');
  if (artifact !== null && typeof artifact !== 'string') return refuse(ctx, 'upload', artifact.error);
  const result = await ctx.uploadFromAgent({
    workdir: o.workdir ?? 'build',
    workersrc,
    masterdest,
    directory,
    compress,
    maxsize: o.maxsize ?? null,
    mode: o.mode ?? null,
    artifact,
  });
  return transferOutcome(result, `uploaded ${workersrc}`);
}
