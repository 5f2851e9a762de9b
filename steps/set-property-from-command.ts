import { z } from 'zod';
import { Results } from '../core/results.ts';
import type { PropertyValue } from './properties/properties.ts';
import type { StepContext } from './step-context.ts';
import { ShellCommand, shellCommandShape, type ShellCommandOptions } from './shell-command.ts';
import type { StepOutcome } from './step.ts';

export interface SetPropertyFromCommandOptions extends ShellCommandOptions {
  /** Set this property to the command's stdout. */
  property?: string;
  /** Or compute several properties from the exit code and stdout. */
  extract?: (exitCode: number | null, stdout: string) => Record<string, PropertyValue>;
  /** Trim whitespace around stdout (default true). */
  strip?: boolean;
}

const propertyName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be a property name');

/** Runs a command and turns its output into build properties (only when the command succeeds). */
export class SetPropertyFromCommand extends ShellCommand<SetPropertyFromCommandOptions> {
  override readonly schema: z.ZodType = z
    .strictObject({
      ...shellCommandShape,
      property: propertyName.optional(),
      extract: z.custom((v) => typeof v === 'function', 'must be a function (exitCode, stdout) => properties').optional(),
      strip: z.boolean().optional(),
    })
    .refine((o) => (o.property === undefined) !== (o.extract === undefined), {
      message: 'needs exactly one of "property" or "extract"',
      path: ['property'],
    });

  override providedProperties(): string[] {
    return this.options.property ? [this.options.property] : [];
  }

  override async run(ctx: StepContext): Promise<StepOutcome> {
    const r = await ctx.runCommand(await this.commandRequest(ctx, { collectStdout: true }));
    const outcome = this.evaluate(r);
    if (outcome.result !== Results.SUCCESS) return outcome;
    const { property, extract, strip = true } = this.options;
    // The schema lets exactly one of property and extract through.
    let values: Record<string, PropertyValue> = {};
    if (extract) values = extract(r.exitCode, r.stdout);
    else if (property !== undefined) values = { [property]: strip ? r.stdout.trim() : r.stdout };
    ctx.properties.setAll(values, this.name);
    return { result: Results.SUCCESS, stateString: `set ${Object.keys(values).join(', ')}` };
  }
}
