import { z } from 'zod';
import type { Renderable } from '../properties/interpolate.ts';
import type { StepContext } from '../step-context.ts';
import { commonStepShape, Step, type CommonStepOptions, type StepOutcome } from '../step.ts';
import { uploadStep } from './upload-step.ts';
import { artifactOption, TRANSFER_FLAGS, transferPath, transferShape, type TransferCommonOptions } from './transfer-options.ts';

export interface FileUploadOptions extends CommonStepOptions, TransferCommonOptions {
  /** The file on the agent, relative to the step's workdir. */
  workersrc: Renderable<string>;
  /** Where on the master, relative to `<master basedir>/uploads` (shared by all builders); optional with `artifact`. */
  masterdest?: Renderable<string>;
  /** Keep the file as the build's artifact: `true` (named after the file) or its name. */
  artifact?: boolean | string;
}

/** Agent -> master: one file (Buildbot's FileUpload), checked by size and sha256. */
export class FileUpload extends Step<FileUploadOptions> {
  readonly schema: z.ZodType = z
    .strictObject({
      ...commonStepShape,
      ...transferShape,
      workersrc: transferPath,
      masterdest: transferPath.optional(),
      artifact: artifactOption,
    })
    .refine((o) => o.masterdest !== undefined || (o.artifact !== undefined && o.artifact !== false), {
      message: 'masterdest is required unless the file is kept as an artifact (artifact: true or a name)',
      path: ['masterdest'],
    });
  protected override readonly defaultFlags = TRANSFER_FLAGS;

  run(ctx: StepContext): Promise<StepOutcome> {
    return uploadStep(ctx, this.options, false);
  }
}
