import { z } from 'zod';
import type { StepContext } from './step-context.ts';
import { ShellCommand, shellCommandShape, type ShellCommandOptions } from './shell-command.ts';
import type { StepOutcome } from './step.ts';

export type MasterShellCommandOptions = ShellCommandOptions;

/**
 * Runs a command on the master, not on the agent (Buildbot's MasterShellCommand): in
 * `<master basedir>/master-workdir/<builder dirname>/<workdir>` (default workdir `build`), with the
 * master's environment plus `env`. Its output lands in the step's `stdio` log, masked like an agent's;
 * a stop or a timeout kills its process group; the exit code decides the result as ShellCommand's.
 */
export class MasterShellCommand extends ShellCommand<MasterShellCommandOptions> {
  override readonly schema: z.ZodType = z.strictObject(shellCommandShape);

  override async run(ctx: StepContext): Promise<StepOutcome> {
    const result = await ctx.runOnMaster(await this.commandRequest(ctx));
    return this.evaluate(result);
  }
}
