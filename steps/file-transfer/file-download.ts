import { z } from 'zod';
import type { Renderable } from '../properties/interpolate.ts';
import type { StepContext } from '../step-context.ts';
import { commonStepShape, Step, type CommonStepOptions, type StepOutcome } from '../step.ts';
import {
  refuse,
  renderPath,
  TRANSFER_FLAGS,
  transferOutcome,
  transferPath,
  transferShape,
  type TransferCommonOptions,
} from './transfer-options.ts';

export interface FileDownloadOptions extends CommonStepOptions, TransferCommonOptions {
  /** The file on the master, relative to `<master basedir>/uploads` (shared by all builders). */
  mastersrc: Renderable<string>;
  /** Where on the agent, relative to the step's workdir. */
  workerdest: Renderable<string>;
}

/** Master -> agent: one file (Buildbot's FileDownload), checked by size and sha256 on the agent. */
export class FileDownload extends Step<FileDownloadOptions> {
  readonly schema: z.ZodType = z.strictObject({ ...commonStepShape, ...transferShape, mastersrc: transferPath, workerdest: transferPath });
  protected override readonly defaultFlags = TRANSFER_FLAGS;

  async run(ctx: StepContext): Promise<StepOutcome> {
    const o = this.options;
    const mastersrc = await renderPath(o.mastersrc, ctx.properties, 'mastersrc');
    if (typeof mastersrc !== 'string') return refuse(ctx, 'download', mastersrc.error);
    const workerdest = await renderPath(o.workerdest, ctx.properties, 'workerdest');
    if (typeof workerdest !== 'string') return refuse(ctx, 'download', workerdest.error);
    const result = await ctx.downloadToAgent({
      workdir: o.workdir ?? 'build',
      workerdest,
      source: { mastersrc },
      mode: o.mode ?? null,
      maxsize: o.maxsize ?? null,
    });
    return transferOutcome(result, `downloaded ${workerdest}`);
  }
}
