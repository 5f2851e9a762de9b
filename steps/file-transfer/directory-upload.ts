import { z } from 'zod';
import type { Renderable } from '../properties/interpolate.ts';
import type { StepContext } from '../step-context.ts';
import { commonStepShape, Step, type CommonStepOptions, type StepOutcome } from '../step.ts';
import { uploadStep } from './upload-step.ts';
import { artifactOption, TRANSFER_FLAGS, transferPath, transferShape } from './transfer-options.ts';

export interface DirectoryUploadOptions extends CommonStepOptions {
  /** The directory on the agent, relative to the step's workdir. */
  workersrc: Renderable<string>;
  /**
   * The folder on the master, relative to `<master basedir>/uploads` (shared by all builders): it is
   * replaced by the uploaded tree (extracted, as Buildbot does). Optional with `artifact`.
   */
  masterdest?: Renderable<string>;
  workdir?: string;
  /** Most bytes of the tar: more fails the step and leaves nothing. */
  maxsize?: number | null;
  /** `'gz'` sends the tar gzip-compressed (Buildbot's compress; bz2 is not supported). */
  compress?: 'gz' | null;
  /** Keep the tar (`.tar` or `.tar.gz`) as the build's artifact: `true` (named after the folder) or its name. */
  artifact?: boolean | string;
}

/** Agent -> master: a directory tree as a tar (Buildbot's DirectoryUpload), extracted into masterdest. */
export class DirectoryUpload extends Step<DirectoryUploadOptions> {
  readonly schema: z.ZodType = z
    .strictObject({
      ...commonStepShape,
      workdir: transferShape.workdir,
      maxsize: transferShape.maxsize,
      workersrc: transferPath,
      masterdest: transferPath.optional(),
      compress: z.literal('gz', { error: 'must be "gz" or null (bz2 is not supported)' }).nullable().optional(),
      artifact: artifactOption,
    })
    .refine((o) => o.masterdest !== undefined || (o.artifact !== undefined && o.artifact !== false), {
      message: 'masterdest is required unless the tar is kept as an artifact (artifact: true or a name)',
      path: ['masterdest'],
    });
  protected override readonly defaultFlags = TRANSFER_FLAGS;

  run(ctx: StepContext): Promise<StepOutcome> {
    return uploadStep(ctx, this.options, true);
  }
}
